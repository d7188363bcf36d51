"""Issue 12, must show: one conductor of three dies mid-lifecycle under a 203-node fleet.

Real PostgreSQL, one ``ingot api`` and three ``ingot conductor`` processes in one conductor
group. 200 fake-hardware nodes (name, port, driver_info, instance_info) spread over the three
by the hash ring; a third of them are deployed and then serviced, the rest cleaned, each with a
6 s ``wait`` step. 3 lab servers (IPMI BMCs, the real ingot-agent) owned by c1 run a manual
clean through the agent: two wait for the agent's call-back (``clean wait``), one is on
``clean hold``. c1 is killed with SIGKILL while every one of its fake nodes holds a lock
mid-step. Then:

- within 2 x heartbeat timeout of the kill (plus one heartbeat interval, the survivors' ring
  refresh, and 1 s for polling 200 nodes on a loaded machine) every node is settled: no lock
  and no target state, or a failed state naming c1 (Ironic keeps "clean failed" / "service
  failed" with their target until the operator acts; 'manage' / 'abort' then make them
  stable), or a wait state a survivor took over (lab nodes: new owner in their history);
- no node was acted on by two conductors at once: per node, each conductor's entries span a
  time window, and the windows never overlap; c1 wrote nothing after the kill; c1's nodes
  show c1's run, then their new owner's, never interleaved; survivors' nodes name only them;
- nothing is lost: 203 nodes with names, UUIDs, driver_info, instance_info and ports;
- the lab nodes finish their clean after the takeover: the new owner rebuilt the boot files of
  those still parked when it swept, always the held one (its iPXE config is read from the new
  owner's boot server, as a rebooting server would; before the kill that server had none); the
  agents' heartbeats reach it through the API and the clean ends ``manageable`` with history
  c1 then the new owner.

Why every lab server boots from c1's boot server: a lab server netboots from one
``boot_url`` (what DHCP would tell it), each conductor serves the boot files of its own nodes
on its own HTTP port, and these nodes are c1's when they boot. The UUIDs are picked so that
the ring gives all three to c1 with three conductors alive and, once c1 is gone, two to c2
and one to c3 (a consistent ring moves only the leaving conductor's nodes): both survivors
take over lab nodes and fake nodes at the same time. After the takeover nothing netboots
again (cleaning ends powered off), so the servers need no new ``boot_url``; the rebuilt files
are checked on the new owner's boot server instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any

import pytest

from ingot.conductor.hashring import RingSet
from ingot.lab.firmware import BootPlan, BootServer, NetBoot
from ingot.lab.runner import Lab, LabConfig
from ingot.settings import ConductorSection
from tests.e2e.conftest import VENV_BIN, free_port
from tests.e2e.test_scaleout import PG_URL, Cluster
from tests.serve_process import stop_process_group

pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="INGOT_TEST_PG_URL not set: the fleet scale-out test needs PostgreSQL shared by "
    "several processes; run it through scripts/with-postgres.sh (make test)",
)
# Longer than test_scaleout's: 200 nodes on three conductors load a small CI machine, and a
# late heartbeat must not look like a death.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TIMEOUT = 5.0
POLL_ALLOWANCE = 1.0
STEP_SECONDS = 6.0  # < 2 x heartbeat timeout: the survivors' own steps end inside the bound
# The agents heartbeat every 9-18 s (0.3-0.6 of this), so a lab node parked in 'clean wait'
# stays there until after the kill; a failed heartbeat is retried within 5 s.
AGENT_HEARTBEAT_TIMEOUT = 30
FAKE_NODES = 200
CONDUCTORS = ("c1", "c2", "c3")
LAB_OWNERS = ("c2", "c3", "c2")  # each lab node's owner once c1 is gone
HELD = 2  # the lab node parked on 'clean hold'; the others wait for the agent's call-back
DEAD = "Conductor c1 stopped heartbeating"
WAIT_STEP = {"interface": "deploy", "step": "wait", "args": {"seconds": STEP_SECONDS}}
AGENT_WAIT = [{"interface": "deploy", "step": "erase_devices_metadata"},
              {"interface": "deploy", "step": "wait"},
              {"interface": "deploy", "step": "erase_devices"}]  # fmt: skip
AGENT_HOLD = [AGENT_WAIT[0], {"interface": "deploy", "step": "hold"}, AGENT_WAIT[2]]


def fake_uuid(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"fleet-{i:03d}.scaleout.ingot"))


def fake_mac(i: int) -> str:
    return f"52:54:01:00:{i >> 8:02x}:{i & 0xFF:02x}"  # apart from the lab's 52:54:00:...


def lab_uuids() -> list[str]:
    """UUIDs on c1 with all three conductors alive, on ``LAB_OWNERS`` once c1 is gone."""
    exponent = ConductorSection().hash_partition_exponent
    full = RingSet(dict.fromkeys(CONDUCTORS, ""), exponent)
    after = RingSet({"c2": "", "c3": ""}, exponent)
    out: list[str] = []
    for i in range(2000):
        candidate = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"lab-{i}.scaleout.ingot"))
        want = LAB_OWNERS[len(out)]
        if full.owner(candidate, "") == "c1" and after.owner(candidate, "") == want:
            out.append(candidate)
            if len(out) == len(LAB_OWNERS):
                return out
    raise AssertionError(f"no UUIDs hash to c1 and then to {LAB_OWNERS}")


class Fleet(Cluster):
    """The scale-out cluster with three conductors, each boot server on a known port."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        super().__init__(tmp, db_url)
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.env.update(
            INGOT_CONDUCTOR__HEARTBEAT_INTERVAL=str(HEARTBEAT_INTERVAL),
            INGOT_CONDUCTOR__HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
            INGOT_CONDUCTOR__CHECK_PROVISION_STATE_INTERVAL="1",
            INGOT_CONDUCTOR__CLEAN_CALLBACK_TIMEOUT="90",
            INGOT_AGENT__API_URL=self.api_url,
            INGOT_AGENT__HEARTBEAT_TIMEOUT=str(AGENT_HEARTBEAT_TIMEOUT),
            INGOT_AGENT__POWER_OFF_TIMEOUT="2",
            INGOT_IPMI__COMMAND_RETRY_TIMEOUT="5",
        )
        self.boot_urls = {name: f"http://127.0.0.1:{free_port()}" for name in CONDUCTORS}

    def start_c(self, name: str) -> None:
        port = self.boot_urls[name].rsplit(":", 1)[1]
        self.start(name, "conductor", "--name", name, "--state-dir", str(self.tmp / name),
                   "--log-level", "warning", env={"INGOT_DEPLOY__HTTP_PORT": port})  # fmt: skip

    def nodes(self) -> dict[str, dict[str, Any]]:
        fields = ("name,uuid,conductor,provision_state,reservation,last_error,"
                  "target_provision_state,driver_info,instance_info,clean_step")  # fmt: skip
        rows = self.http.get(f"/v1/nodes?fields={fields}&limit=1000").json()["nodes"]
        return {n["name"]: n for n in rows}


@pytest.fixture
def pg_database() -> Iterator[str]:
    from tests.conftest import _fresh_pg_database

    yield from _fresh_pg_database()


@pytest.fixture
def fleet(tmp_path: Path, pg_database: str) -> Iterator[tuple[Fleet, Lab]]:
    c = Fleet(tmp_path, pg_database)
    lab = Lab(LabConfig(state_dir=tmp_path / "lab", nodes=len(LAB_OWNERS), bmc="ipmi",
                        boot_url=c.boot_urls["c1"], api_url=c.api_url, disk_gb=0.125,
                        post_seconds=0.5))  # fmt: skip
    try:
        for name in CONDUCTORS:
            c.start_c(name)
        c.start("api", "api", "--port", str(c.api_port), "--state-dir", str(tmp_path / "api"))
        c.wait("three conductors alive", lambda: c.alive() == dict.fromkeys(CONDUCTORS, True), 60)
        lab.start()
        yield c, lab
    finally:
        lab.stop()  # first: its agents call the API
        c.http.close()
        for proc in c.procs.values():
            stop_process_group(proc)


def enroll_fake(c: Fleet, pool: ThreadPoolExecutor) -> None:
    def one(i: int) -> None:
        body = {"driver": "fake-hardware", "name": f"fleet-{i:03d}", "uuid": fake_uuid(i),
                "driver_info": {"rack": f"r{i // 40}", "slot": i},
                "instance_info": {"image_source": f"http://127.0.0.1:9/img-{i}.qcow2",
                                  "root_gb": 10 + i % 7}}  # fmt: skip
        r = c.http.post("/v1/nodes", json=body)
        assert r.status_code == 201, r.text
        r = c.http.post("/v1/ports", json={"node_uuid": fake_uuid(i), "address": fake_mac(i)})
        assert r.status_code == 201, r.text

    list(pool.map(one, range(FAKE_NODES)))


def enroll_lab(c: Fleet, lab: Lab) -> list[str]:
    """``ingot import`` of the lab's inventory with UUIDs from :func:`lab_uuids`, then manage."""
    inventory = json.loads((lab.dir / "inventory.json").read_text())
    for entry, node_uuid in zip(inventory["nodes"], lab_uuids(), strict=True):
        entry["uuid"] = node_uuid
    path = c.tmp / "lab-inventory.json"
    path.write_text(json.dumps(inventory))
    env = {**os.environ, "INGOT_URL": c.api_url, "COLUMNS": "200"}
    proc = subprocess.run([str(VENV_BIN / "ingot"), "import", str(path), "--manage"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{c.logs()}"
    return [e["name"] for e in inventory["nodes"]]


def ports(c: Fleet) -> dict[str, set[str]]:
    rows = c.http.get("/v1/ports?detail=true&limit=1000").json()["ports"]
    out: dict[str, set[str]] = {}
    for p in rows:
        out.setdefault(p["node_uuid"], set()).add(p["address"])
    return out


def when(entry: dict[str, Any]) -> float:
    stamp = dt.datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00"))
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()


def acts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries written by conductors: the API names itself on 'create' only."""
    return [e for e in events if e["event_type"] != "create" and e["conductor"]]


def assert_one_at_a_time(name: str, events: list[dict[str, Any]]) -> None:
    """Each conductor's entries on the node span a window; no two windows overlap."""
    spans: dict[str, tuple[float, float]] = {}
    for e in acts(events):
        first, last = spans.get(e["conductor"], (when(e), when(e)))
        spans[e["conductor"]] = (min(first, when(e)), max(last, when(e)))
    ordered = sorted(spans.items(), key=lambda kv: kv[1])
    for (a, (_, a_end)), (b, (b_start, _)) in pairwise(ordered):
        assert a_end <= b_start, f"{name}: {a} and {b} acted at once: {spans}"


def test_one_of_three_conductors_killed_under_a_fleet(fleet: tuple[Fleet, Lab]) -> None:
    c, lab = fleet
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        enroll_fake(c, pool)
        lab_names = enroll_lab(c, lab)
        fake = [f"fleet-{i:03d}" for i in range(FAKE_NODES)]
        deployers = set(fake[::3])
        nodes = c.nodes()
        owners = {n: nodes[n]["conductor"] for n in fake}
        share = {h: sorted(n for n in fake if owners[n] == h) for h in CONDUCTORS}
        assert all(len(names) >= FAKE_NODES // 6 for names in share.values()), {
            h: len(v) for h, v in share.items()
        }
        assert {nodes[n]["conductor"] for n in lab_names} == {"c1"}, nodes
        before = {n: (v["uuid"], v["driver_info"]) for n, v in nodes.items()}
        instance_before = {n: nodes[n]["instance_info"] for n in fake}
        ports_before = ports(c)

        list(pool.map(lambda n: c.act(n, "manage"), fake))
        c.wait("fake nodes manageable", c.settled(fake, "manageable"), 120)
        list(pool.map(lambda n: c.act(n, "provide"), deployers))
        c.wait("deployers available", c.settled(sorted(deployers), "available"), 120)
        list(pool.map(lambda n: c.act(n, "active"), deployers))
        c.wait("deployers active", c.settled(sorted(deployers), "active"), 120)
        c.wait("lab nodes manageable", c.settled(lab_names, "manageable"), 60)

        # The lab boots the agent from c1 and parks: waiting for its call-back, or on hold.
        for i, name in enumerate(lab_names):
            c.act(name, "clean", clean_steps=AGENT_HOLD if i == HELD else AGENT_WAIT)

        def lab_parked() -> bool:
            nodes = c.nodes()
            return all(
                (nodes[n]["provision_state"], (nodes[n]["clean_step"] or {}).get("step"))
                == (("clean hold", "hold") if i == HELD else ("clean wait", "wait"))
                for i, n in enumerate(lab_names)
            )

        c.wait("lab nodes parked with the agent up", lab_parked, 90)

        # The fleet services (the deployed third) or cleans, each node with a step that waits.
        def start(name: str) -> None:
            if name in deployers:
                c.act(name, "service", service_steps=[WAIT_STEP])
            else:
                c.act(name, "clean", clean_steps=[WAIT_STEP])

        list(pool.map(start, fake))

    def c1_mid_step() -> bool:
        nodes = c.nodes()
        return all(
            nodes[n]["provision_state"] == ("servicing" if n in deployers else "cleaning")
            and nodes[n]["reservation"] == "c1"
            for n in share["c1"]
        )

    c.wait("all of c1's nodes mid-step", c1_mid_step, STEP_SECONDS)
    at_kill = c.nodes()
    assert held_config(c, lab, LAB_OWNERS[HELD]) is None  # only c1 serves it so far
    os.killpg(c.procs["c1"].pid, signal.SIGKILL)  # by PID: no chance to release anything
    c.procs["c1"].wait(10)
    killed_at, killed_wall = time.monotonic(), time.time()
    assert lab_parked_at(at_kill, lab_names), {n: at_kill[n] for n in lab_names}
    new_owner = dict(zip(lab_names, LAB_OWNERS, strict=True))

    unstable: dict[str, Any] = {}
    taken: list[float] = []  # when none of c1's fake nodes was locked any more
    lab_taken: set[str] = set()

    def settled() -> bool:
        nodes = c.nodes()
        if not taken and all(nodes[n]["reservation"] is None for n in share["c1"]):
            taken.append(time.monotonic() - killed_at)
        unstable.clear()
        for n in fake:
            v = nodes[n]
            failed = v["provision_state"] in ("clean failed", "service failed")
            if v["reservation"] or (v["target_provision_state"] and not failed):
                unstable[n] = (v["provision_state"], v["target_provision_state"], v["reservation"])
        for n in lab_names:  # in the new owner's hands: it took the node over or acted on it
            v = nodes[n]
            if n not in lab_taken and v["conductor"] == new_owner[n] and v["reservation"] in (
                None, new_owner[n]) and any(e["conductor"] == new_owner[n]
                                            for e in c.history(n)):  # fmt: skip
                lab_taken.add(n)
            if n not in lab_taken:
                unstable[n] = (v["provision_state"], v["conductor"], v["reservation"])
        return not unstable

    try:
        c.wait("every node settled", settled, 4 * HEARTBEAT_TIMEOUT)
    except AssertionError as exc:
        raise AssertionError(f"not settled: {unstable}") from exc
    took = time.monotonic() - killed_at
    bound = 2 * HEARTBEAT_TIMEOUT + HEARTBEAT_INTERVAL + POLL_ALLOWANCE
    assert took <= bound, (took, bound)
    assert c.alive() == {"c1": False, "c2": True, "c3": True}

    nodes = c.nodes()
    for name in fake:
        node, was = nodes[name], owners[name]
        if was == "c1":
            assert node["conductor"] in ("c2", "c3"), node
            failed = "service failed" if name in deployers else "clean failed"
            assert node["provision_state"] == failed, node
            assert DEAD in node["last_error"], node
            assert f"conductor {node['conductor']} took the node over" in node["last_error"]
        else:  # the survivors' own steps ran to the end, untouched
            done = "active" if name in deployers else "manageable"
            assert (node["conductor"], node["provision_state"]) == (was, done), node
    assert {nodes[n]["conductor"] for n in share["c1"]} == {"c2", "c3"}  # both took some over

    # The held lab node: its new owner serves its agent boot config now, as a rebooting
    # server would find it. Then 'unhold' goes to the new owner, which drives the agent on.
    held = lab_names[HELD]
    c.wait("held node's takeover", lambda: any(e["event_type"] == "takeover" and "boot files "
           "rebuilt" in e["event"] for e in c.history(held)), 30)  # fmt: skip
    plan = held_config(c, lab, new_owner[held])
    assert plan is not None and plan.kernel and f"ipa-api-url={c.api_url}" in plan.cmdline, plan
    c.act(held, "unhold")
    c.wait("lab nodes cleaned after the takeover", c.settled(lab_names, "manageable"), 90)
    lab_done = time.monotonic() - killed_at
    nodes = c.nodes()
    for name in lab_names:
        node, events = nodes[name], c.history(name)
        assert (node["conductor"], node["last_error"]) == (new_owner[name], None), node
        rebuilt = [
            e
            for e in events
            if e["event_type"] == "takeover"
            and e["conductor"] == new_owner[name]
            and "boot files rebuilt" in e["event"]
        ]
        # The held node can not move before 'unhold', so its takeover always rebuilds; a node
        # in 'clean wait' may be resumed by its agent's heartbeat (routed to the new owner)
        # before the new owner's sweep, which then has nothing to rebuild.
        assert rebuilt or name != held, (name, events)
        assert [h for h, _ in groupby(e["conductor"] for e in acts(events))] == [
            "c1", new_owner[name]], (name, events)  # fmt: skip

    # The survivors take the operator's next verb on the failed nodes: stable, no target.
    failed_clean = [n for n in share["c1"] if n not in deployers]
    failed_service = [n for n in share["c1"] if n in deployers]
    for name in failed_clean:
        c.act(name, "manage")
    for name in failed_service:
        c.act(name, "abort")
    c.wait("failed cleans managed", c.settled(failed_clean, "manageable"), 60)
    c.wait("failed services aborted", c.settled(failed_service, "active"), 60)
    nodes = c.nodes()
    assert all(nodes[n]["target_provision_state"] is None for n in nodes), nodes

    # History: c1 silent after the kill; per node one conductor at a time, each in one run.
    def check_history(name: str) -> None:
        events = c.history(name)
        late = [e for e in events if e["conductor"] == "c1" and when(e) > killed_wall]
        assert not late, (name, late)
        assert_one_at_a_time(name, events)
        runs = [h for h, _ in groupby(e["conductor"] for e in acts(events))]
        if name in lab_names:
            expected = ["c1", new_owner[name]]
        else:
            expected = ["c1", nodes[name]["conductor"]] if owners[name] == "c1" else [owners[name]]
        assert runs == expected, (name, runs, events)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(check_history, [*fake, *lab_names]))

    # No data lost: every node, its name, UUID, driver_info, instance_info and ports.
    nodes = c.nodes()
    assert sorted(nodes) == sorted([*fake, *lab_names])
    assert {n: (v["uuid"], v["driver_info"]) for n, v in nodes.items()} == before
    for name, info in instance_before.items():
        assert nodes[name]["instance_info"].items() >= info.items(), (name, nodes[name])
    assert ports(c) == ports_before
    print(f"fleet: {len(share['c1'])} fake and {len(lab_names)} lab nodes of c1; its fake "
          f"nodes unlocked {taken[0]:.1f} s after the kill, every node settled {took:.1f} s "
          f"after (bound {bound:g} s), lab cleans done {lab_done:.1f} s after; "
          f"whole test {time.monotonic() - started:.0f} s")  # fmt: skip


def lab_parked_at(nodes: dict[str, dict[str, Any]], lab_names: list[str]) -> bool:
    """The lab nodes were still parked (wait / hold, unlocked) when c1 was killed."""
    return all(
        nodes[n]["provision_state"] == ("clean hold" if i == HELD else "clean wait")
        and nodes[n]["reservation"] is None
        for i, n in enumerate(lab_names)
    )


def held_config(c: Fleet, lab: Lab, conductor: str) -> BootPlan | None:
    """What the held lab server would netboot from ``conductor``'s boot server."""
    server = lab.servers[HELD]
    boot = NetBoot(BootServer(c.boot_urls[conductor]), lambda _: None)
    return boot.find_config(server.spec.macs, server.machine.boot_mode)
