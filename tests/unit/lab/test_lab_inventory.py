"""What a lab writes about itself: inventory.json (for ingot import) and lab.json (live state)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingot.errors import InvalidInput
from ingot.lab.runner import PASSWORD, USERNAME, Lab, LabConfig


def read(lab: Lab, name: str) -> Any:
    return json.loads((lab.dir / name).read_text())


@pytest.mark.parametrize(
    ("bmc", "pm_types"),
    [
        ("ipmi", ["ipmi"] * 4),
        ("redfish", ["redfish"] * 4),
        ("manual", ["manual-management"] * 4),
        ("mixed", ["ipmi", "redfish", "ipmi", "manual-management"]),
    ],
)
def test_inventory_has_one_entry_per_server(tmp_path: Path, bmc: str, pm_types: list[str]) -> None:
    config = LabConfig(tmp_path / "lab", post_seconds=0, nodes=4, bmc=bmc, boot="bios", disk_gb=2,  # type: ignore[arg-type]
                       memory_mb=1024, cpus=3)  # fmt: skip
    with Lab(config) as lab:
        nodes = read(lab, "inventory.json")["nodes"]
        assert [n["pm_type"] for n in nodes] == pm_types
        assert [n["name"] for n in nodes] == ["node-0", "node-1", "node-2", "node-3"]
        for node in nodes:
            assert (node["cpu"], node["memory"], node["disk"], node["arch"]) == (
                3, 1024, 2, "x86_64",
            )  # fmt: skip
            assert node["capabilities"] == "boot_mode:bios"
            if node["pm_type"] == "manual-management":
                assert "pm_addr" not in node
                continue
            assert (node["pm_user"], node["pm_password"]) == (USERNAME, PASSWORD)
            assert isinstance(node["pm_port"], int)
            if node["pm_type"] == "redfish":
                assert node["pm_addr"] == f"http://127.0.0.1:{node['pm_port']}"
                assert node["pm_system_id"].startswith("/redfish/v1/Systems/")
            else:
                assert node["pm_addr"] == "127.0.0.1"
        macs = [mac for node in nodes for mac in node["mac"]]
        assert len(set(macs)) == len(macs) and all(m.startswith("52:54:00:") for m in macs)
        ipmi_ports = [n["pm_port"] for n in nodes if n["pm_type"] == "ipmi"]
        assert len(set(ipmi_ports)) == len(ipmi_ports)


def test_lab_json_describes_each_machine(tmp_path: Path) -> None:
    with Lab(LabConfig(tmp_path / "lab", post_seconds=0, nodes=2, bmc="redfish", disk_gb=0.5,
                       tftp="127.0.0.1:6969")) as lab:  # fmt: skip
        state = read(lab, "lab.json")
        assert state["tftp"] == "127.0.0.1:6969" and state["running"] is True
        first = state["machines"][0]
        assert first["bmc"]["type"] == "redfish" and first["bmc"]["port"] > 0
        assert state["machines"][1]["bmc"]["system_id"].startswith("/redfish/v1/Systems/")
        disk = Path(first["disks"][0])
        assert disk.stat().st_size == 512 * 1024**2 and disk.stat().st_blocks == 0  # sparse
        assert Path(first["serial_log"]).exists()
        assert (first["power_state"], first["agent_pid"], first["booted_hostname"]) == (
            "off", None, None,
        )  # fmt: skip
        machine_json = json.loads((disk.parent / "machine.json").read_text())
        assert machine_json["power_url"] == f"{state['control_url']}/power/node-0"
        assert [n["mac"] for n in machine_json["nics"]] == first["macs"]
    assert read(lab, "lab.json")["running"] is False


def test_boot_device_set_out_of_band_shows_in_lab_json(tmp_path: Path) -> None:
    # The BMCs call set_boot_device, which tells no listener; the lab polls for it.
    with Lab(
        LabConfig(tmp_path / "lab", post_seconds=0, nodes=1, bmc="manual", disk_gb=0.01)
    ) as lab:
        machine = read(lab, "lab.json")["machines"][0]
        assert (machine["boot_device"], machine["boot_persistent"]) == ("pxe", True)
        lab.servers[0].machine.set_boot_device("cdrom", persistent=False)
        deadline = time.monotonic() + 5
        while (machine := read(lab, "lab.json")["machines"][0])["boot_device"] != "cdrom":
            assert time.monotonic() < deadline, "lab.json never showed the new boot device"
            time.sleep(0.05)
        assert machine["boot_persistent"] is False


def test_control_endpoint_presses_power_buttons(tmp_path: Path) -> None:
    with Lab(LabConfig(tmp_path / "lab", post_seconds=0, nodes=1, bmc="manual", disk_gb=0.01,
                       boot_url=None)) as lab:  # fmt: skip
        url = f"{lab.control_url}/power/node-0"
        assert httpx.post(url, json={"action": "on"}, timeout=5).status_code == 204
        assert lab.servers[0].machine.get_power() == "on"
        assert httpx.post(url, json={"action": "off"}, timeout=5).status_code == 204
        assert lab.servers[0].machine.get_power() == "off"
        bad = httpx.post(url, json={"action": "explode"}, timeout=5)
        assert bad.status_code == 404
        missing = httpx.post(f"{lab.control_url}/power/node-9", json={"action": "on"}, timeout=5)
        assert missing.status_code == 404


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"nodes": 0}, "--nodes"),
        ({"bmc": "ilo"}, "--bmc"),
        ({"boot": "coreboot"}, "--boot"),
        ({"disk_gb": 0}, "--disk-gb"),
        ({"tftp": "nohost"}, "--tftp"),
    ],
)
def test_bad_lab_settings_name_the_option(
    tmp_path: Path, changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidInput, match=named):
        Lab(LabConfig(tmp_path / "lab", post_seconds=0, **changes))
