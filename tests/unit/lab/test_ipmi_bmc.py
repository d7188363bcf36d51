"""Virtual IPMI BMCs: many per process, ports freed on stop, checked with pyghmi's client."""

from __future__ import annotations

import socket

import pytest

from ingot.drivers.ipmi.client import IpmiClient
from ingot.lab.bmc.ipmi import start_ipmi_bmcs
from ingot.lab.machine import VirtualMachine


def test_many_bmcs_each_control_their_own_machine() -> None:
    machines = [VirtualMachine(name=f"m{i}") for i in range(5)]
    with start_ipmi_bmcs([(m, 0) for m in machines], "admin", "pw") as server:
        ports = {server.port_of(m) for m in machines}
        assert len(ports) == 5
        target = machines[3]
        IpmiClient("127.0.0.1", server.port_of(target), "admin", "pw").set_power("on", 5)
        assert [m.get_power() for m in machines] == ["off", "off", "off", "on", "off"]


def test_stop_frees_the_port_for_a_new_server() -> None:
    machine = VirtualMachine(name="m")
    server = start_ipmi_bmcs([(machine, 0)], "admin", "pw")
    port = server.port_of(machine)
    server.stop()
    server.stop()  # idempotent
    with start_ipmi_bmcs([(machine, port)], "admin", "pw") as again:
        assert IpmiClient("127.0.0.1", port, "admin", "pw").get_power() == "off"
        assert again.port_of("m") == port


def test_taken_port_is_an_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        machines = [VirtualMachine(name="a"), VirtualMachine(name="b")]
        with pytest.raises(OSError):
            start_ipmi_bmcs([(machines[0], 0), (machines[1], port)], "admin", "pw")


def test_unknown_machine_is_a_key_error() -> None:
    with start_ipmi_bmcs([], "admin", "pw") as server, pytest.raises(KeyError, match="nope"):
        server.port_of("nope")
