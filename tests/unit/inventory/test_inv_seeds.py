"""The seeds' inventories import as written (BMC addresses rewritten to 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingot.inventory import parse_inventory

DATA = Path(__file__).parent / "data"


def test_seed000_fake_pxe_nodes_become_manual_management() -> None:
    inventory = parse_inventory(DATA / "seed000_instackenv.json")

    assert inventory.format == "instackenv"
    assert [n.macs for n in inventory.nodes] == [
        ["aa:aa:aa:aa:aa:aa"],
        ["bb:bb:bb:bb:bb:bb"],
        ["cc:cc:cc:cc:cc:cc"],
    ]
    for index, request in enumerate(inventory.nodes):
        assert request.node == {
            "driver": "manual-management",
            "boot_interface": "pxe",
            "driver_info": {},
            "properties": {"cpu_arch": "x86_64"},
            "resource_class": "baremetal",
        }
        assert request.ports == [{"address": request.macs[0], "pxe_enabled": True}]
        assert request.notes == [
            "driver 'fake_pxe' is a retired classic driver; mapped to hardware type "
            "'manual-management' with boot_interface=pxe"
        ]
        assert request.source.endswith(f"seed000_instackenv.json:nodes[{index}]")


def test_seed004_pxe_ipmitool_node() -> None:
    (request,) = parse_inventory(DATA / "seed004_new_node.json").nodes

    assert request.node == {
        "name": "blade-ocp-node-1",
        "driver": "ipmi",
        "boot_interface": "pxe",
        "driver_info": {
            "ipmi_address": "127.0.0.1",
            "ipmi_username": "root",
            "ipmi_password": "$YOURIPMIPASS",
        },
        "properties": {"cpus": 2, "memory_mb": 4096, "local_gb": 40, "cpu_arch": "x86_64"},
        "resource_class": "baremetal",
    }
    assert request.ports == [{"address": "18:db:f2:8c:d5:fa", "pxe_enabled": True}]
    assert request.notes[0] == (
        "driver 'pxe_ipmitool' is a retired classic driver; mapped to hardware type 'ipmi' "
        "with boot_interface=pxe"
    )
    # The seed's password is a shell variable nobody expanded: say so without echoing it.
    assert "unexpanded variable" in request.notes[1]
    assert "$YOURIPMIPASS" not in " ".join(request.notes)


def test_seed002_server_yaml_keeps_fqdn_and_network_list() -> None:
    (request,) = parse_inventory(DATA / "seed002_test-server-01.yml").nodes

    node = request.node
    assert node["name"] == "test-server-01.example.com"
    assert (node["driver"], node["boot_interface"], node["deploy_interface"]) == (
        "ipmi",
        "pxe",
        "direct",
    )
    assert node["driver_info"] == {
        "ipmi_address": "127.0.0.1",
        "ipmi_username": "IPMIUSER",
        "ipmi_password": "IPMIPASS",
    }
    assert request.ports == [{"address": "00:92:fa:ab:0e:ba", "pxe_enabled": True}]
    network = node["extra"]["ingot_network"]
    assert [n["device"] for n in network] == ["bond0", "eth1.500"]
    assert network[0]["address"] == "{{ baremetal_ip }}"  # unchanged, templates and all
    assert network[0]["backend"] == ["eth0", "eth2"]
    assert node["extra"]["ingot_host_vars"] == {
        "baremetal_ip": "127.0.0.1",
        "baremetal_netmask": "255.255.255.0",
        "baremetal_gw": "127.0.0.1",
        "baremetal_os": "trusty",
    }
    assert any("assumed 'agent_ipmitool'" in note for note in request.notes)


@pytest.mark.parametrize(
    ("fixture", "fmt", "count"),
    [
        ("seed000_instackenv.json", "instackenv", 3),
        ("seed004_new_node.json", "instackenv", 1),
        ("seed002_test-server-01.yml", "server-yaml", 1),
        ("bifrost.csv", "bifrost-csv", 3),
        ("bifrost.json", "bifrost", 2),
        ("bifrost.yaml", "bifrost", 1),
        ("ironic_create.yaml", "ironic", 2),
    ],
)
def test_format_is_detected_from_path_and_from_text(fixture: str, fmt: str, count: int) -> None:
    path = DATA / fixture
    from_path = parse_inventory(path)
    text = path.read_text()
    # CSV text is recognised by its content; the others by their structure.
    from_text = parse_inventory(text if text.endswith("\n") else text + "\n")

    assert (from_path.format, len(from_path.nodes)) == (fmt, count)
    assert from_text.format == fmt
    assert [n.node for n in from_text.nodes] == [n.node for n in from_path.nodes]


def test_explicit_format_overrides_detection() -> None:
    text = (DATA / "bifrost.json").read_text()
    assert parse_inventory(text, fmt="bifrost", name="hosts.txt").source == "hosts.txt"
