"""The boot root on disk: per-node directories and per-MAC boot configs, written atomically.

Layout under ``root_dir`` (served by TFTP and HTTP alike)::

    boot.ipxe                          chain script DHCP hands to iPXE
    grub/grub.cfg                      GRUB fallback: configfile /<mac>.conf
    <node_uuid>/deploy_kernel          staged agent kernel/ramdisk (hard link or copy)
    <node_uuid>/deploy_ramdisk
    <node_uuid>/kernel, ramdisk        staged partition-image kernel/ramdisk
    pxelinux.cfg/01-aa-bb-cc-dd-ee-ff  pxelinux (BIOS PXE)
    grub/grub.cfg-01-aa-bb-...         GRUB (UEFI PXE and UEFI HTTP boot)
    aa:bb:cc:dd:ee:ff.conf             GRUB, via grub/grub.cfg
    ipxe/aa-bb-cc-dd-ee-ff.ipxe        iPXE

Only the selected loader's files exist for a MAC at a time, so switching a node from
``pxe`` to ``ipxe`` never leaves a stale config that firmware could pick up.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ingot.errors import InvalidInput
from ingot.netboot import templates
from ingot.netboot.atomic import link_or_copy_atomic, make_dirs, remove, write_atomic
from ingot.netboot.macs import bootif, normalize_mac
from ingot.netboot.templates import AgentCmdline, BootInterface, BootMode, Loader

LOG = logging.getLogger(__name__)

_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

KernelRef = str | Path


@dataclass(frozen=True)
class PreparedBoot:
    """What was written: the loader used and the files (absolute paths) per MAC."""

    loader: Loader
    files: dict[str, tuple[Path, ...]]


class BootFiles:
    """Writes and removes the boot files of nodes under one boot root.

    ``http_url`` is the URL at which the HTTP boot server serves ``root_dir``; iPXE configs
    reference staged files through it. Not thread-safe per node: the caller holds the node
    lock (one conductor task per node at a time).
    """

    def __init__(self, root_dir: Path, http_url: str | None = None) -> None:
        self.root_dir = Path(root_dir)
        self.http_url = http_url.rstrip("/") if http_url else None

    # -- public API ------------------------------------------------------------------------

    def ensure_chain_files(self) -> None:
        """Write the shared entry files (``boot.ipxe``, ``grub/grub.cfg``); idempotent."""
        make_dirs(self.root_dir)
        write_atomic(self.root_dir / templates.GRUB_MASTER_CONFIG, templates.render_grub_master())
        if self.http_url:
            script = templates.render_ipxe_chain(f"{self.http_url}/ipxe")
            write_atomic(self.root_dir / templates.IPXE_CHAIN_SCRIPT, script)

    def node_dir(self, node_uuid: str) -> Path:
        """The per-node directory; raises InvalidInput if ``node_uuid`` is not path-safe."""
        if not _NODE_ID.match(node_uuid) or node_uuid in {"pxelinux.cfg", "grub", "ipxe"}:
            raise InvalidInput(
                f"node identifier {node_uuid!r} cannot name a boot directory; use the node UUID."
            )
        return self.root_dir / node_uuid

    def prepare_ramdisk(
        self,
        node_uuid: str,
        macs: Iterable[str],
        boot_mode: BootMode,
        kernel_url: KernelRef,
        ramdisk_url: KernelRef,
        cmdline: AgentCmdline | str,
        *,
        interface: BootInterface = "ipxe",
        purpose: str = "deploy",
    ) -> PreparedBoot:
        """Boot ``macs`` into the agent ramdisk (deploy, inspect, clean, rescue...).

        ``kernel_url``/``ramdisk_url`` are local paths or ``file://`` URLs (staged into the
        node directory) or ``http(s)://`` URLs (iPXE fetches them directly). ``cmdline`` is an
        :class:`AgentCmdline` or a literal command line to which ``BOOTIF`` is appended.
        """
        loader = templates.loader_for(interface, boot_mode)
        node_dir = self.node_dir(node_uuid)
        kernel = self._stage(loader, kernel_url, node_dir / "deploy_kernel", "deploy_kernel")
        ramdisk = self._stage(loader, ramdisk_url, node_dir / "deploy_ramdisk", "deploy_ramdisk")

        def render(mac: str) -> str:
            line = (
                cmdline.render(mac)
                if isinstance(cmdline, AgentCmdline)
                else templates.join_cmdline(cmdline, f"BOOTIF={bootif(mac)}")
            )
            return templates.render_ramdisk(
                loader,
                node_uuid=node_uuid,
                mac=mac,
                kernel=kernel,
                ramdisk=ramdisk,
                cmdline=line,
                purpose=purpose,
            )

        prepared = self._write_configs(loader, macs, render)
        LOG.info("prepared %s ramdisk boot", purpose, extra={"node": node_uuid, "loader": loader})
        return prepared

    def prepare_instance(
        self,
        node_uuid: str,
        macs: Iterable[str],
        boot_mode: BootMode,
        *,
        interface: BootInterface = "ipxe",
        kernel_url: KernelRef | None = None,
        ramdisk_url: KernelRef | None = None,
        root_uuid: str | None = None,
        kernel_append_params: str = "",
        root_kind: templates.RootKind = "UUID",
    ) -> PreparedBoot:
        """Boot the deployed instance: from local disk, or (given a partition image's
        ``kernel_url``, ``ramdisk_url`` and ``root_uuid``) by netbooting its kernel.

        Removes the staged deploy kernel/ramdisk; the per-MAC configs are replaced.
        """
        loader = templates.loader_for(interface, boot_mode)
        node_dir = self.node_dir(node_uuid)
        for name in ("deploy_kernel", "deploy_ramdisk"):
            remove(node_dir / name)
        if kernel_url is None:
            prepared = self._write_configs(
                loader,
                macs,
                lambda mac: templates.render_local_boot(
                    loader, boot_mode, node_uuid=node_uuid, mac=mac
                ),
            )
            LOG.info("prepared local boot", extra={"node": node_uuid, "loader": loader})
            return prepared
        if ramdisk_url is None or not root_uuid:
            raise InvalidInput(
                f"Node {node_uuid}: netbooting a partition image needs kernel, ramdisk and "
                "root_uuid; set instance_info kernel and ramdisk, or deploy a whole-disk image."
            )
        kernel = self._stage(loader, kernel_url, node_dir / "kernel", "kernel")
        ramdisk = self._stage(loader, ramdisk_url, node_dir / "ramdisk", "ramdisk")
        line = templates.partition_cmdline(root_uuid, kernel_append_params, root_kind=root_kind)
        prepared = self._write_configs(
            loader,
            macs,
            lambda mac: templates.render_ramdisk(
                loader,
                node_uuid=node_uuid,
                mac=mac,
                kernel=kernel,
                ramdisk=ramdisk,
                cmdline=line,
                purpose="instance",
            ),
        )
        LOG.info("prepared partition netboot", extra={"node": node_uuid, "loader": loader})
        return prepared

    def clean_up(self, node_uuid: str, macs: Iterable[str]) -> None:
        """Remove every loader's config for ``macs`` and the node directory; idempotent."""
        for mac in macs:
            for loader in templates.LOADERS:
                for rel in templates.config_paths(loader, mac):
                    remove(self.root_dir / rel)
        node_dir = self.node_dir(node_uuid)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(node_dir)
        LOG.info("removed boot files", extra={"node": node_uuid})

    # -- internals -------------------------------------------------------------------------

    def _write_configs(
        self, loader: Loader, macs: Iterable[str], render: Callable[[str], str]
    ) -> PreparedBoot:
        normalized = [normalize_mac(mac) for mac in macs]
        if not normalized:
            raise InvalidInput("no MAC address to boot from; add a port to the node first.")
        files: dict[str, tuple[Path, ...]] = {}
        for mac in normalized:
            text = render(mac)
            written = []
            for rel in templates.config_paths(loader, mac):
                path = self.root_dir / rel
                write_atomic(path, text)
                written.append(path)
            for other in templates.LOADERS:
                if other != loader:
                    for rel in templates.config_paths(other, mac):
                        remove(self.root_dir / rel)
            files[mac] = tuple(written)
        return PreparedBoot(loader=loader, files=files)

    def _stage(self, loader: Loader, ref: KernelRef, target: Path, field: str) -> str:
        """Make ``ref`` fetchable by ``loader``; return the reference to put in its config."""
        text = str(ref)
        scheme = urlsplit(text).scheme if isinstance(ref, str) else ""
        if scheme in {"http", "https"}:
            if loader != "ipxe":
                raise InvalidInput(
                    f"{field} {text} is a URL, but {loader} loads files over TFTP; fetch it "
                    "into the image cache and pass the local path, or use boot_interface ipxe."
                )
            return text
        if scheme == "file":
            source = Path(url2pathname(urlsplit(text).path))
        elif scheme:
            raise InvalidInput(
                f"{field} {text!r}: unsupported scheme {scheme!r}; use http(s) or file."
            )
        else:
            source = Path(text)
        if not source.is_file():
            raise InvalidInput(f"{field} {source} does not exist or is not a file.")
        link_or_copy_atomic(source, target)
        rel = target.relative_to(self.root_dir).as_posix()
        if loader == "ipxe":
            if not self.http_url:
                raise InvalidInput(
                    "iPXE boot needs the HTTP boot server's URL; set [netboot] http_url."
                )
            return f"{self.http_url}/{rel}"
        # pxelinux resolves relative names against its own directory (the root); GRUB needs
        # an absolute path on its $root device (TFTP or HTTP server).
        return rel if loader == "pxelinux" else f"/{rel}"
