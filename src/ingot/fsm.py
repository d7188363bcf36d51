"""The node provision state machine: one table of transitions, the same as Ironic's.

Each row is ``(source state, event, target state, who)``. ``who`` is ``user`` when an API verb
(``PUT /v1/nodes/{node}/states/provision``) may fire the event, ``conductor`` when only the
conductor fires it as the outcome of its work (``done``, ``fail``, ``wait``, ``resume``, ``hold``,
and Ironic's internal ``clean`` after tear-down and ``manage`` at the end of manual cleaning).

``target_provision_state`` is recorded when a verb is accepted (:func:`begin`) and carried through
the unstable states the operation passes (:func:`advance`); it is cleared on reaching a stable
state. Run ``python -m ingot.fsm > docs/states.md`` to regenerate the diagram.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from ingot import states as st
from ingot.errors import InvalidInput, InvalidState

Who = Literal["user", "conductor"]
_U: Final = "user"
_C: Final = "conductor"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: ``event`` in ``source`` moves the node to ``target``."""

    source: str
    event: str
    target: str
    who: Who


# fmt: off
_TABLE: Final[tuple[tuple[str, str, str, Who], ...]] = (
    # Enrolment: check the BMC credentials.
    (st.ENROLL,        "manage",   st.VERIFYING,    _U),
    (st.VERIFYING,     "done",     st.MANAGEABLE,   _C),
    (st.VERIFYING,     "fail",     st.ENROLL,       _C),
    # Inspection.
    (st.MANAGEABLE,    "inspect",  st.INSPECTING,   _U),
    (st.INSPECTING,    "done",     st.MANAGEABLE,   _C),
    (st.INSPECTING,    "wait",     st.INSPECTWAIT,  _C),
    (st.INSPECTING,    "fail",     st.INSPECTFAIL,  _C),
    (st.INSPECTWAIT,   "resume",   st.INSPECTING,   _C),
    (st.INSPECTWAIT,   "done",     st.MANAGEABLE,   _C),
    (st.INSPECTWAIT,   "fail",     st.INSPECTFAIL,  _C),
    (st.INSPECTWAIT,   "abort",    st.INSPECTFAIL,  _U),
    (st.INSPECTFAIL,   "inspect",  st.INSPECTING,   _U),
    (st.INSPECTFAIL,   "manage",   st.MANAGEABLE,   _U),
    # Cleaning: automated (provide, tear-down) ends in available, manual (clean) in manageable.
    (st.MANAGEABLE,    "provide",  st.CLEANING,     _U),
    (st.MANAGEABLE,    "clean",    st.CLEANING,     _U),
    (st.AVAILABLE,     "manage",   st.MANAGEABLE,   _U),
    (st.CLEANING,      "done",     st.AVAILABLE,    _C),
    (st.CLEANING,      "manage",   st.MANAGEABLE,   _C),
    (st.CLEANING,      "wait",     st.CLEANWAIT,    _C),
    (st.CLEANING,      "hold",     st.CLEANHOLD,    _C),
    (st.CLEANING,      "fail",     st.CLEANFAIL,    _C),
    (st.CLEANWAIT,     "resume",   st.CLEANING,     _C),
    (st.CLEANWAIT,     "hold",     st.CLEANHOLD,    _C),
    (st.CLEANWAIT,     "fail",     st.CLEANFAIL,    _C),
    (st.CLEANWAIT,     "abort",    st.CLEANFAIL,    _U),
    (st.CLEANHOLD,     "unhold",   st.CLEANWAIT,    _U),
    (st.CLEANHOLD,     "abort",    st.CLEANFAIL,    _U),
    (st.CLEANFAIL,     "manage",   st.MANAGEABLE,   _U),
    # Deployment.
    (st.AVAILABLE,     "deploy",   st.DEPLOYING,    _U),
    (st.DEPLOYING,     "done",     st.ACTIVE,       _C),
    (st.DEPLOYING,     "wait",     st.DEPLOYWAIT,   _C),
    (st.DEPLOYING,     "hold",     st.DEPLOYHOLD,   _C),
    (st.DEPLOYING,     "fail",     st.DEPLOYFAIL,   _C),
    (st.DEPLOYWAIT,    "resume",   st.DEPLOYING,    _C),
    (st.DEPLOYWAIT,    "hold",     st.DEPLOYHOLD,   _C),
    (st.DEPLOYWAIT,    "fail",     st.DEPLOYFAIL,   _C),
    (st.DEPLOYWAIT,    "abort",    st.DEPLOYFAIL,   _U),
    (st.DEPLOYWAIT,    "delete",   st.DELETING,     _U),
    (st.DEPLOYHOLD,    "unhold",   st.DEPLOYWAIT,   _U),
    (st.DEPLOYHOLD,    "abort",    st.DEPLOYFAIL,   _U),
    (st.DEPLOYFAIL,    "deploy",   st.DEPLOYING,    _U),
    (st.DEPLOYFAIL,    "rebuild",  st.DEPLOYING,    _U),
    (st.DEPLOYFAIL,    "delete",   st.DELETING,     _U),
    (st.ACTIVE,        "rebuild",  st.DEPLOYING,    _U),
    (st.ERROR,         "rebuild",  st.DEPLOYING,    _U),
    # Tear-down: deleting, then automated cleaning.
    (st.ACTIVE,        "delete",   st.DELETING,     _U),
    (st.ERROR,         "delete",   st.DELETING,     _U),
    (st.DELETING,      "clean",    st.CLEANING,     _C),
    (st.DELETING,      "fail",     st.ERROR,        _C),
    # Rescue.
    (st.ACTIVE,        "rescue",   st.RESCUING,     _U),
    (st.RESCUING,      "done",     st.RESCUE,       _C),
    (st.RESCUING,      "wait",     st.RESCUEWAIT,   _C),
    (st.RESCUING,      "fail",     st.RESCUEFAIL,   _C),
    (st.RESCUEWAIT,    "resume",   st.RESCUING,     _C),
    (st.RESCUEWAIT,    "fail",     st.RESCUEFAIL,   _C),
    (st.RESCUEWAIT,    "abort",    st.RESCUEFAIL,   _U),
    (st.RESCUEWAIT,    "delete",   st.DELETING,     _U),
    (st.RESCUE,        "rescue",   st.RESCUING,     _U),
    (st.RESCUE,        "unrescue", st.UNRESCUING,   _U),
    (st.RESCUE,        "delete",   st.DELETING,     _U),
    (st.RESCUEFAIL,    "rescue",   st.RESCUING,     _U),
    (st.RESCUEFAIL,    "unrescue", st.UNRESCUING,   _U),
    (st.RESCUEFAIL,    "delete",   st.DELETING,     _U),
    (st.UNRESCUING,    "done",     st.ACTIVE,       _C),
    (st.UNRESCUING,    "fail",     st.UNRESCUEFAIL, _C),
    (st.UNRESCUEFAIL,  "rescue",   st.RESCUING,     _U),
    (st.UNRESCUEFAIL,  "unrescue", st.UNRESCUING,   _U),
    (st.UNRESCUEFAIL,  "delete",   st.DELETING,     _U),
    # Adoption: take over a node deployed by other means.
    (st.MANAGEABLE,    "adopt",    st.ADOPTING,     _U),
    (st.ADOPTING,      "done",     st.ACTIVE,       _C),
    (st.ADOPTING,      "fail",     st.ADOPTFAIL,    _C),
    (st.ADOPTFAIL,     "adopt",    st.ADOPTING,     _U),
    (st.ADOPTFAIL,     "manage",   st.MANAGEABLE,   _U),
    # Servicing: run steps on a deployed node.
    (st.ACTIVE,        "service",  st.SERVICING,    _U),
    (st.SERVICING,     "done",     st.ACTIVE,       _C),
    (st.SERVICING,     "wait",     st.SERVICEWAIT,  _C),
    (st.SERVICING,     "hold",     st.SERVICEHOLD,  _C),
    (st.SERVICING,     "fail",     st.SERVICEFAIL,  _C),
    (st.SERVICEWAIT,   "resume",   st.SERVICING,    _C),
    (st.SERVICEWAIT,   "hold",     st.SERVICEHOLD,  _C),
    (st.SERVICEWAIT,   "fail",     st.SERVICEFAIL,  _C),
    (st.SERVICEWAIT,   "abort",    st.SERVICEFAIL,  _U),
    (st.SERVICEWAIT,   "delete",   st.DELETING,     _U),
    (st.SERVICEHOLD,   "service",  st.SERVICING,    _U),
    (st.SERVICEHOLD,   "unhold",   st.SERVICEWAIT,  _U),
    (st.SERVICEHOLD,   "abort",    st.SERVICEFAIL,  _U),
    (st.SERVICEHOLD,   "fail",     st.SERVICEFAIL,  _C),
    (st.SERVICEFAIL,   "service",  st.SERVICING,    _U),
    (st.SERVICEFAIL,   "abort",    st.ACTIVE,       _U),
    (st.SERVICEFAIL,   "rescue",   st.RESCUING,     _U),
    (st.SERVICEFAIL,   "delete",   st.DELETING,     _U),
    (st.SERVICEFAIL,   "wait",     st.SERVICEWAIT,  _C),
    (st.SERVICEFAIL,   "hold",     st.SERVICEHOLD,  _C),
)
# fmt: on

TRANSITIONS: Final[tuple[Transition, ...]] = tuple(Transition(*row) for row in _TABLE)

VERBS: Final[dict[str, str]] = {
    "active": "deploy",
    "deploy": "deploy",
    "deleted": "delete",
    "undeploy": "delete",
    "manage": "manage",
    "provide": "provide",
    "inspect": "inspect",
    "clean": "clean",
    "rebuild": "rebuild",
    "abort": "abort",
    "adopt": "adopt",
    "rescue": "rescue",
    "unrescue": "unrescue",
    "unhold": "unhold",
    "service": "service",
}
"""API verbs (the ``target`` of a provision request) and the table event each fires.

``active``/``deploy`` and ``deleted``/``undeploy`` are aliases, as in Ironic. ``hold`` is not a
verb: a ``hold`` step fires it.
"""

DEFAULT_TARGETS: Final[dict[str, str]] = {
    st.VERIFYING: st.MANAGEABLE,
    st.INSPECTING: st.MANAGEABLE,
    st.INSPECTWAIT: st.MANAGEABLE,
    st.INSPECTFAIL: st.MANAGEABLE,
    st.CLEANING: st.AVAILABLE,
    st.CLEANWAIT: st.AVAILABLE,
    st.CLEANHOLD: st.AVAILABLE,
    st.CLEANFAIL: st.AVAILABLE,
    st.DEPLOYING: st.ACTIVE,
    st.DEPLOYWAIT: st.ACTIVE,
    st.DEPLOYHOLD: st.ACTIVE,
    st.DEPLOYFAIL: st.ACTIVE,
    st.DELETING: st.AVAILABLE,
    st.RESCUING: st.RESCUE,
    st.RESCUEWAIT: st.RESCUE,
    st.RESCUEFAIL: st.RESCUE,
    st.UNRESCUING: st.ACTIVE,
    st.UNRESCUEFAIL: st.ACTIVE,
    st.ADOPTING: st.ACTIVE,
    st.ADOPTFAIL: st.ACTIVE,
    st.SERVICING: st.ACTIVE,
    st.SERVICEWAIT: st.ACTIVE,
    st.SERVICEHOLD: st.ACTIVE,
    st.SERVICEFAIL: st.ACTIVE,
}
"""``target_provision_state`` Ironic shows in each non-stable state unless the verb set another."""

# Manual cleaning ("clean" from manageable) returns to manageable, not available.
_VERB_TARGETS: Final[dict[str, str]] = {"clean": st.MANAGEABLE}

_BY_KEY: Final[dict[tuple[str, str], Transition]] = {(t.source, t.event): t for t in TRANSITIONS}


def is_stable(state: str) -> bool:
    """True for states a node leaves only on request (``target_provision_state`` is null)."""
    return state in st.STABLE_STATES


def target_of(state: str) -> str | None:
    """The default ``target_provision_state`` to show while in ``state``; None when stable."""
    return DEFAULT_TARGETS.get(state)


def allowed_verbs(state: str) -> list[str]:
    """API verbs accepted in ``state``, aliases included, sorted; empty for busy states."""
    events = {t.event for t in TRANSITIONS if t.source == state and t.who == _U}
    return sorted(verb for verb, event in VERBS.items() if event in events)


def _refuse(state: str, action: str, node: str | None) -> InvalidState:
    on = f"node {node}" if node else "the node"
    allowed = allowed_verbs(state)
    hint = (
        f"Allowed actions from this state: {', '.join(allowed)}."
        if allowed
        else "No action is allowed from this state; wait for the current operation to finish."
    )
    return InvalidState(
        f'The requested action "{action}" can not be performed on {on} while it is in state '
        f'"{state}". {hint}'
    )


def _check_state(state: str, node: str | None) -> None:
    if state not in st.ALL_STATES:
        on = f"Node {node}" if node else "The node"
        raise InvalidState(
            f'{on} is in unknown provision state "{state}"; known states: '
            f"{', '.join(sorted(st.ALL_STATES))}."
        )


def next_state(state: str, event: str, node: str | None = None) -> str:
    """The state ``event`` leads to from ``state``, for user verbs and conductor events alike.

    Raises InvalidState naming the state and the verbs allowed from it.
    """
    _check_state(state, node)
    row = _BY_KEY.get((state, event))
    if row is None:
        raise _refuse(state, event, node)
    return row.target


def begin(state: str, verb: str, node: str | None = None) -> tuple[str, str | None]:
    """Accept the API ``verb`` in ``state``: the new provision state and the target to record.

    Raises InvalidInput for a word that is not a verb, InvalidState when ``state`` refuses it
    (conductor-only events such as ``done`` are refused here even where the table has them).
    """
    event = VERBS.get(verb)
    if event is None:
        raise InvalidInput(
            f'"{verb}" is not a provision action; use one of: {", ".join(sorted(VERBS))}.'
        )
    _check_state(state, node)
    row = _BY_KEY.get((state, event))
    if row is None or row.who != _U:
        raise _refuse(state, verb, node)
    if is_stable(row.target):
        return row.target, None
    return row.target, _VERB_TARGETS.get(event, DEFAULT_TARGETS.get(row.target))


def advance(
    state: str, event: str, target: str | None, node: str | None = None
) -> tuple[str, str | None]:
    """Fire a conductor event: the new state and target, keeping the target the verb recorded.

    The target is cleared on reaching a stable state, and falls back to the state's default
    when nothing was recorded (e.g. a node found mid-operation after a takeover).
    """
    new = next_state(state, event, node)
    if is_stable(new):
        return new, None
    return new, target or DEFAULT_TARGETS.get(new)


# ---------------------------------------------------------------------------------------------
# Diagram for docs/states.md
# ---------------------------------------------------------------------------------------------


def _node_id(state: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", state)


def render_diagram() -> str:
    """Markdown with a Mermaid ``stateDiagram-v2`` and the table, generated from TRANSITIONS."""
    order = list(dict.fromkeys(s for t in TRANSITIONS for s in (t.source, t.target)))
    edges: dict[tuple[str, str], list[str]] = {}
    for t in TRANSITIONS:
        label = t.event if t.who == _U else f"({t.event})"
        edges.setdefault((t.source, t.target), []).append(label)
    lines = [
        "# Node provision states",
        "",
        "<!-- Generated by `python -m ingot.fsm > docs/states.md`; do not edit by hand. -->",
        "",
        "The states and transitions of a node, the same strings and moves as Ironic. Plain",
        "labels are API verbs (`PUT /v1/nodes/{node}/states/provision`); labels in parentheses",
        "are events the conductor fires itself. `active`/`deploy` and `deleted`/`undeploy` are",
        "aliases of the `deploy` and `delete` events. Stable states are shaded.",
        "",
        "```mermaid",
        "stateDiagram-v2",
    ]
    lines += [f'    state "{s}" as {_node_id(s)}' for s in order]
    lines.append(f"    [*] --> {_node_id(st.ENROLL)}")
    for (source, target), labels in edges.items():
        lines.append(f"    {_node_id(source)} --> {_node_id(target)} : {', '.join(labels)}")
    stable = ",".join(_node_id(s) for s in order if is_stable(s))
    lines += ["    classDef stable fill:#d9ead3", f"    class {stable} stable", "```", ""]
    lines += [
        "## States",
        "",
        "| state | stable | target shown | callback timeout setting |",
        "|---|---|---|---|",
    ]
    for s in order:
        target = target_of(s) or ""
        timeout = st.WAIT_TIMEOUTS.get(s, "")
        lines.append(f"| `{s}` | {'yes' if is_stable(s) else ''} | {target} | {timeout} |")
    lines += ["", "## Transitions", "", "| from | event | to | fired by |", "|---|---|---|---|"]
    lines += [f"| `{t.source}` | {t.event} | `{t.target}` | {t.who} |" for t in TRANSITIONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_diagram(), end="")
