"""Driver names found in old inventories, mapped to today's hardware types and interfaces.

Ironic removed its "classic" drivers (``pxe_ipmitool``, ``agent_ipmitool``, ``fake_pxe``...)
in Rocky; each was a fixed bundle of interfaces. Operators' files still carry those names, so
we translate each to the hardware type that does the same job and pin the interfaces the old
name implied, with a note saying so. The iSCSI deploy of ``pxe_*`` drivers no longer exists:
those nodes get the default deploy interface (``direct``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

IPMI = "ipmi"
REDFISH = "redfish"
MANUAL = "manual-management"
FAKE = "fake-hardware"

HARDWARE_TYPES = (IPMI, REDFISH, MANUAL, FAKE)


@dataclass(frozen=True)
class DriverName:
    """What an inventory's driver name means today."""

    written: str
    hardware_type: str
    interfaces: dict[str, str] = field(default_factory=dict)
    why: str = ""  # empty for names that are current hardware types

    @property
    def is_legacy(self) -> bool:
        return bool(self.why)

    def note(self) -> str | None:
        """One line for the node's notes, or None when the name needs no translation."""
        if not self.is_legacy:
            return None
        pinned = ", ".join(f"{k}={v}" for k, v in sorted(self.interfaces.items()))
        text = f"driver '{self.written}' {self.why}; mapped to hardware type '{self.hardware_type}'"
        return f"{text} with {pinned}" if pinned else text


_RETIRED = "is a retired classic driver"

_TABLE: dict[str, DriverName] = {
    d.written: d
    for d in (
        DriverName(IPMI, IPMI),
        DriverName("pxe_ipmitool", IPMI, {"boot_interface": "pxe"}, _RETIRED),
        DriverName("pxe_ipmi", IPMI, {"boot_interface": "pxe"}, _RETIRED),
        DriverName(
            "agent_ipmitool",
            IPMI,
            {"boot_interface": "pxe", "deploy_interface": "direct"},
            _RETIRED,
        ),
        DriverName(REDFISH, REDFISH),
        DriverName(MANUAL, MANUAL),
        DriverName("manual", MANUAL, {}, "is a short name"),
        # fake_pxe / fake_agent: no power control, a person presses the button (TripleO's
        # "servers without a usable BMC"), which is manual-management today.
        DriverName("fake_pxe", MANUAL, {"boot_interface": "pxe"}, _RETIRED),
        DriverName(
            "fake_agent",
            MANUAL,
            {"boot_interface": "pxe", "deploy_interface": "direct"},
            _RETIRED,
        ),
        DriverName(FAKE, FAKE),
        DriverName("fake", FAKE, {}, _RETIRED),
    )
}

KNOWN_NAMES = tuple(sorted(_TABLE))


def lookup_driver(name: str) -> DriverName | None:
    """The meaning of a driver name as written in a file, or None if it is unknown."""
    return _TABLE.get(name.strip())


def unknown_driver_fix() -> str:
    return "use one of: " + ", ".join(KNOWN_NAMES)
