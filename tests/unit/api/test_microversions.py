"""Microversion negotiation and fields hidden from older clients."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingot.api import versions


@pytest.fixture
def client(shared_client: Any) -> Any:
    return shared_client


@pytest.fixture
def node(client: Any) -> str:
    r = client.get("/v1/nodes/mv")
    if r.status_code == 404:
        r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "mv"})
    return str(r.json()["uuid"])


def _get(client: Any, path: str, headers: dict[str, str]) -> Any:
    """A request with exactly these version headers (the shared client defaults to latest)."""
    saved = client.headers.pop("X-OpenStack-Ironic-API-Version", None)
    try:
        return client.get(path, headers=headers)
    finally:
        if saved is not None:
            client.headers["X-OpenStack-Ironic-API-Version"] = saved


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "1.1"),
        ({"X-OpenStack-Ironic-API-Version": "latest"}, versions.MAX_VERSION),
        ({"X-OpenStack-Ironic-API-Version": "1.50"}, "1.50"),
        ({"OpenStack-API-Version": "baremetal 1.50"}, "1.50"),
        ({"OpenStack-API-Version": "baremetal latest"}, versions.MAX_VERSION),
        ({"OpenStack-API-Version": "compute 1.50"}, "1.1"),
        ({"X-OpenStack-Ironic-API-Version": " 1.31 "}, "1.31"),
    ],
)
def test_negotiation(client: Any, node: str, headers: dict[str, str], expected: str) -> None:
    r = _get(client, "/v1/nodes", headers)
    assert r.status_code == 200, r.text
    assert r.headers["X-OpenStack-Ironic-API-Version"] == expected
    assert r.headers["OpenStack-API-Version"] == f"baremetal {expected}"
    assert r.headers["X-OpenStack-Ironic-API-Minimum-Version"] == "1.1"
    assert r.headers["X-OpenStack-Ironic-API-Maximum-Version"] == versions.MAX_VERSION


@pytest.mark.parametrize("value", ["1.0", "1.999", "2.1", "0.9"])
def test_out_of_range_is_406_with_ironic_body(client: Any, value: str) -> None:
    for header in ("X-OpenStack-Ironic-API-Version", "OpenStack-API-Version"):
        sent = value if header.startswith("X-") else f"baremetal {value}"
        r = _get(client, "/v1/nodes", {header: sent})
        assert r.status_code == 406, r.text
        inner = json.loads(r.json()["error_message"])
        assert inner["code"] == 406 and inner["title"] == "Not Acceptable"
        assert value in inner["description"] and "1.1" in inner["description"]
        assert r.headers["X-OpenStack-Ironic-API-Maximum-Version"] == versions.MAX_VERSION


@pytest.mark.parametrize("value", ["one.two", "1", "1.x", "latest-ish"])
def test_malformed_version_is_400(client: Any, value: str) -> None:
    r = _get(client, "/v1/nodes", {"X-OpenStack-Ironic-API-Version": value})
    assert r.status_code == 400, r.text
    assert value in json.loads(r.json()["error_message"])["faultstring"]


@pytest.mark.parametrize(
    ("version", "hidden", "shown"),
    [
        ("1.1", ["name", "driver_internal_info", "resource_class", "traits", "owner",
                 "boot_interface", "conductor_group", "shard"], ["uuid", "driver"]),
        ("1.20", ["resource_class", "boot_interface", "traits"], ["name", "network_interface"]),
        ("1.37", ["rescue_interface", "owner", "conductor"], ["traits", "boot_interface"]),
        ("1.50", ["description", "lessee", "shard", "firmware_interface"], ["owner", "conductor"]),
        (versions.MAX_VERSION, [], ["shard", "firmware_interface", "instance_name", "health"]),
    ],
)  # fmt: skip
def test_fields_hidden_from_older_clients(
    client: Any, node: str, version: str, hidden: list[str], shown: list[str]
) -> None:
    body = _get(client, f"/v1/nodes/{node}", {"X-OpenStack-Ironic-API-Version": version}).json()
    for name in hidden:
        assert name not in body, (version, name)
    for name in shown:
        assert name in body, (version, name)


def test_newer_field_in_create_or_patch_is_refused_for_older_clients(client: Any) -> None:
    saved = client.headers["X-OpenStack-Ironic-API-Version"]
    client.headers["X-OpenStack-Ironic-API-Version"] = "1.20"
    try:
        r = client.post(
            "/v1/nodes", json={"driver": "fake-hardware", "resource_class": "x", "name": "old1"}
        )
        assert r.status_code in (400, 406) and "resource_class" in r.json()["error_message"]
        r = client.patch(
            "/v1/nodes/mv", json=[{"op": "add", "path": "/resource_class", "value": "x"}]
        )
        assert r.status_code in (400, 406) and "resource_class" in r.json()["error_message"]
    finally:
        client.headers["X-OpenStack-Ironic-API-Version"] = saved


def test_old_client_sees_available_as_none_and_new_nodes_start_available(client: Any) -> None:
    """Before 1.11 a new node starts in available, as Ironic; before 1.2 shown as None."""
    saved = client.headers["X-OpenStack-Ironic-API-Version"]
    client.headers["X-OpenStack-Ironic-API-Version"] = "1.1"
    try:
        r = client.post("/v1/nodes", json={"driver": "fake-hardware"})
        assert r.status_code == 201
        assert r.json()["provision_state"] is None
        client.headers["X-OpenStack-Ironic-API-Version"] = "1.10"
        assert client.get(f"/v1/nodes/{r.json()['uuid']}").json()["provision_state"] == "available"
    finally:
        client.headers["X-OpenStack-Ironic-API-Version"] = saved


@pytest.mark.parametrize(
    ("path", "version"),
    [("/v1/portgroups", "1.22"), ("/v1/volume", "1.31"), ("/v1/conductors", "1.48"),
     ("/v1/deploy_templates", "1.54"), ("/v1/runbooks", "1.91"), ("/v1/shards", "1.81")],
)  # fmt: skip
def test_collections_need_their_version(client: Any, path: str, version: str) -> None:
    r = _get(client, path, {"X-OpenStack-Ironic-API-Version": version})
    assert r.status_code == 404, (path, r.status_code)
    minor = int(version.split(".")[1]) + 1
    r = _get(client, path, {"X-OpenStack-Ironic-API-Version": f"1.{minor}"})
    assert r.status_code == 200, (path, r.text)


def test_root_and_v1_discovery(client: Any) -> None:
    root = _get(client, "/", {}).json()
    assert root["default_version"]["min_version"] == "1.1"
    assert root["default_version"]["version"] == versions.MAX_VERSION == "1.115"
    v1 = _get(client, "/v1", {}).json()
    assert "nodes" in v1 and "runbooks" not in v1  # 1.1 does not know runbooks
    v1 = _get(client, "/v1/", {"X-OpenStack-Ironic-API-Version": "latest"}).json()
    assert "runbooks" in v1 and "shards" in v1
