"""Allocations through the real clients against ``ingot serve``: the baremetal CLI,
openstacksdk and ``ingot explain`` see the same matching and the same reasons."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx
import pytest

from tests.functional.conftest import VENV_BIN, BaremetalCLI, IngotServer


def _wait_available(http: httpx.Client, names: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {n: http.get(f"/v1/nodes/{n}").json()["provision_state"] for n in names}
        if all(s == "available" for s in states.values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"nodes did not become available: {states}")


@pytest.fixture(scope="module")
def fleet(server: IngotServer) -> IngotServer:
    """Two available fake nodes: cmp-0 (profile compute, CUSTOM_GPU) and ctl-0 (control)."""
    with server.http() as http:
        for name, profile in (("cmp-0", "compute"), ("ctl-0", "control")):
            body = {
                "name": name,
                "driver": "fake-hardware",
                "resource_class": "baremetal",
                "properties": {"capabilities": f"profile:{profile},boot_option:local"},
            }
            assert http.post("/v1/nodes", json=body).status_code == 201
            for verb in ("manage", "provide"):
                http.put(f"/v1/nodes/{name}/states/provision", json={"target": verb})
                if verb == "manage":
                    deadline = time.monotonic() + 30
                    while http.get(f"/v1/nodes/{name}").json()["provision_state"] != "manageable":
                        assert time.monotonic() < deadline
                        time.sleep(0.1)
        assert http.put("/v1/nodes/cmp-0/traits/CUSTOM_GPU").status_code == 204
        _wait_available(http, ["cmp-0", "ctl-0"])
    return server


def _ingot(server: IngotServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "ingot"), "--url", server.url, *args],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin"},
    )  # fmt: skip


def test_explain_prints_reasons_and_exit_code(fleet: IngotServer) -> None:
    ok = _ingot(
        fleet, "explain", "--resource-class", "baremetal", "--capability", "profile:compute"
    )
    assert ok.returncode == 0, ok.stderr
    assert "1 node(s) match" in ok.stdout
    assert "profile=control (wanted compute)" in ok.stdout
    none = _ingot(fleet, "explain", "--resource-class", "baremetal", "--trait", "CUSTOM_FPGA")
    assert none.returncode == 1
    assert "missing trait CUSTOM_FPGA" in none.stdout


def test_baremetal_cli_allocation_lifecycle(fleet: IngotServer) -> None:
    cli = BaremetalCLI(fleet.url)
    alloc = cli.json("allocation", "create", "--resource-class", "baremetal", "--trait",
                     "CUSTOM_GPU", "--name", "gpu-1", "--wait", "30")  # fmt: skip
    assert alloc["state"] == "active"
    node = cli.json("node", "show", "cmp-0")
    assert node["allocation_uuid"] == alloc["uuid"] == node["instance_uuid"]
    failed = cli.fails("allocation", "create", "--resource-class", "baremetal", "--trait",
                       "CUSTOM_GPU", "--wait", "30")  # fmt: skip
    assert "cmp-0: already allocated" in failed and "ctl-0: missing trait CUSTOM_GPU" in failed
    cli.run("allocation", "delete", "gpu-1")
    assert cli.json("node", "show", "cmp-0")["instance_uuid"] is None


def test_openstacksdk_allocation(fleet: IngotServer, conn: Any) -> None:
    alloc = conn.baremetal.create_allocation(resource_class="baremetal", name="sdk-1")
    alloc = conn.baremetal.wait_for_allocation(alloc, timeout=30)
    assert alloc.state == "active" and alloc.node_id
    conn.baremetal.delete_allocation(alloc)
