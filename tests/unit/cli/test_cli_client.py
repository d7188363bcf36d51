"""IngotClient against httpx's own fake transport: error bodies, paging, lock retries, waits."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from ingot import errors
from ingot.client import IngotClient, ProvisionFailed, WaitTimeout, provision_outcome


def ironic_error(status: int, message: str) -> httpx.Response:
    inner = {"faultcode": "Client", "faultstring": message, "debuginfo": None}
    return httpx.Response(status, json={"error_message": json.dumps(inner)})


def fake(handler: Callable[[httpx.Request], httpx.Response]) -> IngotClient:
    return IngotClient(
        "http://api.test/v1/", transport=httpx.MockTransport(handler), lock_retry_delay=0
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InvalidInput),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (406, errors.NotAcceptable),
        (409, errors.Conflict),
        (501, errors.NotImplementedYet),
        (500, errors.IngotError),
        (418, errors.ClientError),
    ],
)
def test_errors_map_to_their_class_with_the_faultstring(
    status: int, cls: type[errors.IngotError]
) -> None:
    api = fake(lambda _r: ironic_error(status, "Node n1 went sideways."))
    with pytest.raises(cls) as caught:
        api.get_node("n1")
    assert caught.value.message == "Node n1 went sideways."
    assert caught.value.status == status


def test_a_locked_node_is_retried_then_succeeds() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["X-OpenStack-Ironic-API-Version"])
        if len(calls) < 3:
            return ironic_error(409, "Node n1 is locked by host c1, please retry after the "
                                "current operation is completed.")  # fmt: skip
        return httpx.Response(202)

    fake(handler).set_provision_state("n1", "manage")
    assert calls == ["latest"] * 3


def test_locked_for_too_long_raises_node_locked() -> None:
    locked = ironic_error(409, "Node n1 is locked by host c1, please retry after it.")
    with pytest.raises(errors.NodeLocked) as caught:
        fake(lambda _r: locked).set_power_state("n1", "power on")
    assert caught.value.holder == "c1"


def test_list_follows_next_links() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("marker") == "b":
            return httpx.Response(200, json={"nodes": [{"uuid": "c"}]})
        assert request.url.params["provision_state"] == "available"
        assert request.url.params["maintenance"] == "false"
        nxt = "http://api.test/v1/nodes?limit=2&marker=b&provision_state=available"
        return httpx.Response(200, json={"nodes": [{"uuid": "a"}, {"uuid": "b"}], "next": nxt})

    nodes = fake(handler).list_nodes(provision_state="available", maintenance=False)
    assert [n["uuid"] for n in nodes] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("node", "wanted", "outcome"),
    [
        ({"provision_state": "available", "target_provision_state": None}, "available", "done"),
        (
            {"provision_state": "cleaning", "target_provision_state": "available"},
            "available",
            "busy",
        ),
        (
            {"provision_state": "clean failed", "target_provision_state": None},
            "available",
            "failed",
        ),
        ({"provision_state": "deploy failed"}, "active", "failed"),
        ({"provision_state": "error"}, "active", "failed"),
        ({"provision_state": "enroll", "last_error": "no BMC"}, "manageable", "failed"),
        ({"provision_state": "enroll", "last_error": None}, "manageable", "busy"),
        (
            {"provision_state": "verifying", "target_provision_state": "manageable"},
            "manageable",
            "busy",
        ),
    ],
)
def test_provision_outcome(node: dict[str, object], wanted: str, outcome: str) -> None:
    assert provision_outcome(node, wanted) == outcome


def test_wait_reports_every_failure_and_progress() -> None:
    states = {"n1": ["cleaning", "available"], "n2": ["cleaning", "clean failed"]}
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ident = request.url.path.rsplit("/", 1)[-1]
        state = states[ident].pop(0) if len(states[ident]) > 1 else states[ident][0]
        target = None if state in ("available", "clean failed") else "available"
        body = {"uuid": ident, "provision_state": state, "target_provision_state": target,
                "last_error": "erase failed on sda" if "failed" in state else None}  # fmt: skip
        return httpx.Response(200, json=body)

    def progress(latest: dict[str, dict[str, object]]) -> None:
        seen.append({k: str(v["provision_state"]) for k, v in latest.items()})

    with pytest.raises(ProvisionFailed) as caught:
        fake(handler).wait_for_provision_state(
            ["n1", "n2"], "available", interval=0, on_progress=progress, fail_fast=False
        )
    assert caught.value.failures == {"n2": "clean failed: erase failed on sda"}
    assert seen[0] == {"n1": "cleaning", "n2": "cleaning"}
    assert seen[-1]["n1"] == "available"


def test_wait_times_out_naming_the_pending_nodes() -> None:
    body = {"uuid": "n1", "provision_state": "clean wait", "target_provision_state": "available"}
    api = fake(lambda _r: httpx.Response(200, json=body))
    with pytest.raises(WaitTimeout, match=r"n1 \(clean wait\)"):
        api.wait_for_provision_state(["n1"], "available", timeout=0.05, interval=0.01)


def test_unreachable_api_is_an_ingot_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(errors.IngotError, match=r"Cannot reach the Ingot API at http://api\.test"):
        fake(handler).list_nodes()
