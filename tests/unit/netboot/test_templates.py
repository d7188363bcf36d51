"""Rendered boot configs: what each loader gets, per MAC, and refusal of unsafe values."""

from __future__ import annotations

import pytest

from ingot.errors import InvalidInput
from ingot.netboot import templates
from ingot.netboot.macs import normalize_mac
from ingot.netboot.templates import AgentCmdline

MAC = "52:54:00:AB:CD:EF"
NODE = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"),
        ("52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef"),
        ("525400abcdef", "52:54:00:ab:cd:ef"),
    ],
)
def test_normalize_mac(given: str, expected: str) -> None:
    assert normalize_mac(given) == expected


@pytest.mark.parametrize("bad", ["52:54:00:ab:cd", "52:54-00:ab:cd:ef", "zz:54:00:ab:cd:ef", ""])
def test_normalize_mac_refuses(bad: str) -> None:
    with pytest.raises(InvalidInput, match="MAC address"):
        normalize_mac(bad)


@pytest.mark.parametrize(
    ("interface", "mode", "loader"),
    [
        ("pxe", "bios", "pxelinux"),
        ("pxe", "uefi", "grub"),
        ("ipxe", "bios", "ipxe"),
        ("ipxe", "uefi", "ipxe"),
        ("http", "uefi", "grub"),
    ],
)
def test_loader_for(
    interface: templates.BootInterface, mode: templates.BootMode, loader: str
) -> None:
    assert templates.loader_for(interface, mode) == loader


def test_http_boot_needs_uefi() -> None:
    with pytest.raises(InvalidInput, match="uefi"):
        templates.loader_for("http", "bios")


def test_agent_cmdline_words() -> None:
    line = AgentCmdline(
        api_url="http://10.99.0.1:6385",
        global_request_id="req-123",
        consoles=("tty0", "ttyS0,115200n8"),
        kernel_append_params="nofb nomodeset",
        extra={"ipa-debug": "1"},
    ).render(MAC)
    assert line.split() == [
        "ipa-api-url=http://10.99.0.1:6385",
        "BOOTIF=01-52-54-00-ab-cd-ef",
        "ipa-global-request-id=req-123",
        "ipa-debug=1",
        "console=tty0",
        "console=ttyS0,115200n8",
        "nofb",
        "nomodeset",
    ]


def test_agent_token_only_when_given() -> None:
    assert "ipa-agent-token" not in AgentCmdline(api_url="http://a").render(MAC)
    line = AgentCmdline(api_url="http://a", agent_token="tok").render(MAC)
    assert "ipa-agent-token=tok" in line.split()


@pytest.mark.parametrize(
    "cmdline",
    [
        AgentCmdline(api_url="http://a b"),
        AgentCmdline(api_url="http://a", kernel_append_params="x\nkernel evil"),
        AgentCmdline(api_url="http://a", extra={"k": "v'"}),
    ],
)
def test_unsafe_cmdline_refused(cmdline: AgentCmdline) -> None:
    with pytest.raises(InvalidInput):
        cmdline.render(MAC)


def test_ipxe_ramdisk_script() -> None:
    text = templates.render_ramdisk(
        "ipxe",
        node_uuid=NODE,
        mac=MAC,
        kernel="http://10.99.0.1:8080/n/deploy_kernel",
        ramdisk="http://10.99.0.1:8080/n/deploy_ramdisk",
        cmdline="ipa-api-url=http://x BOOTIF=01-52-54-00-ab-cd-ef",
        purpose="clean",
    )
    lines = text.splitlines()
    assert lines[0] == "#!ipxe"
    assert (
        "kernel --name kernel http://10.99.0.1:8080/n/deploy_kernel initrd=ramdisk "
        "ipa-api-url=http://x BOOTIF=01-52-54-00-ab-cd-ef || goto retry"
    ) in lines
    assert "initrd --name ramdisk http://10.99.0.1:8080/n/deploy_ramdisk || goto retry" in lines
    assert "boot || goto retry" in lines
    assert "clean" in lines[1] and NODE in lines[1]
    assert "$" not in text.replace("${", "")  # no unsubstituted template variable


def test_pxelinux_ramdisk_config() -> None:
    text = templates.render_ramdisk(
        "pxelinux", node_uuid=NODE, mac=MAC, kernel="n/k", ramdisk="n/r", cmdline="a=1 b"
    )
    body = [line.strip() for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        "default ingot",
        "prompt 0",
        "timeout 0",
        "label ingot",
        "kernel n/k",
        "append initrd=n/r a=1 b",
    ]


def test_grub_ramdisk_config() -> None:
    text = templates.render_ramdisk(
        "grub", node_uuid=NODE, mac=MAC, kernel="/n/k", ramdisk="/n/r", cmdline="a=1"
    )
    assert "set default=ingot" in text
    assert "    linux /n/k a=1\n    initrd /n/r\n" in text


@pytest.mark.parametrize(
    ("loader", "mode", "expected"),
    [
        ("ipxe", "bios", "sanboot --no-describe --drive 0x80 || exit"),
        ("ipxe", "uefi", "\nexit\n"),
        ("pxelinux", "bios", "localboot 0"),
        ("grub", "uefi", "    exit\n"),
    ],
)
def test_local_boot(loader: templates.Loader, mode: templates.BootMode, expected: str) -> None:
    text = templates.render_local_boot(loader, mode, node_uuid=NODE, mac=MAC)
    assert expected in text
    assert "kernel" not in text


def test_partition_cmdline() -> None:
    line = templates.partition_cmdline("0b6a-11", "console=ttyS0")
    assert line == "root=UUID=0b6a-11 ro console=ttyS0"


def test_ipxe_chain_script_loops_over_nics() -> None:
    text = templates.render_ipxe_chain("http://10.99.0.1:8080/ipxe/")
    assert text.startswith("#!ipxe\n")
    assert (
        "chain --autofree http://10.99.0.1:8080/ipxe/${net${netid}/mac:hexhyp}.ipxe"
        " || goto next_nic" in text
    )
    assert "isset ${net${netid}/mac} || goto no_config" in text


@pytest.mark.parametrize(
    ("loader", "paths"),
    [
        ("pxelinux", ("pxelinux.cfg/01-52-54-00-ab-cd-ef",)),
        ("grub", ("grub/grub.cfg-01-52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef.conf")),
        ("ipxe", ("ipxe/52-54-00-ab-cd-ef.ipxe",)),
    ],
)
def test_config_paths(loader: templates.Loader, paths: tuple[str, ...]) -> None:
    assert templates.config_paths(loader, MAC) == paths
