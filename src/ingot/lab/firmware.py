"""A lab server's network boot, over the real protocols against Ingot's boot server.

What a NIC ROM and its loader do, minus DHCP (the lab knows the boot server's address, as
dnsmasq's ``dhcp-boot`` would have told it):

* iPXE (HTTP): GET ``boot.ipxe`` when it exists and follow its ``chain`` to the per-MAC
  script, trying each NIC as the script does; without a chain file, GET
  ``ipxe/<mac-with-dashes>.ipxe`` directly.
* BIOS PXE (TFTP): pxelinux reads ``pxelinux.cfg/01-<mac>``.
* UEFI PXE (TFTP): GRUB reads ``grub/grub.cfg-01-<mac>``, else ``grub/grub.cfg``, whose
  ``configfile /${net_default_mac}.conf`` names the per-MAC file.
* Without a TFTP server, pxelinux and GRUB configs are read over HTTP (UEFI HTTP boot).

The config's kernel and initrd are then fetched the same way (they may be tiny stand-ins in
the lab), and the kernel command line is what the agent gets. A local-boot config
(``sanboot``/``exit``/``localboot``/``chainloader``) sends the firmware to the disk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
import tftpy

from ingot.errors import InvalidInput

Console = Callable[[str], None]
Kind = Literal["ipxe", "pxelinux", "grub"]
Transport = Literal["http", "tftp"]

_TFTP_TIMEOUT = 2  # seconds per packet (tftpy), loopback answers in microseconds
_TFTP_RETRIES = 1
_CHAIN_DEPTH = 4  # iPXE scripts chaining scripts; real configs use 1 (boot.ipxe -> per-MAC)
_LOCAL_BOOT = ("sanboot", "exit", "localboot", "chainloader")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_MAC_VAR = re.compile(r"\$\{(?:net(\d+)/)?mac(?::(hexhyp|hex))?\}")


@dataclass(frozen=True)
class BootServer:
    """Where the firmware finds boot files: Ingot's HTTP boot server and/or its TFTP server."""

    http_url: str | None = None
    tftp: tuple[str, int] | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        for host in (self.http_host, self.tftp[0] if self.tftp else None):
            if host is not None and host not in LOOPBACK:
                raise InvalidInput(
                    f"lab boot server host {host!r}: the lab only talks to loopback; "
                    "run the boot server on 127.0.0.1."
                )

    @property
    def http_host(self) -> str | None:
        return httpx.URL(self.http_url).host if self.http_url else None


def parse_tftp(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); raises InvalidInput naming the option."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"--tftp {text!r}: give HOST:PORT, e.g. 127.0.0.1:6969.")
    return host, int(port)


@dataclass(frozen=True)
class BootPlan:
    """What the boot config says: a kernel to run with its command line, or boot the disk."""

    kind: Kind
    transport: Transport
    mac: str
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""

    @property
    def local(self) -> bool:
        return self.kernel is None


def hyphenated(mac: str) -> str:
    return mac.lower().replace(":", "-")


class NetBoot:
    """One network boot attempt of one server; every step is written to ``console``."""

    def __init__(self, server: BootServer, console: Console) -> None:
        self.server = server
        self.console = console
        # A server that did not answer once is not asked again in this boot: a ROM would
        # wait out every timeout, but the lab's point is to fail fast and say why.
        self._down: set[Transport] = set()

    def find_config(self, macs: list[str], boot_mode: str) -> BootPlan | None:
        """The boot plan for this server, or None if the boot server has nothing for it."""
        for index, mac in enumerate(macs):
            self.console(f"net{index}: {mac} DHCP ... lab boot server {self._where()}")
        if self.server.http_url:
            plan = self._ipxe(macs)
            if plan is not None:
                return plan
        kind: Kind = "pxelinux" if boot_mode == "bios" else "grub"
        for mac in macs:
            plan = self._pxe(kind, mac)
            if plan is not None:
                return plan
        self.console("PXE-E53: no boot filename received for any NIC")
        return None

    def load(self, plan: BootPlan) -> None:
        """Fetch the kernel and initrd (proving they exist); raises InvalidInput if one is not."""
        for name in (plan.kernel, plan.initrd):
            if not name:
                continue
            size = self._get_bytes(plan.transport, name)
            if size is None:
                raise InvalidInput(
                    f"{plan.kind}: could not load {name} over {plan.transport.upper()}; "
                    "is the deploy kernel/ramdisk staged on the boot server?"
                )
            self.console(f"{plan.transport.upper()}: loaded {name} ({size} bytes)")

    # -- iPXE ---------------------------------------------------------------------------------

    def _ipxe(self, macs: list[str]) -> BootPlan | None:
        chain = self._http_text("boot.ipxe")
        if chain is not None:
            self.console("iPXE: running boot.ipxe")
            found = self._follow_chain(chain, macs, depth=0)
        else:
            found = None
            for mac in macs:
                text = self._http_text(f"ipxe/{hyphenated(mac)}.ipxe")
                if text is not None:
                    found = (text, mac)
                    break
        if found is None:
            self.console("iPXE: no script for this server; falling back to PXE")
            return None
        text, mac = found
        return self._plan("ipxe", "http", mac, text)

    def _follow_chain(self, script: str, macs: list[str], depth: int) -> tuple[str, str] | None:
        """Run the script's ``chain`` lines as iPXE would; (target script, NIC MAC) or None."""
        if depth >= _CHAIN_DEPTH:
            self.console("iPXE: too many chained scripts")
            return None
        for raw in script.splitlines():
            words = raw.split("||")[0].split()
            if not words or words[0] != "chain":
                continue
            target = [w for w in words[1:] if not w.startswith("--")]
            if not target:
                continue
            # boot.ipxe loops over net0, net1, ... with ${netid}; other scripts name one NIC.
            indexes = range(len(macs)) if "${netid}" in target[0] else range(1)
            for index in indexes:
                url = _expand(target[0], macs, index)
                text = self._http_text(url)
                if text is None:
                    continue
                if _is_final(text):
                    return text, macs[index]
                return self._follow_chain(text, macs, depth + 1)
        return None

    # -- PXE (TFTP, or HTTP when the lab has no TFTP server) -------------------------------------

    def _pxe(self, kind: Kind, mac: str) -> BootPlan | None:
        transport: Transport = "tftp" if self.server.tftp else "http"
        if kind == "pxelinux":
            paths = [f"pxelinux.cfg/01-{hyphenated(mac)}"]
        else:
            paths = [f"grub/grub.cfg-01-{hyphenated(mac)}", "grub/grub.cfg"]
        for path in paths:
            text = self._text(transport, path)
            if text is None:
                continue
            if kind == "grub" and path == "grub/grub.cfg":
                text = self._grub_configfile(transport, text, mac)
                if text is None:
                    continue
            return self._plan(kind, transport, mac, text)
        return None

    def _grub_configfile(self, transport: Transport, text: str, mac: str) -> str | None:
        for raw in text.splitlines():
            words = raw.split()
            if len(words) == 2 and words[0] == "configfile":
                return self._text(transport, words[1].replace("${net_default_mac}", mac.lower()))
        return None

    def _plan(self, kind: Kind, transport: Transport, mac: str, text: str) -> BootPlan:
        parsed = parse_boot_config(kind, text)
        if parsed is None:
            self.console(f"{kind}: local boot requested")
            return BootPlan(kind, transport, mac)
        kernel, initrd, cmdline = parsed
        return BootPlan(kind, transport, mac, kernel, initrd, cmdline)

    # -- transports ---------------------------------------------------------------------------

    def _where(self) -> str:
        parts = []
        if self.server.http_url:
            parts.append(self.server.http_url)
        if self.server.tftp:
            parts.append("tftp://{}:{}".format(*self.server.tftp))
        return " and ".join(parts) or "(none configured)"

    def _url(self, name: str) -> str:
        """The URL for ``name``; "" (nothing to fetch) for one the lab must not reach."""
        if not name.startswith(("http://", "https://")):
            return f"{self.server.http_url}/{name.lstrip('/')}" if self.server.http_url else ""
        if httpx.URL(name).host not in LOOPBACK:
            self.console(f"refusing {name}: the lab only fetches from 127.0.0.1")
            return ""
        return name

    def _text(self, transport: Transport, name: str) -> str | None:
        if transport == "http":
            return self._http_text(name)
        data = self._tftp_get(name, keep=True)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else None

    def _http_text(self, name: str) -> str | None:
        url = self._url(name)
        if not url.startswith("http") or "http" in self._down:
            return None
        try:
            response = httpx.get(url, timeout=self.server.timeout)
        except httpx.HTTPError as exc:
            self.console(f"HTTP GET {url}: {exc}; the HTTP boot server is not answering")
            self._down.add("http")
            return None
        self.console(f"HTTP GET {url}: {response.status_code}")
        return response.text if response.status_code == 200 else None

    def _get_bytes(self, transport: Transport, name: str) -> int | None:
        if transport == "tftp" and not name.startswith(("http://", "https://")):
            got = self._tftp_get(name, keep=False)
            return got if isinstance(got, int) else None
        url = self._url(name)
        if not url:
            return None
        try:
            with httpx.stream("GET", url, timeout=self.server.timeout) as response:
                if response.status_code != 200:
                    self.console(f"HTTP GET {url}: {response.status_code}")
                    return None
                return sum(len(chunk) for chunk in response.iter_bytes())
        except httpx.HTTPError as exc:
            self.console(f"HTTP GET {url}: {exc}")
            return None

    def _tftp_get(self, name: str, keep: bool) -> bytes | int | None:
        """TFTP RRQ of ``name``: its bytes (``keep``) or its size; None if not served."""
        assert self.server.tftp is not None
        if "tftp" in self._down:
            return None
        host, port = self.server.tftp
        sink = _Sink(keep)
        try:
            tftpy.TftpClient(host, port).download(
                name.lstrip("/"), sink, timeout=_TFTP_TIMEOUT, retries=_TFTP_RETRIES
            )
        except tftpy.TftpTimeout as exc:
            self.console(f"TFTP get {name}: {exc}; the TFTP server is not answering")
            self._down.add("tftp")
            return None
        except (tftpy.TftpException, OSError) as exc:
            self.console(f"TFTP get {name}: {exc}")
            return None
        self.console(f"TFTP get {name}: {sink.size} bytes")
        return bytes(sink.data) if keep else sink.size


class _Sink:
    """A file-like target for tftpy that counts bytes and keeps them only when asked."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.data = bytearray()
        self.size = 0

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        if self.keep:
            self.data += chunk
        return len(chunk)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _expand(template: str, macs: list[str], index: int) -> str:
    """Expand iPXE's ``${netid}`` and ``${netN/mac[:hexhyp]}`` settings for NIC ``index``."""
    text = template.replace("${netid}", str(index))

    def mac_of(match: re.Match[str]) -> str:
        nic = int(match.group(1)) if match.group(1) is not None else index
        mac = macs[nic] if nic < len(macs) else "00:00:00:00:00:00"
        if match.group(2) == "hexhyp":
            return hyphenated(mac)
        if match.group(2) == "hex":
            return mac.lower()
        return mac.lower()

    return _MAC_VAR.sub(mac_of, text)


def _is_final(script: str) -> bool:
    """A script that boots something (kernel or local disk) rather than chaining on."""
    heads = {line.split()[0] for line in script.splitlines() if line.split()}
    return bool(heads & {"kernel", *_LOCAL_BOOT}) or "chain" not in heads


def parse_boot_config(kind: str, text: str) -> tuple[str | None, str | None, str] | None:
    """(kernel, initrd, kernel command line) from a boot config; None means boot locally."""
    kernel = initrd = None
    cmdline: list[str] = []
    for raw in text.splitlines():
        line = raw.split("||")[0].strip()
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        head = words[0].lower()
        if kernel is None and head in _LOCAL_BOOT:
            return None
        if kind == "ipxe" and head == "kernel":
            rest = _drop_options(words[1:])
            kernel, cmdline = rest[0], [w for w in rest[1:] if not w.startswith("initrd=")]
        elif kind == "ipxe" and head == "initrd":
            initrd = _drop_options(words[1:])[0]
        elif kind == "pxelinux" and head == "kernel":
            kernel = words[1]
        elif kind == "pxelinux" and head == "append":
            for word in words[1:]:
                if word.startswith("initrd="):
                    initrd = word.split("=", 1)[1]
                else:
                    cmdline.append(word)
        elif kind == "grub" and head in ("linux", "linuxefi"):
            kernel, cmdline = words[1], words[2:]
        elif kind == "grub" and head in ("initrd", "initrdefi"):
            initrd = words[1]
    if kernel is None:
        return None
    return kernel, initrd, " ".join(cmdline)


def _drop_options(words: list[str]) -> list[str]:
    """iPXE options (``--name X``, ``--autofree``) come before the URL."""
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--name":
            skip = True
        elif not word.startswith("--"):
            out.append(word)
    return out
