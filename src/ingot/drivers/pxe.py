"""Network boot interfaces ``pxe``, ``ipxe`` and ``http``: per-MAC boot files for the agent
ramdisk, then local boot (or netboot of a partition image) for the deployed instance.

The files are written by :class:`ingot.netboot.bootfiles.BootFiles` into the boot root that
the HTTP boot server (and TFTP, dnsmasq's in production) serves. With ``[dhcp]
dhcp_provider = dnsmasq`` each step also sets the MACs' DHCP host entries: allowed (tagged)
while the node must netboot from us, ``ignore`` once it must not. Preparing a deploy also
stages the instance image the conductor serves (:mod:`ingot.images.staging`), so a bad image
fails before the node is powered on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from ingot.dhcp.provider import BootPort, DhcpProvider, provider_for
from ingot.drivers import interfaces as base
from ingot.drivers.boot_mode import boot_mode_of
from ingot.errors import DriverError, InvalidInput
from ingot.images import staging
from ingot.images.cache import ImageCache
from ingot.netboot import templates
from ingot.netboot.bootfiles import BootFiles, KernelRef
from ingot.netboot.templates import AgentCmdline, BootInterface

if TYPE_CHECKING:
    from ingot.conductor.task import Task

ROOT_UUID = "root_uuid_or_disk_id"  # driver_internal_info, as Ironic names it


def boot_files(task: Task) -> BootFiles:
    settings = task.conductor.services.settings
    return BootFiles(settings.boot_root, settings.boot_url)


def dhcp(task: Task) -> DhcpProvider:
    return provider_for(task.conductor.services.settings)


def image_cache(task: Task) -> ImageCache:
    settings = task.conductor.services.settings
    max_bytes = int(settings.deploy.image_cache_max_gb * (1 << 30))
    return staging.shared_cache(staging.cache_dir(settings.default.state_dir), max_bytes)


def pxe_macs(task: Task) -> list[str]:
    macs = [p.address for p in task.ports if p.pxe_enabled]
    if not macs:
        raise InvalidInput(
            f"Node {task.node.uuid} has no port with pxe_enabled; add the provisioning NIC: "
            f"baremetal port create <MAC> --node {task.node.uuid}"
        )
    return macs


def boot_ports(task: Task) -> list[BootPort]:
    """The PXE ports as DHCP host entries; ``port.extra.fixed_ip`` pins an address."""
    return [
        BootPort(mac=p.address, tag=p.uuid, fixed_ip=(p.extra or {}).get("fixed_ip"))
        for p in task.ports
        if p.pxe_enabled
    ]


async def stage_instance_image(task: Task) -> None:
    """Fetch, verify and publish the instance image when the conductor serves it (in a
    thread); record it in driver_internal_info for ``image_info``. Raises InvalidInput or
    DriverError naming instance_info.image_source."""
    node = task.node
    settings = task.conductor.services.settings
    mode = staging.download_source(
        node.instance_info, node.driver_info, settings.agent.image_download_source
    )
    request = staging.image_request(node.instance_info, node_uuid=node.uuid, source_mode=mode)
    if not request.served_by_conductor:
        task.set_internal(staging.INTERNAL_KEY, None)
        return
    staged = await asyncio.to_thread(
        staging.stage, image_cache(task), request, settings.boot_url, node.uuid
    )
    task.set_internal(staging.INTERNAL_KEY, staged.to_internal())


async def loadable(task: Task, ref: str, loader: templates.Loader) -> KernelRef:
    """``ref`` in a form ``loader`` can load: iPXE fetches http(s) URLs itself; pxelinux and
    GRUB read the boot root over TFTP, so an http(s) kernel or ramdisk is fetched into the
    image cache first (in a thread)."""
    if loader == "ipxe" or urlsplit(ref).scheme not in ("http", "https"):
        return ref
    return await asyncio.to_thread(image_cache(task).fetch, ref)


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
        info = task.node.instance_info
        if info.get("image_type") == "partition":
            missing = [k for k in ("kernel", "ramdisk") if not info.get(k)]
            if missing:
                raise InvalidInput(
                    f"Node {task.node.uuid}: a partition image boots its own kernel over the "
                    f"network; set instance_info {' and '.join(missing)} (URL or path), or "
                    "deploy a whole-disk image."
                )

    def _loader(self, task: Task) -> templates.Loader:
        return templates.loader_for(self.loader, boot_mode_of(task))

    async def prepare_ramdisk(self, task: Task, params: dict[str, Any]) -> None:
        """Write the agent boot config for every PXE MAC, let DHCP answer them, and set the
        next boot to PXE. For a deploy, first stage the image the conductor serves."""
        settings = task.conductor.services.settings
        info = task.node.driver_info
        purpose = str(params.get("purpose", "deploy"))
        if purpose == "deploy" and task.deploy.name == "direct":
            await stage_instance_image(task)
        append = " ".join(
            p for p in (settings.pxe.kernel_append_params, info.get("kernel_append_params")) if p
        )
        cmdline = AgentCmdline(
            api_url=settings.agent_api_url,
            kernel_append_params=append,
            extra={k: str(v) for k, v in params.items() if k != "purpose"},
        )
        loader = self._loader(task)
        files = boot_files(task)
        files.ensure_chain_files()
        files.prepare_ramdisk(
            task.node.uuid,
            pxe_macs(task),
            boot_mode_of(task),
            await loadable(task, str(info["deploy_kernel"]), loader),
            await loadable(task, str(info["deploy_ramdisk"]), loader),
            cmdline,
            interface=self.loader,
            purpose=purpose,
        )
        dhcp(task).enable_boot(boot_ports(task), pxe=self.loader == "pxe")
        await task.management.set_boot_device(task, "pxe", persistent=False)

    async def clean_up_ramdisk(self, task: Task) -> None:
        macs = [p.address for p in task.ports]
        boot_files(task).clean_up(task.node.uuid, macs)
        dhcp(task).disable_boot(macs)

    async def prepare_instance(self, task: Task) -> None:
        """Local boot: the boot files say "boot from disk", DHCP ignores the node and the BMC
        boots the disk. A partition image netboots its own kernel and ramdisk instead."""
        if task.node.instance_info.get("image_type") == "partition":
            await self._prepare_partition_netboot(task)
            return
        macs = pxe_macs(task)
        boot_files(task).prepare_instance(
            task.node.uuid, macs, boot_mode_of(task), interface=self.loader
        )
        dhcp(task).disable_boot(macs)
        await task.management.set_boot_device(task, "disk", persistent=True)

    async def _prepare_partition_netboot(self, task: Task) -> None:
        info = task.node.instance_info
        self.validate(task)
        root_uuid = task.node.driver_internal_info.get(ROOT_UUID) or await _agent_root_uuid(task)
        task.set_internal(ROOT_UUID, root_uuid)
        loader = self._loader(task)
        settings = task.conductor.services.settings
        boot_files(task).prepare_instance(
            task.node.uuid,
            pxe_macs(task),
            boot_mode_of(task),
            interface=self.loader,
            kernel_url=await loadable(task, str(info["kernel"]), loader),
            ramdisk_url=await loadable(task, str(info["ramdisk"]), loader),
            root_uuid=str(root_uuid),
            kernel_append_params=str(
                info.get("kernel_append_params") or settings.pxe.kernel_append_params
            ),
            root_kind="PARTUUID",
        )
        dhcp(task).enable_boot(boot_ports(task), pxe=self.loader == "pxe")
        await task.management.set_boot_device(task, "pxe", persistent=True)

    async def clean_up_instance(self, task: Task) -> None:
        macs = [p.address for p in task.ports]
        boot_files(task).clean_up(task.node.uuid, macs)
        dhcp(task).disable_boot(macs)
        for key in (ROOT_UUID, staging.INTERNAL_KEY):
            task.set_internal(key, None)


async def _agent_root_uuid(task: Task) -> str:
    """The root partition's GUID from the agent that wrote the partition image."""
    from ingot.drivers.agent import client

    result = await client.run_command(task, "standby.get_partition_uuids", {}, wait=True)
    uuids = result.get("command_result") or {}
    root = uuids.get("root uuid") if isinstance(uuids, dict) else None
    if not root:
        raise DriverError(
            f"Node {task.node.uuid}: the agent reported no root partition UUID for the "
            "partition image, so its kernel cannot be netbooted; check the deploy log."
        )
    return str(root)


class PxeBoot(NetBoot):
    name = "pxe"
    loader = "pxe"


class IpxeBoot(NetBoot):
    name = "ipxe"
    loader = "ipxe"


class HttpBoot(NetBoot):
    name = "http"
    loader = "http"
