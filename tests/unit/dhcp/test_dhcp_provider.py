"""[dhcp] settings -> the dnsmasq Ingot runs, and the provider the boot interfaces call."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ingot.dhcp import provider
from ingot.errors import ConfigError
from ingot.netboot import dnsmasq
from ingot.settings import IngotSettings, load_settings


def make(tmp_path: Path, **dhcp: Any) -> IngotSettings:
    values: dict[str, Any] = {
        "dhcp_provider": "dnsmasq",
        "interface": "br0",
        "dhcp_range": ["10.99.0.100,10.99.0.200"],
        "user": "root",
    }
    values.update(dhcp)
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        deploy={"http_url": "http://10.99.0.1:8080"},
        dhcp=values,
    )


def test_config_from_settings(tmp_path: Path) -> None:
    settings = make(tmp_path)
    config = provider.dnsmasq_config(settings)
    assert config.server_ip == "10.99.0.1"  # the boot URL's host
    assert config.tftp_root == settings.boot_root
    assert config.dhcp_ranges == (dnsmasq.DhcpRange("10.99.0.100", "10.99.0.200"),)
    text = dnsmasq.render_config(config)
    assert "interface=br0" in text
    assert "dhcp-boot=tag:!pxe,tag:ipxe,http://10.99.0.1:8080/boot.ipxe" in text


@pytest.mark.parametrize(
    ("dhcp", "pxe", "match"),
    [
        ({"interface": None}, {}, r"\[dhcp\] interface"),
        ({"dhcp_range": []}, {}, "dhcp_range is empty"),
        ({"dhcp_range": ["10.0.0.1"]}, {}, "start,end"),
        ({}, {"tftp_server": "boot.example"}, "tftp_server"),
    ],
)
def test_config_errors_name_the_option(
    tmp_path: Path, dhcp: dict[str, Any], pxe: dict[str, Any], match: str
) -> None:
    settings = make(tmp_path, **dhcp)
    settings.pxe.tftp_server = pxe.get("tftp_server")
    with pytest.raises(ConfigError, match=match):
        provider.dnsmasq_config(settings)


def test_tftp_server_overrides_and_tftp_can_be_off(tmp_path: Path) -> None:
    settings = make(tmp_path, enable_tftp=False)
    settings.pxe.tftp_server = "10.99.0.2"
    config = provider.dnsmasq_config(settings)
    assert (config.server_ip, config.tftp_root) == ("10.99.0.2", None)


def test_providers(tmp_path: Path) -> None:
    assert isinstance(provider.provider_for(make(tmp_path, dhcp_provider="none")), provider.NoDhcp)
    dhcp = provider.provider_for(make(tmp_path))
    assert isinstance(dhcp, provider.DnsmasqDhcp)
    dhcp.enable_boot([provider.BootPort("52:54:00:00:00:01", "port-1", "10.99.0.9")], pxe=True)
    entry = tmp_path / "state" / "dnsmasq" / "hostsdir" / "52-54-00-00-00-01"
    assert entry.read_text() == "52:54:00:00:00:01,set:port-1,set:pxe,10.99.0.9\n"
    dhcp.disable_boot(["52:54:00:00:00:01"])
    assert entry.read_text() == "52:54:00:00:00:01,ignore\n"


@pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="dnsmasq not installed")
def test_dnsmasq_accepts_config_from_settings(tmp_path: Path) -> None:
    settings = make(tmp_path)
    settings.boot_root.mkdir(parents=True)
    dnsmasq.check_config(provider.dnsmasq_config(settings))
