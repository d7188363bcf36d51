"""The ``ipmitool`` power and management interfaces of the ``ipmi`` hardware type.

Named like Ironic's so ``ironic.conf`` and inventories port unchanged; the protocol is spoken
by pyghmi (:class:`IpmiClient`), not by the ipmitool binary. Blocking calls run in threads and
share the conductor's :class:`BmcAccess` (one session per BMC, a global limit).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ingot import states
from ingot.drivers import interfaces as base
from ingot.drivers.boot_mode import boot_mode_of
from ingot.drivers.ipmi.client import BootDevice, IpmiClient, PowerAction
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
_ACTIONS: dict[str, PowerAction] = {
    states.POWER_ON: "on",
    states.POWER_OFF: "off",
    states.SOFT_POWER_OFF: "soft",
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
        poll_interval=0.5,
    )


class _IpmiBase:
    properties: ClassVar[dict[str, str]] = PROPERTIES
    required: ClassVar[tuple[str, ...]] = ("ipmi_address",)

    def validate(self, task: Task) -> None:
        base.Interface.validate(cast(base.Interface, self), task)
        client_for(task)


class IpmiPower(_IpmiBase, base.PowerInterface):
    name = "ipmitool"

    async def get_power_state(self, task: Task) -> str:
        state = await asyncio.to_thread(client_for(task).get_power)
        return states.POWER_ON if state == "on" else states.POWER_OFF

    async def set_power_state(self, task: Task, state: str, timeout: float | None = None) -> None:
        action = _ACTIONS.get(state)
        if action is None:
            raise InvalidInput(f"The ipmitool power interface can not set {state!r}.")
        wait = timeout or task.conductor.services.settings.conductor.power_state_change_timeout
        await asyncio.to_thread(client_for(task).set_power, action, wait)

    async def reboot(self, task: Task, timeout: float | None = None) -> None:
        wait = timeout or task.conductor.services.settings.conductor.power_state_change_timeout
        await asyncio.to_thread(client_for(task).set_power, "cycle", wait)

    def supported_power_states(self) -> list[str]:
        return [states.POWER_ON, states.POWER_OFF, states.REBOOT, states.SOFT_POWER_OFF]


class IpmiManagement(_IpmiBase, base.ManagementInterface):
    name = "ipmitool"

    def supported_boot_devices(self) -> list[str]:
        return ["pxe", "disk", "cdrom", "bios", "safe"]

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        uefi = boot_mode_of(task) == "uefi"
        client = client_for(task)
        await asyncio.to_thread(client.set_boot_device, cast(BootDevice, device), persistent, uefi)

    async def get_boot_device(self, task: Task) -> dict[str, Any]:
        device, persistent = await asyncio.to_thread(client_for(task).get_boot_device)
        return {"boot_device": device, "persistent": persistent}

    async def get_boot_mode(self, task: Task) -> str | None:
        return await asyncio.to_thread(client_for(task).get_boot_mode)
