"""Scale-out on real PostgreSQL: one ``ingot api`` and two ``ingot conductor`` processes.

20 fake-hardware nodes spread over both conductors by the hash ring. Conductor c1 is killed
with SIGKILL while its nodes are in every kind of in-between state (holding a lock in the
middle of a clean or deploy step, on clean hold, waiting in clean wait, active); c2 must take
them all over within the heartbeat timeout, leave every node in a defined state with no lock,
and, once c1 is started again, the two must share the nodes without acting on any twice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import VENV_BIN, free_port, stop_process_group

PG_URL = os.environ.get("INGOT_TEST_PG_URL")
pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="INGOT_TEST_PG_URL not set: the scale-out test needs PostgreSQL shared by several "
    "processes; run it through scripts/with-postgres.sh (make test)",
)
HEARTBEAT_INTERVAL = 0.5
HEARTBEAT_TIMEOUT = 3.0
DEAD = "Conductor c1 stopped heartbeating"
SLEEP = [{"interface": "deploy", "step": "wait", "args": {"seconds": 600}}]
HOLD = [{"interface": "deploy", "step": "hold"}]
CLEAN_WAIT = [{"interface": "deploy", "step": "wait"}]


class Cluster:
    """The processes of one test and an API client."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        self.tmp = tmp
        self.env = dict(os.environ)
        self.env.update(
            INGOT_DATABASE__CONNECTION=db_url,
            INGOT_CONDUCTOR__HEARTBEAT_INTERVAL=str(HEARTBEAT_INTERVAL),
            INGOT_CONDUCTOR__HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
            INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL="0",
            INGOT_CONDUCTOR__CHECK_PROVISION_STATE_INTERVAL="0",
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.api_port = free_port()
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"X-OpenStack-Ironic-API-Version": "latest"},
            timeout=30,
        )

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 (the child keeps it open)
        self.procs[name] = subprocess.Popen(
            [str(VENV_BIN / "ingot"), *args], stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, **(env or {})}, start_new_session=True,
        )  # fmt: skip
        log.close()

    def start_conductor(self, name: str) -> None:
        self.start(name, "conductor", "--name", name, "--state-dir", str(self.tmp / name),
                   "--log-level", "warning",
                   env={"INGOT_DEPLOY__HTTP_PORT": str(free_port())})  # fmt: skip

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.tmp.glob("*.log"))

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 30) -> float:
        """Poll ``check`` until true; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            with contextlib.suppress(httpx.HTTPError):
                if check():
                    return time.monotonic() - start
            for name, proc in self.procs.items():
                if proc.poll() not in (None, -signal.SIGKILL):
                    raise AssertionError(f"{name} exited {proc.returncode}\n{self.logs()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")

    def nodes(self) -> dict[str, dict[str, Any]]:
        fields = "name,uuid,conductor,provision_state,reservation,last_error,target_provision_state"
        rows = self.http.get(f"/v1/nodes?fields={fields}&limit=1000").json()["nodes"]
        return {n["name"]: n for n in rows}

    def alive(self) -> dict[str, bool]:
        rows = self.http.get("/v1/conductors").json()["conductors"]
        return {c["hostname"]: c["alive"] for c in rows}

    def act(self, name: str, verb: str, **extra: Any) -> None:
        r = self.http.put(f"/v1/nodes/{name}/states/provision", json={"target": verb, **extra})
        assert r.status_code == 202, (name, verb, r.text)

    def history(self, name: str) -> list[dict[str, Any]]:
        return list(self.http.get(f"/v1/nodes/{name}/history?detail=true").json()["history"])

    def settled(self, names: list[str], state: str) -> Callable[[], bool]:
        def check() -> bool:
            nodes = self.nodes()
            return all(
                nodes[n]["provision_state"] == state and nodes[n]["reservation"] is None
                for n in names
            )

        return check


@pytest.fixture
def pg_database() -> Iterator[str]:
    from tests.conftest import _fresh_pg_database

    yield from _fresh_pg_database()


@pytest.fixture
def cluster(tmp_path: Path, pg_database: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, pg_database)
    try:
        # Started together: the migration runs once under PostgreSQL's advisory lock.
        c.start_conductor("c1")
        c.start_conductor("c2")
        c.start("api", "api", "--port", str(c.api_port), "--state-dir", str(tmp_path / "api"))
        c.wait("both conductors alive", lambda: c.alive() == {"c1": True, "c2": True}, 60)
        yield c
    finally:
        c.http.close()
        for proc in c.procs.values():
            stop_process_group(proc)


def test_conductor_killed_mid_lifecycle_is_taken_over(cluster: Cluster) -> None:
    c = cluster
    names = [f"node-{i:02d}" for i in range(20)]
    for name in names:  # fixed UUIDs: the same ring split on every run
        node_uuid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.scaleout.ingot"))
        r = c.http.post("/v1/nodes", json={"driver": "fake-hardware", "name": name,
                                           "uuid": node_uuid})  # fmt: skip
        assert r.status_code == 201, r.text
    owners = {n: v["conductor"] for n, v in c.nodes().items()}
    on_c1 = sorted(n for n, o in owners.items() if o == "c1")
    on_c2 = sorted(n for n, o in owners.items() if o == "c2")
    assert len(on_c1) >= 5 and len(on_c2) >= 2, owners

    # The whole lifecycle through the API, each node's work done by its owner.
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        for name in names:
            c.act(name, verb)
        c.wait(f"all {state}", c.settled(names, state))
    for name in names:
        actors = {e["conductor"] for e in c.history(name) if e["event_type"] != "create"}
        assert actors == {owners[name]}, (name, actors)

    # Park c1's nodes in every in-between state; c2's nodes deploy or hold.
    groups: dict[str, list[str]] = {k: on_c1[i::5] for i, k in enumerate(
        ("clean_sleep", "service_sleep", "hold", "clean_wait", "active"))}  # fmt: skip
    c2_hold, c2_active = on_c2[::2], on_c2[1::2]
    for name in groups["clean_sleep"] + groups["hold"] + groups["clean_wait"] + c2_hold:
        c.act(name, "manage")
    c.wait("manageable", c.settled(groups["clean_sleep"] + groups["hold"], "manageable"))
    c.wait("manageable", c.settled(groups["clean_wait"] + c2_hold, "manageable"))
    for name in groups["clean_sleep"]:
        c.act(name, "clean", clean_steps=SLEEP)
    for name in groups["hold"] + c2_hold:
        c.act(name, "clean", clean_steps=HOLD)
    for name in groups["clean_wait"]:
        c.act(name, "clean", clean_steps=CLEAN_WAIT)
    for name in groups["service_sleep"] + groups["active"] + c2_active:
        c.act(name, "active")
    c.wait("deployed", c.settled(groups["service_sleep"], "active"))
    for name in groups["service_sleep"]:
        c.act(name, "service", service_steps=SLEEP)

    def parked() -> bool:
        nodes = c.nodes()
        want = [(groups["clean_sleep"], "cleaning", "c1"), (groups["service_sleep"], "servicing",
                "c1"), (groups["hold"] + c2_hold, "clean hold", None), (groups["clean_wait"],
                "clean wait", None), (groups["active"] + c2_active, "active", None)]  # fmt: skip
        return all(
            nodes[n]["provision_state"] == state and nodes[n]["reservation"] == holder
            for group, state, holder in want
            for n in group
        )

    c.wait("c1's nodes parked mid-lifecycle", parked)

    # SIGKILL c1 by PID: no chance to release its locks or mark itself offline.
    os.kill(c.procs["c1"].pid, signal.SIGKILL)
    c.procs["c1"].wait(10)
    killed_at = time.monotonic()

    def taken_over() -> bool:
        nodes = c.nodes()
        return (
            c.alive() == {"c1": False, "c2": True}
            and all(n["conductor"] == "c2" for n in nodes.values())
            and all(n["reservation"] is None for n in nodes.values())
            and all(nodes[n]["provision_state"] == "clean failed" for n in groups["clean_sleep"])
            and all(
                nodes[n]["provision_state"] == "service failed" for n in groups["service_sleep"]
            )
        )

    c.wait("c2 to take over", taken_over, timeout=4 * HEARTBEAT_TIMEOUT)
    took = time.monotonic() - killed_at
    assert took <= 2 * HEARTBEAT_TIMEOUT + HEARTBEAT_INTERVAL, took
    nodes = c.nodes()
    for name in groups["clean_sleep"] + groups["service_sleep"]:
        assert DEAD in nodes[name]["last_error"], nodes[name]
        assert "conductor c2 took the node over" in nodes[name]["last_error"]
    for name in groups["hold"] + groups["clean_wait"]:  # waits kept, boot files rebuilt on c2
        assert nodes[name]["provision_state"] in ("clean hold", "clean wait"), nodes[name]
        c.wait(f"{name} taken over", lambda n=name: any(
            e["event_type"] == "takeover" and e["conductor"] == "c2"
            for e in c.history(n)))  # fmt: skip

    # Every node reaches a stable state through c2, by the documented verbs.
    for name in groups["hold"] + c2_hold:
        c.act(name, "unhold")
    for name in groups["clean_wait"]:
        c.act(name, "abort")
    c.wait("holds finished", c.settled(groups["hold"] + c2_hold, "manageable"))
    c.wait("waits aborted", c.settled(groups["clean_wait"], "clean failed"))
    for name in groups["clean_sleep"] + groups["clean_wait"]:
        c.act(name, "manage")
    for name in groups["service_sleep"]:
        c.act(name, "abort")
    c.wait("failed cleans managed", c.settled(groups["clean_sleep"] + groups["clean_wait"],
                                              "manageable"))  # fmt: skip
    manageable = groups["clean_sleep"] + groups["clean_wait"] + groups["hold"] + c2_hold
    for name in manageable:
        c.act(name, "provide")
    c.wait("available", c.settled(manageable, "available"))
    c.wait("active", c.settled(groups["active"] + groups["service_sleep"] + c2_active, "active"))

    # c1 comes back: it rejoins the ring, gets its share again, and fails nothing twice.
    c.start_conductor("c1")
    c.wait("c1 alive again", lambda: c.alive() == {"c1": True, "c2": True})
    c.wait("c1 owns nodes again", lambda: {n["conductor"] for n in c.nodes().values()} == {"c1",
           "c2"})  # fmt: skip
    time.sleep(4 * HEARTBEAT_INTERVAL)  # both rings refreshed, takeover sweeps done
    owners = {n: v["conductor"] for n, v in c.nodes().items()}
    marks = {n: len(c.history(n)) for n in names}
    available = sorted(n for n, v in c.nodes().items() if v["provision_state"] == "available")
    for name in available:
        c.act(name, "active")
    c.wait("all active", c.settled(names, "active"))
    for name in names:
        events = c.history(name)
        failures = [e for e in events if DEAD in e["event"]]
        assert len(failures) <= 1, (name, failures)
        assert not [e for e in events if "restarted while" in e["event"]], name
        after = {e["conductor"] for e in events[marks[name] :]}
        assert after <= {owners[name]}, (name, owners[name], events[marks[name] :])
    assert all(v["reservation"] is None for v in c.nodes().values())
