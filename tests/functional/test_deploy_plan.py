"""``ingot deploy PLAN.yaml`` against a real ``ingot serve`` with fake-hardware nodes.

Roles are told apart by capabilities (``profile:control`` / ``profile:compute``); a spare
node of another resource class shows up in the reasons. One compute node boots with the
``pxe`` interface and has no port, so its deploy fails in the conductor ("no port with
pxe_enabled") until the test enrolls one: that is the partially failed plan.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import itertools
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingot.client import IngotClient
from ingot.configdrive import decode, read_iso
from tests.functional.conftest import VENV_BIN, IngotServer

IMAGE = b"\x00" * 4096 + b"a whole-disk image"
_TAGS = itertools.count()


@pytest.fixture(scope="module")
def image_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTP server on loopback serving one image, so dry runs can check it answers."""
    root = tmp_path_factory.mktemp("images")
    (root / "disk.img").write_bytes(IMAGE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/disk.img"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@dataclass
class Fleet:
    """One test's nodes on the module's server: its own plan name, node names and resource
    classes, so tests do not see each other's nodes as candidates."""

    server: IngotServer
    api: IngotClient
    workdir: Path
    image_url: str
    tag: str

    def name(self, node: str) -> str:
        return f"{self.tag}-{node}"

    def plan(self, data: dict[str, Any], name: str = "plan.yaml") -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump(data))
        return path

    def ingot(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(VENV_BIN / "ingot"), "--url", self.server.url, *args],
            capture_output=True, text=True, timeout=120,
            env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        print(proc.stdout, proc.stderr)
        return proc

    def node(self, name: str) -> dict[str, Any]:
        return self.api.get_node(self.name(name))

    def allocations(self) -> list[dict[str, Any]]:
        found = self.api.collect("/v1/allocations", "allocations", {})
        return [a for a in found if str(a["name"]).startswith(f"{self.tag}-")]

    def two_roles(self, computes: int = 1) -> dict[str, Any]:
        return two_roles(self.image_url, self.tag, computes)


# name: (resource_class, profile, boot_interface). compute-0/1 are named like the plan's
# allocations, which the scheduler prefers, so compute-1 (pxe, no port) is the one that fails.
NODES = {
    "ctl-a": ("baremetal", "control", "fake"),
    "compute-0": ("baremetal", "compute", "fake"),
    "compute-1": ("baremetal", "compute", "pxe"),
    "spare": ("gold", "compute", "fake"),
}


@pytest.fixture
def fleet(server: IngotServer, tmp_path: Path, image_url: str) -> Iterator[Fleet]:
    """Four available nodes (see NODES) named and classed for this test only."""
    tag = f"t{next(_TAGS)}"
    names = [f"{tag}-{n}" for n in NODES]
    with IngotClient(server.url) as api:
        for name, (rclass, profile, boot) in zip(names, NODES.values(), strict=True):
            body: dict[str, Any] = {
                "name": name, "driver": "fake-hardware", "resource_class": f"{tag}-{rclass}",
                "boot_interface": boot,
                "properties": {"capabilities": f"profile:{profile},boot_option:local"},
            }  # fmt: skip
            if boot == "pxe":
                body["driver_info"] = {
                    "deploy_kernel": "http://x/k",
                    "deploy_ramdisk": "http://x/r",
                }
            api.create_node(body)
            api.set_provision_state(name, "manage")
        api.wait_for_provision_state(names, "manageable", timeout=30, interval=0.1)
        for name in names:
            api.set_provision_state(name, "provide")
        api.wait_for_provision_state(names, "available", timeout=30, interval=0.1)
        yield Fleet(server, api, tmp_path, image_url, tag)


def two_roles(image_url: str, tag: str, computes: int = 1) -> dict[str, Any]:
    checksum = "sha256:" + hashlib.sha256(IMAGE).hexdigest()
    return {
        "name": tag,
        "defaults": {
            "resource_class": f"{tag}-baremetal",
            "image": {"source": image_url, "checksum": checksum},
            "config_drive": {"ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG test@ops"]},
        },
        "roles": {
            "controller": {
                "count": 1,
                "capabilities": {"profile": "control"},
                "hostname_format": "overcloud-controller-%index%",
                "config_drive": {"user_data": {"packages": ["chrony"]}},
            },
            "compute": {"count": computes, "capabilities": {"profile": "compute"}},
        },
    }


def _meta_data(node: dict[str, Any]) -> dict[str, Any]:
    iso = read_iso(decode(node["instance_info"]["configdrive"]))
    return dict(json.loads(iso["openstack/latest/meta_data.json"]))


def test_dry_run_reports_actions_and_changes_nothing(fleet: Fleet) -> None:
    proc = fleet.ingot("deploy", str(fleet.plan(fleet.two_roles())), "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"would allocate {fleet.tag}-controller-0" in proc.stdout
    assert "as overcloud-controller-0" in proc.stdout
    assert "role 'compute': 2 matching node(s) available" in proc.stdout
    assert "nothing was changed" in proc.stdout
    assert fleet.allocations() == []
    assert {fleet.node(n)["provision_state"] for n in NODES} == {"available"}


def test_dry_run_flags_an_unreachable_image(fleet: Fleet) -> None:
    plan = fleet.two_roles()
    plan["defaults"]["image"]["source"] = fleet.image_url.replace("disk.img", "missing.img")
    proc = fleet.ingot("deploy", str(fleet.plan(plan)), "--dry-run")
    assert proc.returncode == 1
    assert "image.source" in proc.stdout and "HTTP 404" in proc.stdout


def test_two_roles_deploy_then_rerun_is_a_noop(fleet: Fleet) -> None:
    path = fleet.plan(fleet.two_roles())
    proc = fleet.ingot("deploy", str(path), "--wait", "60")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ctl = fleet.node("ctl-a")
    cmp0 = fleet.node("compute-0")
    assert ctl["provision_state"] == cmp0["provision_state"] == "active"
    assert fleet.node("compute-1")["provision_state"] == "available"
    assert ctl["extra"]["ingot_role"] == "controller" and ctl["extra"]["ingot_index"] == 0
    assert ctl["instance_info"]["image_source"] == fleet.image_url
    assert ctl["instance_info"]["display_name"] == "overcloud-controller-0"
    meta = _meta_data(ctl)
    assert meta["hostname"] == "overcloud-controller-0"
    assert list(meta["public_keys"].values()) == ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG test@ops"]
    assert _meta_data(cmp0)["hostname"] == f"{fleet.tag}-compute-0"
    names = {a["name"]: a["node_uuid"] for a in fleet.allocations()}
    assert names == {fleet.name("controller-0"): ctl["uuid"], fleet.name("compute-0"): cmp0["uuid"]}

    again = fleet.ingot("deploy", str(path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "holds: nothing to do" in again.stdout
    assert {a["name"]: a["node_uuid"] for a in fleet.allocations()} == names
    assert fleet.node("ctl-a")["provision_state"] == "active"


def test_not_enough_nodes_shows_reasons_and_changes_nothing(fleet: Fleet) -> None:
    proc = fleet.ingot("deploy", str(fleet.plan(fleet.two_roles(computes=3))))
    assert proc.returncode == 1
    out = proc.stdout
    assert "role 'compute' needs 3 more node(s) but only 2 can be given to it" in out
    assert f"wrong resource class ({fleet.tag}-gold != {fleet.tag}-baremetal)" in out
    assert "profile=control (wanted compute)" in out
    assert "No valid host" not in out
    assert fleet.allocations() == []


def test_partly_failed_plan_reports_the_node_and_a_rerun_retries(fleet: Fleet) -> None:
    path = fleet.plan(fleet.two_roles(computes=2))
    proc = fleet.ingot("deploy", str(path), "--wait", "60")
    assert proc.returncode == 1
    assert fleet.name("compute-1") in proc.stdout and "no port with pxe_enabled" in proc.stdout
    assert fleet.node("compute-1")["provision_state"] == "deploy failed"
    assert fleet.node("compute-0")["provision_state"] == "active"

    uuid = fleet.node("compute-1")["uuid"]
    fleet.api.create_port({"node_uuid": uuid, "address": "52:54:00:12:34:56"})
    again = fleet.ingot("deploy", str(path), "--wait", "60")
    assert again.returncode == 0, again.stdout + again.stderr
    c1 = fleet.name("compute-1")
    assert f"deploying {c1} as {c1}" in again.stdout
    assert "deploying " + fleet.name("ctl-a") not in again.stdout  # the active ones are left alone
    assert fleet.node("compute-1")["provision_state"] == "active"


def test_scale_down_needs_the_flag(fleet: Fleet) -> None:
    plan = fleet.two_roles()
    assert fleet.ingot("deploy", str(fleet.plan(plan)), "--wait", "60").returncode == 0
    plan["roles"]["compute"]["count"] = 0
    path = fleet.plan(plan)
    refused = fleet.ingot("deploy", str(path))
    assert refused.returncode == 1
    assert "re-run with --allow-scale-down" in refused.stdout
    assert fleet.node("compute-0")["provision_state"] == "active"

    done = fleet.ingot("deploy", str(path), "--allow-scale-down", "--wait", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    node = fleet.node("compute-0")
    assert node["provision_state"] == "available" and "ingot_role" not in node["extra"]
    assert [a["name"] for a in fleet.allocations()] == [fleet.name("controller-0")]
    assert "holds: nothing to do" in fleet.ingot("deploy", str(path)).stdout
