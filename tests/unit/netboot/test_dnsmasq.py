"""dnsmasq: the rendered config, per-MAC host entries, dnsmasq's own --test, and (as root,
inside network namespaces this test creates) real DHCP answers to busybox udhcpc."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingot.errors import ConfigError, InvalidInput
from ingot.netboot import dnsmasq

MAC = "52:54:00:00:00:20"


def _config(tmp_path: Path, **changes: object) -> dnsmasq.Config:
    values: dict[str, object] = {
        "state_dir": tmp_path / "dnsmasq",
        "interface": "br0",
        "server_ip": "10.99.0.1",
        "http_url": "http://10.99.0.1:8080/",
        "dhcp_ranges": (dnsmasq.DhcpRange("10.99.0.100", "10.99.0.200"),),
        "tftp_root": tmp_path / "tftpboot",
        "ra_prefix": "fd99::",
        "user": "root",
    }
    values.update(changes)
    return dnsmasq.Config(**values)  # type: ignore[arg-type]


def test_render_config(tmp_path: Path) -> None:
    lines = dnsmasq.render_config(_config(tmp_path)).splitlines()
    state = tmp_path / "dnsmasq"
    for expected in [
        "port=0",
        "interface=br0",
        "bind-interfaces",
        "user=root",
        "dhcp-range=10.99.0.100,10.99.0.200,255.255.255.0,10m",
        f"dhcp-hostsdir={state}/hostsdir",
        f"dhcp-optsdir={state}/optsdir",
        "enable-tftp",
        f"tftp-root={tmp_path}/tftpboot",
        "dhcp-userclass=set:ipxe,iPXE",
        "dhcp-match=set:efi64,option:client-arch,7",
        "dhcp-boot=tag:!pxe,tag:!ipxe,tag:!efi64,undionly.kpxe,,10.99.0.1",
        "dhcp-boot=tag:!pxe,tag:!ipxe,tag:efi64,ipxe.efi,,10.99.0.1",
        "dhcp-boot=tag:!pxe,tag:ipxe,http://10.99.0.1:8080/boot.ipxe",
        "dhcp-boot=tag:pxe,tag:!efi64,pxelinux.0,,10.99.0.1",
        "enable-ra",
        "dhcp-range=fd99::,ra-only,64",
    ]:
        assert expected in lines
    assert "dhcp-ignore=tag:!known" not in lines


def test_render_minimal(tmp_path: Path) -> None:
    text = dnsmasq.render_config(
        _config(tmp_path, tftp_root=None, ra_prefix=None, user=None, ignore_unknown=True)
    )
    assert "enable-tftp" not in text and "enable-ra" not in text and "user=" not in text
    assert "dhcp-ignore=tag:!known\n" in text


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"interface": ""}, "interface"),
        ({"interface": "*"}, "interface"),
        ({"interface": "br0\nport=53"}, "interface"),
        ({"dhcp_ranges": ()}, "dhcp_range"),
        ({"dhcp_ranges": (dnsmasq.DhcpRange("10.99.0.1", "nope"),)}, "range end"),
        ({"server_ip": "example"}, "server_ip"),
        ({"ra_prefix": "10.0.0.0"}, "ra_prefix"),
        ({"extra_lines": ("a\nb",)}, "newline"),
    ],
)
def test_render_refuses(tmp_path: Path, changes: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        dnsmasq.render_config(_config(tmp_path, **changes))


@pytest.fixture
def hosts(tmp_path: Path) -> dnsmasq.HostsDir:
    return dnsmasq.prepare(_config(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({}, "52:54:00:00:00:20,set:node-1"),
        ({"pxe": True}, "52:54:00:00:00:20,set:node-1,set:pxe"),
        (
            {"ip": "10.99.0.20", "hostname": "c0.lab"},
            "52:54:00:00:00:20,set:node-1,10.99.0.20,c0.lab",
        ),
    ],
)
def test_host_entries(hosts: dnsmasq.HostsDir, kwargs: dict[str, object], line: str) -> None:
    assert hosts.allow(MAC.upper(), "node-1", **kwargs) == line  # type: ignore[arg-type]
    assert hosts.path(MAC).read_text() == line + "\n"
    assert hosts.path(MAC).name == "52-54-00-00-00-20"


def test_ignore_replaces_and_remove(hosts: dnsmasq.HostsDir) -> None:
    hosts.allow(MAC, "node-1")
    hosts.ignore(MAC)
    assert hosts.path(MAC).read_text() == "52:54:00:00:00:20,ignore\n"
    assert hosts.remove(MAC) is True
    assert hosts.remove(MAC) is False


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tag": "pxe"},
        {"tag": "a,b"},
        {"tag": "x", "ip": "10.0.0.300"},
        {"tag": "x", "hostname": "a b"},
    ],
)
def test_host_entry_refuses(hosts: dnsmasq.HostsDir, kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        hosts.allow(MAC, **kwargs)  # type: ignore[arg-type]


def test_options(hosts: dnsmasq.HostsDir) -> None:
    hosts.set_options("node-1", ["option:mtu,9000"])
    assert hosts.optsdir is not None
    assert (hosts.optsdir / "node-1").read_text() == "tag:node-1,option:mtu,9000\n"
    assert hosts.clear_options("node-1")


needs_dnsmasq = pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="dnsmasq not installed")


@needs_dnsmasq
def test_dnsmasq_accepts_rendered_config(tmp_path: Path) -> None:
    (tmp_path / "tftpboot").mkdir()
    dnsmasq.check_config(_config(tmp_path))


@needs_dnsmasq
def test_dnsmasq_rejects_bad_extra_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dnsmasq rejects"):
        dnsmasq.check_config(_config(tmp_path, extra_lines=("no-such-option=1",)))


def test_missing_binary_names_package() -> None:
    with pytest.raises(ConfigError, match="dnsmasq-base"):
        dnsmasq.find_dnsmasq("dnsmasq-not-here")


# -- real DHCP inside throwaway network namespaces (root only) ----------------------------

_CAN_NETNS = (
    os.geteuid() == 0
    and shutil.which("dnsmasq") is not None
    and shutil.which("busybox") is not None
    and shutil.which("ip") is not None
)
UDHCPC_SCRIPT = '#!/bin/sh\n[ "$1" = bound ] && echo "ip=$ip siaddr=$siaddr boot_file=$boot_file"\n'


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def netns_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth pair; nothing touches the root namespace."""
    suffix = uuid.uuid4().hex[:6]
    srv, cli = f"ingot-t-srv-{suffix}", f"ingot-t-cli-{suffix}"
    try:
        _ip("netns", "add", srv)
        _ip("netns", "add", cli)
        _ip("-n", srv, "link", "add", "vsrv", "type", "veth", "peer", "name", "vcli")
        _ip("-n", srv, "link", "set", "vcli", "netns", cli)
        _ip("-n", srv, "addr", "add", "10.99.7.1/24", "dev", "vsrv")
        _ip("-n", srv, "link", "set", "vsrv", "up")
        _ip("-n", cli, "link", "set", "vcli", "address", MAC, "up")
        yield srv, cli
    finally:
        for name in (cli, srv):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _lease(cli: str, script: Path, *extra: str) -> str:
    result = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            cli,
            "busybox",
            "udhcpc",
            "-i",
            "vcli",
            "-f",
            "-q",
            "-n",
            "-t",
            "3",
            "-T",
            "1",
            "-s",
            str(script),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return result.stdout.strip()


@pytest.mark.skipif(not _CAN_NETNS, reason="needs root, ip, dnsmasq and busybox")
def test_real_dhcp_in_netns(tmp_path: Path, netns_pair: tuple[str, str]) -> None:
    srv, cli = netns_pair
    script = tmp_path / "print.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    config = _config(
        tmp_path,
        interface="vsrv",
        server_ip="10.99.7.1",
        http_url="http://10.99.7.1:8080",
        dhcp_ranges=(dnsmasq.DhcpRange("10.99.7.100", "10.99.7.150"),),
        tftp_root=None,
        ra_prefix=None,
        ignore_unknown=True,
    )
    process = dnsmasq.DnsmasqProcess(config, netns=srv)
    hosts = process.start(wait=0.3)
    try:
        assert process.running
        # we supervise dnsmasq itself, not a wrapper: `ip netns exec` execs it
        assert config.pid_file.read_text().strip() == str(process.pid)
        assert _lease(cli, script) == ""  # unknown MAC: ignored

        hosts.allow(MAC, "node-1", ip="10.99.7.20")  # picked up live through inotify
        bios = "ip=10.99.7.20 siaddr=10.99.7.1 boot_file=undionly.kpxe"
        assert _lease(cli, script) == bios
        assert _lease(cli, script, "-x", "0x5d:0007").endswith("boot_file=ipxe.efi")
        ipxe = _lease(cli, script, "-x", "0x4d:0469505845")
        assert ipxe.endswith("boot_file=http://10.99.7.1:8080/boot.ipxe")

        hosts.allow(MAC, "node-1", ip="10.99.7.21", pxe=True)
        assert _lease(cli, script) == "ip=10.99.7.21 siaddr=10.99.7.1 boot_file=pxelinux.0"

        hosts.ignore(MAC)
        assert _lease(cli, script) == ""
    finally:
        process.stop()
    assert not process.running
