"""Lab firmware boot server settings: loopback only, HOST:PORT parsing, remote URLs refused."""

from __future__ import annotations

import re

import pytest

from ingot.errors import InvalidInput
from ingot.lab.firmware import BootPlan, BootServer, NetBoot, parse_tftp


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:6969", ("127.0.0.1", 6969)), ("localhost:69", ("localhost", 69))],
)
def test_tftp_address_parses(text: str, expected: tuple[str, int]) -> None:
    assert parse_tftp(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":69", "127.0.0.1:", "127.0.0.1:x", "h:70000"])
def test_bad_tftp_address_names_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match="--tftp"):
        parse_tftp(text)


@pytest.mark.parametrize(
    "server",
    [{"http_url": "http://10.0.0.1:8080"}, {"tftp": ("192.168.1.1", 69)}],
)
def test_boot_server_must_be_loopback(server: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="loopback"):
        BootServer(**server)  # type: ignore[arg-type]


def test_kernel_on_another_host_is_not_fetched() -> None:
    lines: list[str] = []
    netboot = NetBoot(BootServer("http://127.0.0.1:9"), lines.append)
    plan = BootPlan("ipxe", "http", "52:54:00:00:00:01", "http://203.0.113.5/kernel", None, "")
    with pytest.raises(InvalidInput, match=re.escape("could not load http://203.0.113.5/kernel")):
        netboot.load(plan)
    assert lines == ["refusing http://203.0.113.5/kernel: the lab only fetches from 127.0.0.1"]
