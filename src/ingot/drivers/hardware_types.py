"""Hardware types as data: per interface kind, the implementations a type supports, in order.

The first enabled implementation in a list is the node's default for that kind, as in Ironic.
"""

from __future__ import annotations

_GENERIC: dict[str, list[str]] = {
    "bios": ["no-bios"],
    "boot": ["ipxe", "pxe", "http"],
    "console": ["no-console"],
    "deploy": ["direct", "ramdisk"],
    "firmware": ["no-firmware"],
    "inspect": ["agent", "no-inspect"],
    "network": ["flat", "noop"],
    "raid": ["no-raid"],
    "rescue": ["no-rescue", "agent"],
    "storage": ["noop"],
    "vendor": ["no-vendor"],
}


def _generic(**overrides: list[str]) -> dict[str, list[str]]:
    return {**_GENERIC, **overrides}


HARDWARE_TYPES: dict[str, dict[str, list[str]]] = {
    "fake-hardware": {
        # Ironic's fake-hardware defaults to noop network and storage, fake everything else.
        kind: [*impls, "fake"] if kind in ("network", "storage") else ["fake", *impls]
        for kind, impls in _generic(
            network=["noop", "flat"],
            power=[],
            management=[],
        ).items()
    },
    "ipmi": _generic(
        power=["ipmitool"],
        management=["ipmitool", "noop"],
        vendor=["ipmitool", "no-vendor"],
    ),
    "redfish": _generic(
        power=["redfish"],
        management=["redfish"],
    ),
    "manual-management": _generic(
        power=["manual", "fake"],
        management=["noop", "fake"],
    ),
}
