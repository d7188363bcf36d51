"""A virtual IPMI BMC started after another one stopped, in the same process, still answers.

pyghmi's I/O state is per process, and any earlier test in this pytest process may have made
the client socket that hides the bug, so each case runs in a fresh interpreter. Before the fix the
second BMC never answered: pyghmi's I/O thread slept in ``select()`` on the stopped BMC's socket.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    from ingot.drivers.ipmi.client import IpmiClient
    from ingot.lab.bmc.ipmi import start_ipmi_bmcs
    from ingot.lab.machine import VirtualMachine

    client_first, rounds = sys.argv[1] == "yes", int(sys.argv[2])
    first = VirtualMachine(name="first")
    server = start_ipmi_bmcs([(first, 0)], "admin", "pw")
    if client_first:
        IpmiClient("127.0.0.1", server.port_of(first), "admin", "pw").get_power()
    server.stop()
    for i in range(rounds):
        machine = VirtualMachine(name=f"m{i}")
        with start_ipmi_bmcs([(machine, 0)], "admin", "pw") as server:
            client = IpmiClient("127.0.0.1", server.port_of(machine), "admin", "pw",
                                retry_timeout=5)
            client.set_power("on", 5)
            print(machine.name, machine.get_power(), client.get_power(), flush=True)
    """
)


@pytest.mark.parametrize(
    ("client_first", "rounds"),
    [
        ("no", 1),  # the BMC's socket was pyghmi's first: the case that hung
        ("no", 3),
        ("yes", 1),  # a client socket came second; it never hung, and must not start to
    ],
)
def test_bmc_started_after_a_stopped_one_answers(client_first: str, rounds: int) -> None:
    try:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, client_first, str(rounds)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the BMC started after a stopped one never answered: {exc.stdout!r}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"m{i} on on" for i in range(rounds)]
