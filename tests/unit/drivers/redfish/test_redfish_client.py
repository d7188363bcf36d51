"""RedfishClient against the lab's virtual Redfish BMC: real HTTP over 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ingot.drivers.redfish.client import RedfishClient
from ingot.errors import DriverError, InvalidInput
from ingot.lab.bmc.redfish import RedfishBmcServer, start_redfish
from ingot.lab.machine import VirtualMachine

USER, PASSWORD = "admin", "r3dfish-pw"


@pytest.fixture
def machines() -> list[VirtualMachine]:
    return [VirtualMachine(name="blade-1"), VirtualMachine(name="blade-2")]


@pytest.fixture
def bmc(machines: list[VirtualMachine]) -> Iterator[RedfishBmcServer]:
    server = start_redfish(machines, 0, USER, PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def single(machines: list[VirtualMachine]) -> Iterator[RedfishBmcServer]:
    server = start_redfish(machines[:1], 0, USER, PASSWORD)
    yield server
    server.stop()


def client(
    bmc: RedfishBmcServer, machine: VirtualMachine | None, **kwargs: object
) -> RedfishClient:
    options: dict[str, object] = {
        "username": USER,
        "password": PASSWORD,
        "poll_interval": 0.05,
        "auth_type": "basic",
        **kwargs,
    }
    system_id = bmc.system_path(machine) if machine else None
    return RedfishClient(bmc.url, system_id, **options)  # type: ignore[arg-type]


def test_power_on_off(bmc: RedfishBmcServer, machines: list[VirtualMachine]) -> None:
    machine = machines[0]
    redfish = client(bmc, machine)
    assert redfish.get_power() == "off"
    redfish.set_power("on", wait_timeout=5)
    assert machine.get_power() == "on"
    assert redfish.get_power() == "on"
    redfish.set_power("off", wait_timeout=5)
    assert machine.get_power() == "off"
    assert machines[1].get_power() == "off"  # the other system was not touched


@pytest.mark.parametrize(
    ("action", "start", "events", "end"),
    [
        ("reset", "on", ["reset"], "on"),
        ("reset", "off", ["on"], "on"),
        ("cycle", "on", ["off", "on"], "on"),
        ("soft", "on", ["off"], "off"),
        ("off", "off", [], "off"),
    ],
)
def test_power_actions(
    bmc: RedfishBmcServer,
    machines: list[VirtualMachine],
    action: str,
    start: str,
    events: list[str],
    end: str,
) -> None:
    machine = machines[1]
    machine.power(start)  # type: ignore[arg-type]
    seen: list[str] = []
    machine.add_listener(lambda _m, event: seen.append(event))
    client(bmc, machine).set_power(action, wait_timeout=5)  # type: ignore[arg-type]
    assert seen == events
    assert machine.get_power() == end


@pytest.mark.parametrize(
    ("device", "persistent"),
    [("pxe", False), ("pxe", True), ("disk", True), ("cdrom", False), ("bios", True)],
)
def test_boot_device_once_or_continuous(
    bmc: RedfishBmcServer, machines: list[VirtualMachine], device: str, persistent: bool
) -> None:
    machine = machines[0]
    redfish = client(bmc, machine)
    redfish.set_boot_device(device, persistent=persistent)  # type: ignore[arg-type]
    assert machine.get_boot_device() == (device, persistent)
    assert redfish.get_boot_device() == (device, persistent)


@pytest.mark.parametrize("mode", ["bios", "uefi"])
def test_boot_mode(bmc: RedfishBmcServer, machines: list[VirtualMachine], mode: str) -> None:
    redfish = client(bmc, machines[0])
    redfish.set_boot_mode(mode)  # type: ignore[arg-type]
    assert machines[0].boot_mode == mode
    assert redfish.get_boot_mode() == mode


def test_supported_boot_devices(bmc: RedfishBmcServer, machines: list[VirtualMachine]) -> None:
    assert set(client(bmc, machines[0]).supported_boot_devices()) == {
        "pxe",
        "disk",
        "cdrom",
        "bios",
    }


def test_the_only_system_is_found_without_an_id(
    single: RedfishBmcServer, machines: list[VirtualMachine]
) -> None:
    redfish = client(single, None, auth_type="auto")
    redfish.set_power("on", wait_timeout=5)
    assert machines[0].get_power() == "on"
    assert redfish.system_id == single.system_path(machines[0])


def test_several_systems_need_an_id(bmc: RedfishBmcServer, machines: list[VirtualMachine]) -> None:
    with pytest.raises(DriverError, match=r"has 2 systems .*redfish_system_id"):
        client(bmc, None).get_power()


def test_unknown_system_id(bmc: RedfishBmcServer) -> None:
    redfish = RedfishClient(bmc.url, "no-such-system", USER, PASSWORD)
    with pytest.raises(DriverError, match="no system /redfish/v1/Systems/no-such-system"):
        redfish.get_power()


@pytest.mark.parametrize("auth_type", ["basic", "auto"])
def test_wrong_password(
    bmc: RedfishBmcServer, machines: list[VirtualMachine], auth_type: str
) -> None:
    redfish = client(bmc, machines[0], password="wrong-pw", auth_type=auth_type)
    with pytest.raises(DriverError) as caught:
        redfish.get_power()
    message = str(caught.value)
    assert "authentication" in message
    assert bmc.url in message
    assert "wrong-pw" not in message


def test_unreachable_bmc() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redfish = RedfishClient(f"http://127.0.0.1:{port}", "x", USER, PASSWORD, timeout=2)
    with pytest.raises(
        DriverError, match=rf"no answer from the Redfish BMC at http://127.0.0.1:{port}"
    ):
        redfish.get_power()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"address": ""}, "redfish_address"),
        ({"address": "ftp://bmc"}, "redfish_address"),
        ({"auth_type": "digest"}, "redfish_auth_type"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    options: dict[str, object] = {"address": "https://bmc.example", **kwargs}
    with pytest.raises(InvalidInput, match=field):
        RedfishClient(**options)  # type: ignore[arg-type]


def test_bare_host_means_https() -> None:
    assert RedfishClient("bmc.example").address == "https://bmc.example"
