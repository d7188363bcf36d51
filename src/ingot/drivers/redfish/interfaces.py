"""The ``redfish`` power and management interfaces, over sushy (:class:`RedfishClient`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, cast

from ingot.drivers.bmc_interfaces import BmcInterface, BmcManagement, BmcPower
from ingot.drivers.redfish.client import AuthType, BootDevice, BootMode, RedfishClient
from ingot.errors import InvalidInput
from ingot.values import parse_bool

if TYPE_CHECKING:
    from ingot.conductor.task import Task

PROPERTIES = {
    "redfish_address": "URL of the BMC's Redfish service, e.g. https://10.0.0.5 (http:// too).",
    "redfish_system_id": "Path or id of the ComputerSystem; needed when the BMC has several.",
    "redfish_username": "BMC user name.",
    "redfish_password": "BMC password (stored, never shown).",
    "redfish_verify_ca": "true, false, or a path to a CA bundle (default true).",
    "redfish_auth_type": "auto (default), basic or session.",
}


def client_for(task: Task) -> RedfishClient:
    info = task.node.driver_info
    verify: bool | str = True
    raw = info.get("redfish_verify_ca", True)
    if isinstance(raw, str) and raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
        verify = raw  # a CA bundle path
    else:
        verify = parse_bool("redfish_verify_ca", raw)
    auth = str(info.get("redfish_auth_type", "auto"))
    if auth not in ("auto", "basic", "session"):
        raise InvalidInput(
            f"Node {task.node.uuid}: redfish_auth_type {auth!r} must be auto, basic or session."
        )
    return RedfishClient(
        str(info.get("redfish_address", "")),
        info.get("redfish_system_id"),
        info.get("redfish_username"),
        info.get("redfish_password"),
        verify,
        cast(AuthType, auth),
        access=task.conductor.bmc_access,
        poll_interval=0.3,
    )


class _RedfishBase(BmcInterface):
    properties: ClassVar[dict[str, str]] = PROPERTIES
    required: ClassVar[tuple[str, ...]] = ("redfish_address",)

    def client(self, task: Task) -> RedfishClient:
        return client_for(task)


class RedfishPower(_RedfishBase, BmcPower):
    name = "redfish"


class RedfishManagement(_RedfishBase, BmcManagement):
    name = "redfish"

    def supported_boot_devices(self) -> list[str]:
        return ["pxe", "disk", "cdrom", "bios"]

    async def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        client = client_for(task)
        await asyncio.to_thread(client.set_boot_device, cast(BootDevice, device), persistent)

    async def set_boot_mode(self, task: Task, mode: str) -> None:
        await asyncio.to_thread(client_for(task).set_boot_mode, cast(BootMode, mode))
