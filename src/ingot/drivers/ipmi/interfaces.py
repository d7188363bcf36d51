"""The ``ipmitool`` power and management interfaces of the ``ipmi`` hardware type.

Named like Ironic's so ``ironic.conf`` and inventories port unchanged; the protocol is spoken
by pyghmi (:class:`IpmiClient`), not by the ipmitool binary. Blocking calls run in threads and
share the conductor's :class:`BmcAccess` (one session per BMC, a global limit).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, cast

from ingot.drivers.bmc_interfaces import BmcInterface, BmcManagement, BmcPower
from ingot.drivers.boot_mode import boot_mode_of
from ingot.drivers.ipmi.client import BootDevice, IpmiClient
from ingot.errors import InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

PROPERTIES = {
    "ipmi_address": "IP address or hostname of the node's BMC.",
    "ipmi_port": "UDP port of the BMC (default 623).",
    "ipmi_username": "BMC user name.",
    "ipmi_password": "BMC password (stored, never shown).",
    "ipmi_priv_level": "Privilege level: ADMINISTRATOR (default), OPERATOR, USER, CALLBACK.",
    "ipmi_cipher_suite": "IPMI 2.0 cipher suite, 3 or 17 (default: negotiate).",
    "ipmi_bridging": "Bridging type: only 'no' is supported.",
}


def client_for(task: Task) -> IpmiClient:
    """An IPMI client from the node's driver_info; InvalidInput names a bad key."""
    info = task.node.driver_info
    if str(info.get("ipmi_bridging", "no")) != "no":
        raise InvalidInput(
            f"Node {task.node.uuid}: ipmi_bridging {info['ipmi_bridging']!r} is not supported; "
            "set it to 'no' or remove it."
        )
    try:
        port = int(info.get("ipmi_port", 623))
        suite = info.get("ipmi_cipher_suite")
        cipher = int(suite) if suite not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Node {task.node.uuid}: ipmi_port and ipmi_cipher_suite must be integers ({exc})."
        ) from None
    return IpmiClient(
        str(info.get("ipmi_address", "")),
        port,
        str(info.get("ipmi_username", "")),
        str(info.get("ipmi_password", "")),
        str(info.get("ipmi_priv_level", "ADMINISTRATOR")),
        cipher,
        access=task.conductor.bmc_access,
        retry_timeout=task.conductor.services.settings.ipmi.command_retry_timeout,
        poll_interval=0.5,
    )


class _IpmiBase(BmcInterface):
    properties: ClassVar[dict[str, str]] = PROPERTIES
    required: ClassVar[tuple[str, ...]] = ("ipmi_address",)

    def client(self, task: Task) -> IpmiClient:
        return client_for(task)


class IpmiPower(_IpmiBase, BmcPower):
    name = "ipmitool"


class IpmiManagement(_IpmiBase, BmcManagement):
    name = "ipmitool"

    def supported_boot_devices(self) -> list[str]:
        return ["pxe", "disk", "cdrom", "bios", "safe"]

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        uefi = boot_mode_of(task) == "uefi"
        client = client_for(task)
        await asyncio.to_thread(client.set_boot_device, cast(BootDevice, device), persistent, uefi)
