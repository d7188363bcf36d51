"""Friendly interface list -> network_data.json, against seed 002 and bad descriptions."""

from __future__ import annotations

from typing import Any

import pytest

from ingot.configdrive.network import build_network_data, macs_by_name
from ingot.configdrive.network_check import validate_network_data
from ingot.errors import InvalidInput

PORTS = {"eth0": "52:54:00:00:00:10", "eth1": "52:54:00:00:00:11", "eth2": "52:54:00:00:00:12"}


def test_seed002_bond_and_vlan_match_the_hand_checked_document(
    seed002_network: list[dict[str, Any]],
    seed002_ports: dict[str, str],
    seed002_expected: dict[str, Any],
) -> None:
    assert build_network_data(seed002_network, port_macs=seed002_ports) == seed002_expected


def test_macs_by_name_orders_ports_and_normalises_case() -> None:
    assert macs_by_name(["52-54-00-AA-BB-CC", "52:54:00:aa:bb:cd"]) == {
        "eth0": "52:54:00:aa:bb:cc",
        "eth1": "52:54:00:aa:bb:cd",
    }


def test_interface_may_be_named_by_its_mac_and_defaults_to_dhcp() -> None:
    doc = build_network_data([{"device": "52:54:00:00:00:11"}], port_macs=PORTS)
    assert doc["links"] == [
        {"id": "52:54:00:00:00:11", "type": "phy", "ethernet_mac_address": "52:54:00:00:00:11"}
    ]
    assert doc["networks"] == [{"id": "network0", "link": "52:54:00:00:00:11", "type": "ipv4_dhcp"}]


def test_dual_stack_cidr_gateways_routes_and_mtu() -> None:
    entry = {
        "device": "eth0",
        "address": ["10.0.0.5/24", "2001:db8::5"],
        "gateway": ["10.0.0.1", "2001:db8::1"],
        "routes": [{"to": "172.16.0.0/12", "via": "10.0.0.254"}],
        "mtu": 9000,
    }
    doc = build_network_data([entry], port_macs=PORTS)
    assert doc["links"][0]["mtu"] == 9000
    v4, v6 = doc["networks"]
    assert (v4["type"], v4["ip_address"], v4["netmask"]) == ("ipv4", "10.0.0.5", "255.255.255.0")
    assert v4["routes"] == [
        {"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"},
        {"network": "172.16.0.0", "netmask": "255.240.0.0", "gateway": "10.0.0.254"},
    ]
    assert (v6["type"], v6["netmask"]) == ("ipv6", "ffff:ffff:ffff:ffff::")
    assert v6["routes"] == [{"network": "::", "netmask": "::", "gateway": "2001:db8::1"}]


def test_vlan_on_a_bond_uses_the_bond_mac_and_bond_options_pass_through() -> None:
    entries = [
        {"device": "bond0", "bond_mode": 4, "backend": ["eth1", "eth2"], "address": "none",
         "bond_miimon": 100, "bond_xmit_hash_policy": "layer3+4"},
        {"device": "bond0.42", "address": "10.42.0.2/24"},
    ]  # fmt: skip
    doc = build_network_data(entries, port_macs=PORTS)
    bond = next(lk for lk in doc["links"] if lk["id"] == "bond0")
    vlan = next(lk for lk in doc["links"] if lk["id"] == "bond0.42")
    assert bond["bond_mode"] == "802.3ad"
    assert (bond["bond_miimon"], bond["bond_xmit_hash_policy"]) == (100, "layer3+4")
    assert vlan == {
        "id": "bond0.42",
        "type": "vlan",
        "vlan_link": "bond0",
        "vlan_id": 42,
        "vlan_mac_address": "52:54:00:00:00:11",
    }
    assert [n["link"] for n in doc["networks"]] == ["bond0.42"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"device": "eth7"}], "network[0].device: interface 'eth7' matches no port"),
        ([{"device": "bond0", "type": "bond"}], "network[0].backend: bond 'bond0' has no members"),
        (
            [{"device": "eth1.500", "address": "dhcp"}, {"device": "v2", "type": "vlan",
              "vlan_id": 500, "backend": "eth1"}],
            "network[1].vlan_id: VLAN 500 is already defined on 'eth1'",
        ),
        ([{"device": "eth0", "adress": "10.0.0.1"}], "network[0].adress: unknown key"),
        ([{"device": "eth0", "address": "10.0.0.300/24"}], "network[0].address: '10.0.0.300/24'"),
        ([{"device": "eth0", "address": "10.0.0.3"}], "network[0].address"),
        (
            [{"device": "eth0", "address": "10.0.0.3/24", "gateway": "10.9.9.1"}],
            "network[0].gateway: 10.9.9.1 is not inside any static subnet",
        ),
        ([{"device": "eth0"}, {"device": "eth0"}], "network[1].device: 'eth0' is already"),
        ([{"device": "bond0", "bond_mode": "9", "backend": ["eth0"]}], "network[0].bond_mode"),
        ([{"device": "eth0.5000"}], "network[0].vlan_id: 5000 is not a VLAN id"),
        (
            [{"device": "bond0", "backend": ["eth0"]}, {"device": "eth0", "address": "1.2.3.4/8"}],
            "network[1].address: 'eth0' is a member of bond 'bond0'",
        ),
        (
            [{"device": "b0", "type": "bond", "backend": ["eth0"]},
             {"device": "b1", "type": "bond", "backend": ["eth0"]}],
            "network[1].backend: 'eth0' is already used by 'b0'",
        ),
        ([{"device": "eth0", "type": "bridge"}], "network[0].type: 'bridge' is not one of"),
        ([{"device": "eth0", "mtu": 10}], "network[0].mtu"),
        ({"device": "eth0"}, "must be a list of interfaces"),
    ],
)  # fmt: skip
def test_bad_descriptions_name_the_entry_and_field(entries: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        build_network_data(entries, port_macs=PORTS)
    assert message in str(err.value)


def test_unknown_port_error_lists_the_ports_to_choose_from() -> None:
    with pytest.raises(InvalidInput, match=r"ports: eth0=52:54:00:00:00:10, eth1="):
        build_network_data([{"device": "ens3"}], port_macs=PORTS)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a JSON object"),
        ({"links": [], "foo": 1}, "unknown keys ['foo']"),
        ({"links": [{"id": "eth0", "type": "phy"}]}, "links[0].ethernet_mac_address is missing"),
        ({"links": [{"id": "b", "type": "bond", "bond_links": []}]}, "links[0].bond_links"),
        (
            {"links": [{"id": "v", "type": "vlan", "vlan_link": "x", "vlan_id": 5}]},
            "links[0].vlan_link 'x' is not a link id",
        ),
        (
            {"links": [{"id": "e", "type": "phy", "ethernet_mac_address": "m"},
                       {"id": "v", "type": "vlan", "vlan_link": "e", "vlan_id": 5}]},
            "links[1].vlan_mac_address is missing",
        ),
        ({"networks": [{"id": "n", "link": "nope", "type": "ipv4"}]}, "networks[0].link 'nope'"),
        (
            {"links": [{"id": "e", "type": "phy", "ethernet_mac_address": "m"}],
             "networks": [{"id": "n", "link": "e", "type": "ipv4"}]},
            "networks[0].ip_address is missing",
        ),
        ({"services": [{"type": "dns"}]}, "services[0].address is missing"),
    ],
)  # fmt: skip
def test_raw_network_data_checks(doc: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_network_data(doc)
    assert message in str(err.value)
