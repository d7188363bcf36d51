"""``image.install_bootloader``, ``log.collect_system_logs``, ``system.get_inventory``."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tarfile
import time
from typing import Any

from ingot_agent import __version__
from ingot_agent.commands import command
from ingot_agent.context import AgentContext
from ingot_agent.deploy_image import choose_root_device
from ingot_agent.errors import NotSupportedError
from ingot_agent.partition_table import EFI_SYSTEM_GUID, read_partition_table

MAX_LOG_OUTPUT = 5 * 1024 * 1024


class ImageExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("install_bootloader", run_async=True)
    def install_bootloader(
        self,
        root_uuid: str | None = None,
        efi_system_part_uuid: str | None = None,
        prep_boot_part_uuid: str | None = None,
        target_boot_mode: str = "bios",
        **_ignored: Any,
    ) -> str:
        """Whole-disk images carry their own boot loader; check UEFI ones have an ESP.

        Partition images would need grub-install in a chroot of the written root, which this
        agent does not do: it fails clearly instead of leaving an unbootable disk.
        """
        if "partitions" in self.ctx.partition_uuids:
            raise NotSupportedError(
                "installing a boot loader for partition images is not supported by "
                "ingot-agent; deploy a whole-disk image (it carries its own boot loader)"
            )
        device = choose_root_device(self.ctx)
        with open(device.path, "rb") as fh:
            table = read_partition_table(fh, device.logical_sectors)
        if target_boot_mode == "uefi":
            esp = [p for p in (table.partitions if table else []) if p.type == EFI_SYSTEM_GUID]
            if not esp:
                raise NotSupportedError(
                    f"UEFI boot requested but the image on {device.name} has no EFI system "
                    "partition; use a UEFI-capable image or boot_mode bios"
                )
            # The firmware's removable-media path (\EFI\BOOT\BOOTX64.EFI) boots it; no NVRAM
            # entry is written, so no efibootmgr is needed in the ramdisk.
            return f"EFI system partition {esp[0].number} found on {device.name}"
        return f"whole-disk image on {device.name} carries its own boot loader"


class LogExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("collect_system_logs")
    def collect_system_logs(self, **_ignored: Any) -> dict[str, Any]:
        """A gzipped tar of the agent log, inventory and system commands, base64 (as IPA)."""
        files: dict[str, bytes] = {
            "ingot-agent.log": self.ctx.log_buffer.text().encode(),
            "inventory.json": json.dumps(
                self.ctx.hardware.get_inventory(self.ctx.config.boot_mac), indent=2
            ).encode(),
            "version": f"ingot-agent {__version__}\n".encode(),
        }
        for name, argv in self.ctx.hardware.system_log_sources().items():
            if shutil.which(argv[0]):
                try:
                    proc = subprocess.run(argv, capture_output=True, timeout=30)
                    files[name] = (proc.stdout + proc.stderr)[-MAX_LOG_OUTPUT:]
                except (OSError, subprocess.TimeoutExpired) as exc:
                    files[name] = f"failed: {exc}\n".encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, data in files.items():
                member = tarfile.TarInfo(name)
                member.size = len(data)
                member.mtime = int(time.time())
                tar.addfile(member, io.BytesIO(data))
        return {"system_logs": base64.b64encode(buf.getvalue()).decode()}


class SystemExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("get_inventory")
    def get_inventory(self, **_ignored: Any) -> dict[str, Any]:
        return {"inventory": self.ctx.hardware.get_inventory(self.ctx.config.boot_mac)}
