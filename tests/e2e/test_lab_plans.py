"""Issue 11 on the lab: profiles from inspected memory, then plans of roles selected by them.

Five lab servers with IPMI BMCs and two memory sizes (``memory_mb=[2048, 4096]``: node-0, -2,
-4 small, node-1, -3 large). Inspection rules created through the API read the memory the
agent reports and tag each node with a profile (and the large ones with a trait); the
inventory file imported claims the same 1024 MiB for every server, so only inspection can
tell them apart. ``ingot deploy PLAN.yaml`` then deploys a controller (profile control) and
computes (profile compute + trait), re-runs as a no-op, scales up and down, and refuses a
plan the lab can not satisfy, naming every excluded node and why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingot.scheduling.capabilities import parse_node_capabilities
from tests.e2e.lab_fixtures import (
    SSH_KEY,
    Site,
    TestImage,
    lab_site,
    publish_image,
    read_table,
)

MEMORY = [2048, 4096]  # cycled over the servers
SMALL, LARGE = ["node-0", "node-2", "node-4"], ["node-1", "node-3"]
TRAIT = "CUSTOM_MEM_LARGE"
INSPECTED_MB = "{inventory[memory][physical_mb]}"  # what the agent found, not node properties
RULES = [
    {
        "description": "large memory: compute",
        "priority": 20,
        "conditions": [{"op": "gt", "args": {"values": [INSPECTED_MB, 3072]}}],
        "actions": [
            {"op": "set-capability", "args": {"name": "profile", "value": "compute"}},
            {"op": "add-trait", "args": {"name": TRAIT}},
        ],
    },
    {
        "description": "small memory: control",
        "priority": 10,
        "conditions": [{"op": "lt", "args": {"values": [INSPECTED_MB, 3072]}}],
        "actions": [{"op": "set-capability", "args": {"name": "profile", "value": "control"}}],
    },
]
UNSETTLED = {"available", "manageable", "enroll", "inspect failed", "clean failed"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The lab, its rules, and every node inspected and cleaned (available)."""
    workdir = tmp_path_factory.mktemp("plans")
    with lab_site(workdir, nodes=5, bmc="ipmi", disk_gb=0.125, memory_mb=MEMORY) as running:
        for rule in RULES:
            r = running.http.post("/v1/inspection_rules", json=rule)
            assert r.status_code == 201, r.text
        # An inventory that is wrong about memory, as hand-written ones are.
        inventory = json.loads(running.inventory.read_text())
        for entry in inventory["nodes"]:
            entry["memory"] = 1024
        wrong = workdir / "inventory-1024.json"
        wrong.write_text(json.dumps(inventory))
        running.ingot("import", str(wrong), "--inspect", "--provide", "--concurrency", "5")
        done = running.wait(running.names(), UNSETTLED, timeout=120)
        states = {n: (b["provision_state"], b["last_error"]) for n, b in done.items()}
        assert states == {n: ("available", None) for n in running.names()}, running.log_tail()
        yield running


@pytest.fixture(scope="module")
def image(site: Site) -> TestImage:
    return publish_image(site.server, "plan.raw", "gpt")


def write_plan(path: Path, image: TestImage, controllers: int, computes: int) -> Path:
    plan = {
        "name": "lab",
        "defaults": {
            "resource_class": "baremetal",
            "image": {"source": image.url, "checksum": f"sha256:{image.sha256}"},
            "config_drive": {"ssh_keys": [SSH_KEY]},
        },
        "roles": {
            "controller": {"count": controllers, "capabilities": {"profile": "control"}},
            "compute": {
                "count": computes,
                "capabilities": {"profile": "compute"},
                "traits": [TRAIT],
            },
        },
    }
    path.write_text(yaml.safe_dump(plan))
    return path


def deploy(site: Site, plan: Path, *flags: str) -> tuple[int, str]:
    proc = site.ingot("deploy", str(plan), *flags, check=False)
    print(proc.stdout, proc.stderr)
    assert proc.returncode in (0, 1), proc.stderr  # 2 would be a bad plan or no API
    return proc.returncode, proc.stdout


def traits(site: Site, name: str) -> list[str]:
    return list(site.http.get(f"/v1/nodes/{name}/traits").json()["traits"])


def snapshot(site: Site) -> dict[str, tuple[Any, ...]]:
    """What a redeploy would change: state, instance, last state change, history length."""
    out = {}
    for name in site.names():
        n = site.node(name)
        out[name] = (n["provision_state"], n["instance_uuid"], n["provision_updated_at"],
                     len(site.history(name)))  # fmt: skip
    return out


def roles(site: Site) -> dict[str, str]:
    """node name -> ``role[index]`` for the nodes the plan deployed."""
    out = {}
    for name in site.names():
        extra = site.node(name)["extra"]
        if extra.get("ingot_plan") == "lab":
            out[name] = f"{extra['ingot_role']}[{extra['ingot_index']}]"
    return out


def test_rules_set_profiles_from_inspected_memory(site: Site) -> None:
    for index, name in enumerate(site.names()):
        memory = MEMORY[index % 2]
        node = site.node(name)
        inventory = site.http.get(f"/v1/nodes/{name}/inventory").json()["inventory"]
        assert inventory["memory"]["physical_mb"] == memory  # reported by the agent
        assert node["properties"]["memory_mb"] == memory  # not the file's 1024
        caps = parse_node_capabilities(node["properties"]["capabilities"])
        large = name in LARGE
        assert caps == {"boot_mode": "uefi", "profile": "compute" if large else "control"}
        assert traits(site, name) == ([TRAIT] if large else [])
        events = " | ".join(h["event"] for h in site.history(name))
        wanted = "large memory: compute" if large else "small memory: control"
        assert f"Inspection rules applied: {wanted}" in events


def test_unsatisfiable_plan_fails_in_preflight_naming_each_node(
    site: Site, image: TestImage, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path / "too-big.yaml", image, controllers=1, computes=3)
    before = snapshot(site)
    for flags in (["--dry-run"], ["--wait", "60"]):
        code, out = deploy(site, plan, *flags)
        assert code == 1, out
        assert "role 'compute' needs 3 more node(s) but only 2 can be given to it; 2 match" in out
        rows = {line.split()[1]: line for line in out.splitlines() if re.match(r"\W+node-\d", line)}
        assert sorted(rows) == SMALL, out  # each excluded node, and only those
        for name in SMALL:
            assert f"missing trait {TRAIT}" in rows[name], rows[name]
            assert "capability mismatch: profile=control (wanted compute)" in rows[name]
        dry = "--dry-run" in flags
        for done in (
            ["would allocate lab-compute-2", "Dry run: nothing was changed."]
            if dry
            else ["Nothing was changed"]
        ):
            assert done in out
    assert site.http.get("/v1/allocations").json()["allocations"] == []
    assert snapshot(site) == before


def test_plan_deploys_reruns_and_scales(site: Site, image: TestImage, tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "lab.yaml", image, controllers=1, computes=1)
    code, out = deploy(site, plan, "--wait", "120")
    assert code == 0, out
    placed = roles(site)
    by_role = {role: name for name, role in placed.items()}
    assert sorted(placed.values()) == ["compute[0]", "controller[0]"]
    assert by_role["controller[0]"] in SMALL and by_role["compute[0]"] in LARGE
    for role, name in by_role.items():
        assert site.node(name)["provision_state"] == "active"
        host = "lab-" + role.replace("[", "-").rstrip("]")
        assert site.wait_booted(name, host)["booted_ssh_keys"] == [SSH_KEY]

    # A re-run of a plan that holds changes nothing: no allocation, no deploy, no history.
    before = snapshot(site)
    code, out = deploy(site, plan)
    assert code == 0, out
    assert "Plan lab holds: nothing to do." in out
    for role in ("compute", "controller"):  # wanted 1, active 1, nothing else to do
        assert re.search(rf"{role}\W+1\W+1(\W+0){{5}}\W*$", out, re.MULTILINE), out
    assert "allocated" not in out and "deploying" not in out
    assert snapshot(site) == before

    # One more compute: exactly one new node deployed, the others untouched.
    code, out = deploy(site, write_plan(plan, image, controllers=1, computes=2), "--wait", "120")
    assert code == 0, out
    assert len(re.findall(r"deploying node-\d", out)) == 1, out
    scaled = roles(site)
    (added,) = set(scaled) - set(placed)
    assert added in LARGE and scaled[added] == "compute[1]"
    assert site.node(added)["provision_state"] == "active"
    assert re.search(r"compute\W+2\W+2\W+0\W+0\W+" + "node-[13], node-[13]", out), out  # summary
    after = snapshot(site)
    assert {n: after[n] for n in placed} == {n: before[n] for n in placed}

    # Back to one compute: refused without --allow-scale-down, then the surplus is undeployed.
    smaller = write_plan(plan, image, controllers=1, computes=1)
    code, out = deploy(site, smaller)
    assert code == 1, out
    refusal = (f"role 'compute' has 1 instance(s) beyond its count 1: {added} (index 1); "
               "re-run with --allow-scale-down to undeploy them.")  # fmt: skip
    assert refusal in " ".join(out.split())  # rich may wrap the line
    # The summary still counts the surplus instance: it stays deployed until allowed to go.
    assert re.search(r"compute\W+1\W+1\W+1\W+0\W", out), out  # wanted, active, surplus, failed
    assert snapshot(site) == after
    code, out = deploy(site, smaller, "--allow-scale-down", "--wait", "120")
    assert code == 0, out
    assert f"compute[1]: undeploying {added}" in out
    node = site.node(added)
    assert (node["provision_state"], node["instance_uuid"]) == ("available", None)
    assert "ingot_role" not in node["extra"]
    assert read_table(site.lab.server(added).disk_path) == (None, [])  # cleaned on the way
    assert roles(site) == placed
    final = snapshot(site)
    assert {n: final[n] for n in placed} == {n: after[n] for n in placed}
    assert "holds: nothing to do" in deploy(site, smaller)[1]
