"""Seed 002's network list with its {{ var }} references filled from the host variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingot.inventory import parse_inventory, resolve_network

DATA = Path(__file__).parent / "data"


def test_seed002_network_list_resolves_from_its_own_variables() -> None:
    (request,) = parse_inventory(DATA / "seed002_test-server-01.yml").nodes

    entries, missing = resolve_network(request.node["extra"])

    bond, vlan = entries
    assert bond["address"] == "127.0.0.1"
    assert bond["netmask"] == "255.255.255.0"
    assert bond["gateway"] == "127.0.0.1"
    assert "domain" not in bond  # baremetal_domain lives in the site's inventory, not here
    assert missing == ["baremetal_domain"]
    assert vlan == {
        "device": "eth1.500",
        "type": "vlan",
        "address": "127.0.0.1",
        "netmask": "255.255.255.0",
        "backend": ["eth1"],
    }
    # The stored list itself is untouched.
    assert request.node["extra"]["ingot_network"][0]["address"] == "{{ baremetal_ip }}"


@pytest.mark.parametrize(
    ("entry", "variables", "expected", "missing"),
    [
        ({"domain": "{{ d }}"}, {"d": "example.com"}, {"domain": "example.com"}, []),
        ({"dns": "{{ ns }}"}, {"ns": ["127.0.0.1"]}, {"dns": ["127.0.0.1"]}, []),
        ({"name": "web-{{ n }}.lan"}, {"n": 3}, {"name": "web-3.lan"}, []),
        ({"name": "web-{{ n }}.lan"}, {}, {"name": "web-{{ n }}.lan"}, ["n"]),
        ({"backend": ["{{ a }}", "eth2"]}, {}, {"backend": ["eth2"]}, ["a"]),
    ],
)
def test_references(
    entry: dict[str, Any], variables: dict[str, Any], expected: dict[str, Any], missing: list[str]
) -> None:
    extra = {"ingot_network": [entry], "ingot_host_vars": {}}
    assert resolve_network(extra, variables) == ([expected], missing)


def test_no_network_list() -> None:
    assert resolve_network({}) == ([], [])
