"""IpmiClient against the lab's virtual IPMI BMCs: real RMCP+ over 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ingot.drivers.bmc_access import BmcAccess
from ingot.drivers.ipmi.client import IpmiClient
from ingot.errors import DriverError, InvalidInput
from ingot.lab.bmc.ipmi import IpmiBmcServer, IpmiFaults, start_ipmi_bmcs
from ingot.lab.machine import VirtualMachine

USER, PASSWORD = "admin", "s3cret-pw"


@pytest.fixture
def machines() -> list[VirtualMachine]:
    return [VirtualMachine(name=f"node-{i}") for i in range(3)]


@pytest.fixture
def bmcs(machines: list[VirtualMachine]) -> Iterator[IpmiBmcServer]:
    server = start_ipmi_bmcs([(m, 0) for m in machines], USER, PASSWORD)
    yield server
    server.stop()


def client(
    bmcs: IpmiBmcServer, machine: VirtualMachine, password: str = PASSWORD, **kwargs: object
) -> IpmiClient:
    options: dict[str, object] = {"poll_interval": 0.05, "retry_interval": 0.1, **kwargs}
    return IpmiClient(
        "127.0.0.1",
        bmcs.port_of(machine),
        USER,
        password,
        **options,  # type: ignore[arg-type]
    )


def test_power_on_off_and_status(bmcs: IpmiBmcServer, machines: list[VirtualMachine]) -> None:
    machine = machines[0]
    ipmi = client(bmcs, machine)
    assert ipmi.get_power() == "off"
    ipmi.set_power("on", wait_timeout=5)
    assert machine.get_power() == "on"
    assert ipmi.get_power() == "on"
    ipmi.set_power("off", wait_timeout=5)
    assert machine.get_power() == "off"


@pytest.mark.parametrize(
    ("action", "start", "events", "end"),
    [
        ("reset", "on", ["reset"], "on"),
        ("reset", "off", ["on"], "on"),
        ("cycle", "on", ["off", "on"], "on"),
        ("soft", "on", ["off"], "off"),
        ("on", "on", [], "on"),
    ],
)
def test_power_actions(
    bmcs: IpmiBmcServer,
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
    client(bmcs, machine).set_power(action, wait_timeout=5)  # type: ignore[arg-type]
    assert seen == events
    assert machine.get_power() == end


def test_out_of_band_change_is_read(bmcs: IpmiBmcServer, machines: list[VirtualMachine]) -> None:
    ipmi = client(bmcs, machines[2])
    assert ipmi.get_power() == "off"
    machines[2].power("on")
    assert ipmi.get_power() == "on"


@pytest.mark.parametrize(
    ("device", "persistent", "uefi"),
    [
        ("pxe", False, True),
        ("pxe", True, False),
        ("disk", True, True),
        ("cdrom", False, False),
        ("bios", False, True),
    ],
)
def test_boot_device_round_trip(
    bmcs: IpmiBmcServer,
    machines: list[VirtualMachine],
    device: str,
    persistent: bool,
    uefi: bool,
) -> None:
    machine = machines[0]
    ipmi = client(bmcs, machine)
    ipmi.set_boot_device(device, persistent=persistent, uefi=uefi)  # type: ignore[arg-type]
    assert machine.get_boot_device() == (device, persistent)
    assert machine.boot_mode == ("uefi" if uefi else "bios")
    assert ipmi.get_boot_device() == (device, persistent)
    assert ipmi.get_boot_mode() == ("uefi" if uefi else "bios")


def test_supported_boot_devices_include_the_basics(
    bmcs: IpmiBmcServer, machines: list[VirtualMachine]
) -> None:
    assert {"pxe", "disk", "cdrom", "bios"} <= set(
        client(bmcs, machines[0]).supported_boot_devices()
    )


@pytest.mark.parametrize(("user", "password"), [(USER, "wrong"), ("nobody", PASSWORD)])
def test_bad_credentials_give_clear_error(
    bmcs: IpmiBmcServer, machines: list[VirtualMachine], user: str, password: str
) -> None:
    port = bmcs.port_of(machines[0])
    ipmi = IpmiClient("127.0.0.1", port, user, password, retry_timeout=5)
    with pytest.raises(DriverError) as caught:
        ipmi.get_power()
    message = str(caught.value)
    assert "authentication" in message
    assert f"127.0.0.1:{port}" in message
    assert "ipmi_password" in message
    assert password not in message.replace("ipmi_password", "")


def test_unreachable_bmc_says_no_answer(
    bmcs: IpmiBmcServer, machines: list[VirtualMachine]
) -> None:
    bmcs.bmc_for(machines[1]).faults.silent = True
    ipmi = client(bmcs, machines[1], retry_timeout=0.5)
    with pytest.raises(
        DriverError, match=r"no answer from the IPMI BMC at 127\.0\.0\.1:\d+ after 1 try"
    ):
        ipmi.get_power()
    bmcs.bmc_for(machines[1]).faults = IpmiFaults()
    assert ipmi.get_power() == "off"  # and it recovers when the BMC answers again


def test_dropped_packets_are_retried(bmcs: IpmiBmcServer, machines: list[VirtualMachine]) -> None:
    machine = machines[2]
    bmcs.bmc_for(machine).faults.drop_rate = 0.1
    ipmi = client(bmcs, machine)
    for state in ("on", "off", "on", "off"):
        ipmi.set_power(state, wait_timeout=20)  # type: ignore[arg-type]
        assert machine.get_power() == state


def test_three_bmcs_in_parallel_share_one_access_limit(
    bmcs: IpmiBmcServer, machines: list[VirtualMachine]
) -> None:
    access = BmcAccess(max_parallel=2)
    errors: list[BaseException] = []

    def work(machine: VirtualMachine) -> None:
        try:
            ipmi = client(bmcs, machine, access=access)
            for _ in range(3):
                ipmi.set_power("on", wait_timeout=5)
                ipmi.set_boot_device("pxe")
                ipmi.set_power("off", wait_timeout=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m,)) for m in machines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [m.get_boot_device() for m in machines] == [("pxe", False)] * 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"address": ""}, "ipmi_address"),
        ({"port": 0}, "ipmi_port"),
        ({"priv_level": "ROOT"}, "ipmi_priv_level"),
        ({"cipher_suite": 1}, "ipmi_cipher_suite"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    options: dict[str, object] = {"address": "127.0.0.1", **kwargs}
    with pytest.raises(InvalidInput, match=field):
        IpmiClient(**options)  # type: ignore[arg-type]
