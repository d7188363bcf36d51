"""Kernel command line and CLI flags -> AgentConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingot_agent.cli import build_parser, make_config
from ingot_agent.config import bootif_to_mac, config_from_cmdline

CMDLINE = (
    "BOOT_IMAGE=vmlinuz console=ttyS0 ipa-api-url=http://10.99.0.1:6385 "
    "BOOTIF=01-52-54-00-00-00-30 ipa-insecure=1 ipa-debug=1 ipa-global-request-id=req-1 "
    "ipa-inspection-callback-url=http://10.99.0.1:5050/v1/continue ipa-lookup-timeout=60 "
    "ipa-collect-lldp=1"
)


def test_ipa_cmdline_parsed() -> None:
    values = config_from_cmdline(CMDLINE)
    assert values["api_url"] == "http://10.99.0.1:6385"
    assert values["boot_mac"] == "52:54:00:00:00:30"
    assert values["insecure"] is True and values["debug"] is True
    assert values["global_request_id"] == "req-1"
    assert values["inspection_callback_url"] == "http://10.99.0.1:5050/v1/continue"
    assert values["lookup_timeout"] == 60.0
    assert values["extra"] == {"collect_lldp": "1"}


@pytest.mark.parametrize(
    ("bootif", "mac"),
    [
        ("01-AA-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff"),
        ("aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff"),
        ("garbage", None),
        ("01-aa-bb", None),
    ],
)
def test_bootif(bootif: str, mac: str | None) -> None:
    assert bootif_to_mac(bootif) == mac


def test_flags_override_cmdline(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "--cmdline",
            CMDLINE,
            "--api-url",
            "http://127.0.0.1:6385",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            "0",
            "--hardware",
            "virtual",
            "--root-dir",
            str(tmp_path),
            "--node-uuid",
            "n-1",
        ]
    )
    cfg = make_config(args)
    assert cfg.api_url == "http://127.0.0.1:6385"
    assert (cfg.listen_host, cfg.listen_port) == ("127.0.0.1", 0)
    assert cfg.hardware == "virtual" and cfg.root_dir == tmp_path and cfg.node_uuid == "n-1"
    assert cfg.boot_mac == "52:54:00:00:00:30"  # still from BOOTIF


def test_defaults_match_ipa() -> None:
    cfg = make_config(build_parser().parse_args(["--cmdline", ""]))
    assert (cfg.listen_host, cfg.listen_port) == ("0.0.0.0", 9999)
    assert cfg.api_url is None
