"""1,000 fake-hardware nodes through the whole lifecycle without one failure (issue 3)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ingot import states

NODES = 1000
STEPS = [
    ("manage", states.MANAGEABLE),
    ("provide", states.AVAILABLE),
    ("active", states.ACTIVE),
    ("deleted", states.AVAILABLE),
]


def _settled(client: Any, state: str) -> tuple[int, list[dict[str, Any]]]:
    """How many nodes are in ``state`` with no target and no lock; the others for the report."""
    nodes = client.get(
        "/v1/nodes?fields=uuid,provision_state,target_provision_state,reservation,last_error"
        f"&limit={NODES}"
    ).json()["nodes"]
    done = [
        n for n in nodes
        if n["provision_state"] == state and n["target_provision_state"] is None
        and n["reservation"] is None
    ]  # fmt: skip
    return len(done), [n for n in nodes if n not in done]


@pytest.mark.slow
def test_thousand_nodes_whole_lifecycle(client: Any) -> None:
    started = time.monotonic()
    uuids = []
    for i in range(NODES):
        r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": f"s{i:04d}"})
        assert r.status_code == 201, r.text
        uuids.append(r.json()["uuid"])
    timings = {"create": time.monotonic() - started}
    for verb, state in STEPS:
        t0 = time.monotonic()
        for uuid in uuids:
            r = client.put(f"/v1/nodes/{uuid}/states/provision", json={"target": verb})
            assert r.status_code == 202, (verb, uuid, r.text)
        deadline = time.monotonic() + 60
        while True:
            done, others = _settled(client, state)
            if done == NODES:
                break
            failed = [n for n in others if n["last_error"]]
            assert not failed, f"{verb}: {len(failed)} nodes failed, e.g. {failed[:2]}"
            assert time.monotonic() < deadline, f"{verb}: {done}/{NODES} in {state}: {others[:2]}"
            time.sleep(0.1)
        timings[verb] = time.monotonic() - t0
    total = time.monotonic() - started
    print("1,000-node lifecycle timings (s):", {k: round(v, 1) for k, v in timings.items()})
    assert total < 120, f"the lifecycle of {NODES} nodes took {total:.0f} s: {timings}"
    events = client.get(f"/v1/nodes/{uuids[-1]}/history").json()["history"]
    assert any("Deployment completed" in e["event"] for e in events)
