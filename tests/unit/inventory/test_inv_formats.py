"""Field mapping of each format, case by case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingot.inventory import KNOWN_DRIVER_NAMES, lookup_driver, parse_inventory

DATA = Path(__file__).parent / "data"


def instackenv(**fields: Any) -> str:
    node = {"pm_type": "ipmi", "pm_addr": "127.0.0.1", "pm_user": "u", "pm_password": "p"}
    node.update(fields)
    return json.dumps({"nodes": [{k: v for k, v in node.items() if v is not None}]})


@pytest.mark.parametrize(
    ("written", "hardware_type", "interfaces", "noted"),
    [
        ("pxe_ipmitool", "ipmi", {"boot_interface": "pxe"}, True),
        ("agent_ipmitool", "ipmi", {"boot_interface": "pxe", "deploy_interface": "direct"}, True),
        ("pxe_ipmi", "ipmi", {"boot_interface": "pxe"}, True),
        ("ipmi", "ipmi", {}, False),
        ("fake_pxe", "manual-management", {"boot_interface": "pxe"}, True),
        ("manual", "manual-management", {}, True),
        ("manual-management", "manual-management", {}, False),
        ("redfish", "redfish", {}, False),
        ("fake", "fake-hardware", {}, True),
        ("fake-hardware", "fake-hardware", {}, False),
    ],
)
def test_old_driver_names_map_to_hardware_types(
    written: str, hardware_type: str, interfaces: dict[str, str], noted: bool
) -> None:
    text = instackenv(pm_type=written, pm_system_id="/redfish/v1/Systems/1")
    (request,) = parse_inventory(text).nodes

    assert request.node["driver"] == hardware_type
    pinned = {k: v for k, v in request.node.items() if k.endswith("_interface")}
    assert pinned == interfaces
    driver_notes = [n for n in request.notes if n.startswith(f"driver '{written}'")]
    assert bool(driver_notes) == noted
    if noted:
        assert f"mapped to hardware type '{hardware_type}'" in driver_notes[0]
    assert lookup_driver(written) is not None
    assert written in KNOWN_DRIVER_NAMES


def test_interface_written_in_file_wins_over_implied_one() -> None:
    (request,) = parse_inventory(instackenv(pm_type="pxe_ipmitool", boot_interface="ipxe")).nodes
    assert request.node["boot_interface"] == "ipxe"
    assert "boot_interface 'ipxe' from the file kept over 'pxe'" in request.notes


@pytest.mark.parametrize(
    ("fields", "driver_info"),
    [
        (
            {"pm_port": "6230"},
            {
                "ipmi_address": "127.0.0.1",
                "ipmi_port": 6230,
                "ipmi_username": "u",
                "ipmi_password": "p",
            },
        ),
        (
            {"pm_user": "", "pm_password": "", "ipmi_terminal_port": 8023},
            {
                "ipmi_address": "127.0.0.1",
                "ipmi_username": "",
                "ipmi_password": "",
                "ipmi_terminal_port": 8023,
            },
        ),
        (
            {"kernel_id": "file:///k", "ramdisk_id": "file:///r"},
            {
                "ipmi_address": "127.0.0.1",
                "ipmi_username": "u",
                "ipmi_password": "p",
                "deploy_kernel": "file:///k",
                "rescue_kernel": "file:///k",
                "deploy_ramdisk": "file:///r",
                "rescue_ramdisk": "file:///r",
            },
        ),
    ],
)
def test_instackenv_ipmi_driver_info(fields: dict[str, Any], driver_info: dict[str, Any]) -> None:
    (request,) = parse_inventory(instackenv(**fields)).nodes
    assert request.node["driver_info"] == driver_info


@pytest.mark.parametrize(
    ("pm_addr", "pm_port", "expected_address", "note"),
    [
        ("https://127.0.0.1", None, "https://127.0.0.1", None),
        ("127.0.0.1:8000", None, "127.0.0.1:8000", None),
        ("http://127.0.0.1", 8000, "http://127.0.0.1:8000", "pm_port 8000 folded"),
        ("127.0.0.1", "8000", "127.0.0.1:8000", "pm_port 8000 folded"),
        ("http://[::1]/", 8000, "http://[::1]:8000/", "pm_port 8000 folded"),
        ("http://127.0.0.1:8000", 8000, "http://127.0.0.1:8000", None),
    ],
)
def test_redfish_address_keeps_scheme_and_folds_port(
    pm_addr: str, pm_port: Any, expected_address: str, note: str | None
) -> None:
    text = instackenv(
        pm_type="redfish", pm_addr=pm_addr, pm_port=pm_port, pm_system_id="/redfish/v1/Systems/1"
    )
    (request,) = parse_inventory(text).nodes

    assert request.node["driver_info"] == {
        "redfish_address": expected_address,
        "redfish_system_id": "/redfish/v1/Systems/1",
        "redfish_username": "u",
        "redfish_password": "p",
    }
    assert any(note in n for n in request.notes) if note else request.notes == []


def test_redfish_without_system_id_or_credentials_is_accepted_with_a_note() -> None:
    text = instackenv(pm_type="redfish", pm_user=None, pm_password=None)
    (request,) = parse_inventory(text).nodes
    assert request.node["driver_info"] == {"redfish_address": "127.0.0.1"}
    assert any("no pm_system_id" in n for n in request.notes)


def test_manual_management_ignores_bmc_fields_with_a_note() -> None:
    (request,) = parse_inventory(instackenv(pm_type="fake_pxe")).nodes
    assert request.node["driver_info"] == {}
    assert any("pm_addr, pm_user, pm_password ignored" in n for n in request.notes)


@pytest.mark.parametrize(
    ("fields", "capabilities"),
    [
        (
            {"capabilities": "profile:compute,boot_option:local"},
            "profile:compute,boot_option:local",
        ),
        (
            {"capabilities": {"boot_mode": "uefi", "profile": "control"}},
            "boot_mode:uefi,profile:control",
        ),
        ({"capabilities": {"secure_boot": True}}, "secure_boot:true"),
        ({"profile": "compute"}, "profile:compute"),
        (
            {"capabilities": "boot_mode:bios,profile:x", "profile": "compute"},
            "boot_mode:bios,profile:compute",
        ),
    ],
)
def test_capabilities_become_ironic_string(fields: dict[str, Any], capabilities: str) -> None:
    (request,) = parse_inventory(instackenv(**fields)).nodes
    assert request.node["properties"]["capabilities"] == capabilities


def test_instackenv_other_node_fields() -> None:
    text = instackenv(
        name="ctrl-0",
        uuid="A8CB6624-0D9F-C882-AFFC-046EBB96EC01",
        resource_class="control",
        root_device={"serial": "S123"},
        platform="SNB",
        arch="x86_64",
        conductor_group="rack1",
        ports=[{"address": "52:54:00:AA:00:01", "physical_network": "ctlplane"}],
    )
    (request,) = parse_inventory(text).nodes
    node = request.node
    assert node["uuid"] == "a8cb6624-0d9f-c882-affc-046ebb96ec01"
    assert node["resource_class"] == "control"
    assert node["properties"]["root_device"] == {"serial": "S123"}
    assert node["extra"] == {"tripleo_platform": "SNB"}
    assert node["conductor_group"] == "rack1"
    assert request.ports == [
        {"address": "52:54:00:aa:00:01", "physical_network": "ctlplane", "pxe_enabled": True}
    ]


def test_instackenv_yaml_with_all_digit_mac_stays_a_string() -> None:
    # YAML 1.1 reads 10:20:30:40:50:59 as a base-60 integer; inventories must not.
    text = "nodes:\n  - pm_type: fake\n    mac: [10:20:30:40:50:59]\n"
    (request,) = parse_inventory(text).nodes
    assert request.macs == ["10:20:30:40:50:59"]


def test_bifrost_csv_columns() -> None:
    first, second, third = parse_inventory(DATA / "bifrost.csv").nodes
    assert first.node["uuid"] == "a8cb6624-0d9f-c882-affc-046ebb96ec01"
    assert first.node["driver_info"] == {
        "ipmi_address": "127.0.0.1",
        "ipmi_username": "root",
        "ipmi_password": "undefined",
    }
    assert first.node["properties"] == {
        "cpus": 1,
        "memory_mb": 8192,
        "local_gb": 512,
        "cpu_arch": "x86_64",
    }
    assert first.node["extra"]["ingot_host_vars"]["flavor"] == "Control"
    assert second.node["driver_info"]["ipmi_bridging"] == "single"
    assert second.node["deploy_interface"] == "direct"
    assert second.node["extra"]["ingot_host_vars"]["provisioning_ipv4_address"] == "127.0.0.1"
    assert third.node["driver"] == "ipmi"  # column 16 empty: Bifrost's default
    assert third.source.endswith("bifrost.csv:line 4")


def test_bifrost_json_sections_urls_and_host_vars() -> None:
    basic, advanced = parse_inventory(DATA / "bifrost.json").nodes
    assert basic.node["properties"] == {
        "cpus": 16,
        "memory_mb": 32760,
        "local_gb": 235,
        "cpu_arch": "x86_64",
    }
    assert basic.macs == ["00:00:00:23:34:56", "00:00:00:12:34:57"]
    info = advanced.node["driver_info"]
    assert info["ipmi_address"] == "127.0.0.2"
    assert info["ipmi_bridging"] == "dual"
    assert info["deploy_kernel"] == "http://127.0.0.1:8080/custom_ipa.kernel"
    assert advanced.node["instance_info"]["image_checksum"] == "493972895dc465a09702ce6e85a836c5"
    assert advanced.node["properties"]["capabilities"] == "boot_mode:uefi,profile:compute"
    assert advanced.node["extra"]["ingot_host_vars"]["host_groups"] == ["compute"]
    assert "driver_info sections power merged into one driver_info" in advanced.notes


def test_bifrost_yaml_redfish_and_network_data() -> None:
    (node,) = parse_inventory(DATA / "bifrost.yaml").nodes
    assert node.node["driver"] == "redfish"
    assert node.node["driver_info"]["redfish_system_id"] == "/redfish/v1/Systems/testvm1"
    assert node.node["extra"]["ingot_network_data"]["links"][0]["id"] == "eth0"


def test_ironic_create_file() -> None:
    inventory = parse_inventory(DATA / "ironic_create.yaml")
    in_chassis, bonded = inventory.nodes

    assert [c.chassis for c in inventory.chassis] == [{"description": "rack 12"}]
    assert in_chassis.chassis_index == 0
    assert in_chassis.source.endswith(":chassis[0].nodes[0]")
    assert in_chassis.node["properties"]["memory_mb"] == 16384
    assert in_chassis.node["driver_info"]["ipmi_port"] == 6230
    assert bonded.chassis_index is None
    assert bonded.portgroups == [
        {"name": "bond0", "address": "52:54:00:00:00:10", "mode": "active-backup"}
    ]
    assert bonded.macs == [
        "52:54:00:00:00:12",
        "52:54:00:00:00:10",
        "52:54:00:00:00:11",
        "52:54:00:00:00:13",
    ]
    assert bonded.port_portgroups == {"52:54:00:00:00:10": 0, "52:54:00:00:00:11": 0}
    # A top-level port for a node outside the file is kept for the importer.
    assert inventory.ports == [
        {"address": "52:54:00:00:00:99", "node_uuid": "11111111-2222-3333-4444-555555555555"}
    ]


def test_five_hundred_nodes_parse_quickly() -> None:
    nodes = [
        {
            "name": f"n{i}",
            "pm_type": "ipmi",
            "pm_addr": "127.0.0.1",
            "pm_port": 6000 + i,
            "pm_user": "u",
            "pm_password": "p",
            "mac": [f"52:54:00:00:{i // 256:02x}:{i % 256:02x}"],
            "cpu": 4,
            "memory": 8192,
            "disk": 100,
        }
        for i in range(500)
    ]
    inventory = parse_inventory(json.dumps({"nodes": nodes}))
    assert len(inventory.nodes) == 500
    assert len({n.macs[0] for n in inventory.nodes}) == 500
