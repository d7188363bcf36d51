"""Virtual Redfish BMCs: several in one process, each with its own machines and credentials."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from ingot.drivers.redfish.client import RedfishClient
from ingot.lab.bmc.redfish import start_redfish
from ingot.lab.machine import VirtualMachine


def get(url: str, user: str | None = None, password: str = "") -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_two_servers_in_one_process_keep_apart() -> None:
    a, b = VirtualMachine(name="a"), VirtualMachine(name="b")
    with start_redfish([a], 0, "alice", "pa") as one, start_redfish([b], 0, "bob", "pb") as two:
        status, body = get(one.url + "/redfish/v1/Systems", "alice", "pa")
        assert status == 200
        assert [m["@odata.id"] for m in body["Members"]] == [one.system_path(a)]  # type: ignore[attr-defined]
        assert get(two.url + "/redfish/v1/Systems", "alice", "pa")[0] == 401
        RedfishClient(two.url, None, "bob", "pb").set_power("on", wait_timeout=5)
        assert (a.get_power(), b.get_power()) == ("off", "on")


@pytest.mark.parametrize(
    ("path", "user", "status"),
    [
        ("/redfish/v1/", None, 200),  # the service root is open, as on real BMCs
        ("/redfish/v1/Systems", None, 401),
        ("/redfish/v1/Systems", "admin", 200),
    ],
)
def test_auth(path: str, user: str | None, status: int) -> None:
    with start_redfish([VirtualMachine(name="m")], 0, "admin", "pw") as server:
        assert get(server.url + path, user, "pw")[0] == status


def test_boot_override_enabled_is_reported() -> None:
    machine = VirtualMachine(name="m")
    machine.set_boot_device("pxe", persistent=False)
    with start_redfish([machine], 0, "admin", "pw") as server:
        _status, body = get(server.url + server.system_path(machine), "admin", "pw")
    boot = body["Boot"]
    assert boot["BootSourceOverrideTarget"] == "Pxe"  # type: ignore[index]
    assert boot["BootSourceOverrideEnabled"] == "Once"  # type: ignore[index]
