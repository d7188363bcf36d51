"""Network boot interfaces ``pxe``, ``ipxe`` and ``http``: per-MAC boot files for the agent
ramdisk, then local boot for the deployed instance.

The files are written by :class:`ingot.netboot.bootfiles.BootFiles` into the boot root that
the HTTP boot server (and TFTP, dnsmasq's in production) serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ingot.drivers import interfaces as base
from ingot.drivers.boot_mode import boot_mode_of
from ingot.errors import InvalidInput
from ingot.netboot.bootfiles import BootFiles
from ingot.netboot.templates import AgentCmdline, BootInterface

if TYPE_CHECKING:
    from ingot.conductor.task import Task


def boot_files(task: Task) -> BootFiles:
    settings = task.conductor.services.settings
    return BootFiles(settings.boot_root, settings.boot_url)


def pxe_macs(task: Task) -> list[str]:
    macs = [p.address for p in task.ports if p.pxe_enabled]
    if not macs:
        raise InvalidInput(
            f"Node {task.node.uuid} has no port with pxe_enabled; add the provisioning NIC: "
            f"baremetal port create <MAC> --node {task.node.uuid}"
        )
    return macs


class NetBoot(base.BootInterface):
    """Shared behaviour; subclasses only name the loader family."""

    loader: ClassVar[BootInterface]
    properties: ClassVar[dict[str, str]] = {
        "deploy_kernel": "URL or path of the agent kernel.",
        "deploy_ramdisk": "URL or path of the agent ramdisk.",
        "kernel_append_params": "Extra kernel parameters for the agent ramdisk.",
    }
    required = ("deploy_kernel", "deploy_ramdisk")

    def validate(self, task: Task) -> None:
        super().validate(task)
        pxe_macs(task)

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        """Write the agent boot config for every PXE MAC and set the next boot to PXE."""
        settings = task.conductor.services.settings
        info = task.node.driver_info
        append = " ".join(
            p for p in (settings.pxe.kernel_append_params, info.get("kernel_append_params")) if p
        )
        cmdline = AgentCmdline(
            api_url=settings.agent_api_url,
            kernel_append_params=append,
            extra={k: str(v) for k, v in params.items() if k != "purpose"},
        )
        boot_files(task).prepare_ramdisk(
            task.node.uuid,
            pxe_macs(task),
            boot_mode_of(task),
            info["deploy_kernel"],
            info["deploy_ramdisk"],
            cmdline,
            interface=self.loader,
            purpose=str(params.get("purpose", "deploy")),
        )
        await task.management.set_boot_device(task, "pxe", persistent=False)

    async def clean_up_ramdisk(self, task: Task) -> None:
        boot_files(task).clean_up(task.node.uuid, [p.address for p in task.ports])

    async def prepare_instance(self, task: Task) -> None:
        """Local boot: the boot files say "boot from disk" and the BMC boots the disk."""
        boot_files(task).prepare_instance(
            task.node.uuid, pxe_macs(task), boot_mode_of(task), interface=self.loader
        )
        await task.management.set_boot_device(task, "disk", persistent=True)

    async def clean_up_instance(self, task: Task) -> None:
        boot_files(task).clean_up(task.node.uuid, [p.address for p in task.ports])


class PxeBoot(NetBoot):
    name = "pxe"
    loader = "pxe"


class IpxeBoot(NetBoot):
    name = "ipxe"
    loader = "ipxe"


class HttpBoot(NetBoot):
    name = "http"
    loader = "http"
