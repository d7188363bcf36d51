"""Ironic's node state strings, verbatim, and the sets the API and conductor test against.

Clients (the ``baremetal`` CLI, openstacksdk, metalsmith, Nova) compare these strings literally,
so they must never be reworded. Transitions between them live in :mod:`ingot.fsm`.
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------------------------------------
# Provision states
# ---------------------------------------------------------------------------------------------

NOSTATE: Final = None
"""No state: ``target_provision_state`` and ``power_state`` show JSON ``null`` when unknown.

Before Kilo, ``None`` also meant "available"; old clients may still send or expect it.
"""

ENROLL: Final = "enroll"
VERIFYING: Final = "verifying"
MANAGEABLE: Final = "manageable"
AVAILABLE: Final = "available"
ACTIVE: Final = "active"
ERROR: Final = "error"

INSPECTING: Final = "inspecting"
INSPECTWAIT: Final = "inspect wait"
INSPECTFAIL: Final = "inspect failed"

CLEANING: Final = "cleaning"
CLEANWAIT: Final = "clean wait"
CLEANFAIL: Final = "clean failed"
CLEANHOLD: Final = "clean hold"

DEPLOYING: Final = "deploying"
DEPLOYWAIT: Final = "wait call-back"
DEPLOYFAIL: Final = "deploy failed"
DEPLOYHOLD: Final = "deploy hold"

DELETING: Final = "deleting"

RESCUING: Final = "rescuing"
RESCUEWAIT: Final = "rescue wait"
RESCUEFAIL: Final = "rescue failed"
RESCUE: Final = "rescue"
UNRESCUING: Final = "unrescuing"
UNRESCUEFAIL: Final = "unrescue failed"

ADOPTING: Final = "adopting"
ADOPTFAIL: Final = "adopt failed"

SERVICING: Final = "servicing"
SERVICEWAIT: Final = "service wait"
SERVICEFAIL: Final = "service failed"
SERVICEHOLD: Final = "service hold"

# Not provision states a node rests in, but strings Ironic exposes:
DELETED: Final = "deleted"
"""API verb alias of ``undeploy``; Juno showed it as ``target_provision_state``."""
DEPLOYDONE: Final = "deploy complete"
"""Juno's ``target_provision_state`` while deploying; Kilo and later show ``active``."""

STABLE_STATES: Final = frozenset({ENROLL, MANAGEABLE, AVAILABLE, ACTIVE, ERROR, RESCUE})
"""States a node leaves only when asked; ``target_provision_state`` is ``null`` in them."""

ALL_STATES: Final = frozenset(
    {
        *STABLE_STATES,
        VERIFYING,
        INSPECTING,
        INSPECTWAIT,
        INSPECTFAIL,
        CLEANING,
        CLEANWAIT,
        CLEANFAIL,
        CLEANHOLD,
        DEPLOYING,
        DEPLOYWAIT,
        DEPLOYFAIL,
        DEPLOYHOLD,
        DELETING,
        RESCUING,
        RESCUEWAIT,
        RESCUEFAIL,
        UNRESCUING,
        UNRESCUEFAIL,
        ADOPTING,
        ADOPTFAIL,
        SERVICING,
        SERVICEWAIT,
        SERVICEFAIL,
        SERVICEHOLD,
    }
)
"""Every provision state a node can be in."""

UNSTABLE_STATES: Final = frozenset(
    {
        DEPLOYING,
        DEPLOYWAIT,
        CLEANING,
        CLEANWAIT,
        VERIFYING,
        DELETING,
        INSPECTING,
        INSPECTWAIT,
        ADOPTING,
        RESCUING,
        RESCUEWAIT,
        UNRESCUING,
        SERVICING,
        SERVICEWAIT,
    }
)
"""States the conductor moves a node out of without a request (Ironic's UNSTABLE_STATES)."""

FAILURE_STATES: Final = frozenset(
    {DEPLOYFAIL, CLEANFAIL, INSPECTFAIL, RESCUEFAIL, UNRESCUEFAIL, ADOPTFAIL, SERVICEFAIL}
)
"""Failed operations waiting for the operator; ``last_error`` says why."""

HOLD_STATES: Final = frozenset({CLEANHOLD, DEPLOYHOLD, SERVICEHOLD})
"""A ``hold`` step paused the operation; the operator sends ``unhold`` or ``abort``."""

WAIT_TIMEOUTS: Final = {
    DEPLOYWAIT: "deploy_callback_timeout",
    CLEANWAIT: "clean_callback_timeout",
    INSPECTWAIT: "inspect_wait_timeout",
    RESCUEWAIT: "rescue_callback_timeout",
    SERVICEWAIT: "service_callback_timeout",
}
"""Callback-wait states and the ``[conductor]`` setting bounding each (Ironic default 1800 s).

When the timeout passes, the conductor fails the node (event ``fail``) with ``last_error``.
"""

WAIT_STATES: Final = frozenset(WAIT_TIMEOUTS)
"""States in which the conductor waits for the agent (or a person) to call back."""

STUCK_STATES_TREATED_AS_FAIL: Final = frozenset(
    {
        DEPLOYING,
        CLEANING,
        VERIFYING,
        INSPECTING,
        ADOPTING,
        RESCUING,
        UNRESCUING,
        DELETING,
        SERVICING,
    }
)
"""Work that a dead conductor cannot resume: on takeover the node is failed, not continued."""

DELETE_ALLOWED_STATES: Final = frozenset({MANAGEABLE, ENROLL, ADOPTFAIL})
"""States in which ``DELETE /v1/nodes/{node}`` is allowed without maintenance.

Ironic adds ``available`` when ``[conductor] allow_deleting_available_nodes`` is true (its
default), and allows any state in maintenance; the API applies those rules.
"""

UPDATE_ALLOWED_STATES: Final = frozenset(
    {
        DEPLOYFAIL,
        INSPECTING,
        INSPECTFAIL,
        INSPECTWAIT,
        CLEANFAIL,
        ERROR,
        VERIFYING,
        ADOPTFAIL,
        RESCUEFAIL,
        UNRESCUEFAIL,
        SERVICEHOLD,
        SERVICEFAIL,
    }
)
"""Unstable or failed states in which PATCH of a node is still allowed (stable states always are).

Ironic lists INSPECTING for backwards compatibility; from API 1.39 it refuses updates there.
Ironic also lists SERVICE ("service"), which is a verb, not a state a node can be in.
"""

INTERFACE_UPDATE_ALLOWED_STATES: Final = frozenset(
    {ENROLL, INSPECTING, INSPECTWAIT, MANAGEABLE, AVAILABLE}
)
"""States in which ``driver``, ``*_interface`` and ``resource_class`` may change.

Changing the hardware under a deployed or busy node would strand it. Ironic also allows interface
changes in any state while the node is in maintenance; the API applies that exception.
"""

LOOKUP_ALLOWED_STATES: Final = frozenset(
    {DEPLOYING, DEPLOYWAIT, CLEANING, CLEANWAIT, INSPECTING, INSPECTWAIT, RESCUING, RESCUEWAIT,
     SERVICEWAIT}
)  # fmt: skip
"""States in which the agent's ``GET /v1/lookup`` finds the node."""

FASTTRACK_LOOKUP_ALLOWED_STATES: Final = LOOKUP_ALLOWED_STATES | {
    ENROLL,
    MANAGEABLE,
    AVAILABLE,
    SERVICING,
    SERVICEHOLD,
}
"""Lookup states when fast track (agent stays up between operations) is on."""

# ---------------------------------------------------------------------------------------------
# Power states
# ---------------------------------------------------------------------------------------------

POWER_ON: Final = "power on"
POWER_OFF: Final = "power off"
REBOOT: Final = "rebooting"
SOFT_REBOOT: Final = "soft rebooting"
SOFT_POWER_OFF: Final = "soft power off"
POWER_ERROR: Final = "error"
"""Ironic records ``power_state: "error"`` when a power action failed and the state is unknown."""

POWER_STATES: Final = frozenset({POWER_ON, POWER_OFF, POWER_ERROR})
"""Values ``power_state`` can read back; ``null`` (NOSTATE) when never read."""

POWER_TARGETS: Final = frozenset({POWER_ON, POWER_OFF, REBOOT, SOFT_REBOOT, SOFT_POWER_OFF})
"""Values accepted as ``target`` by ``PUT /v1/nodes/{node}/states/power``."""
