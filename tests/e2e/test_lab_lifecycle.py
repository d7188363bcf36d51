"""Issue 8: the whole lifecycle on lab servers through the real clients (``baremetal`` CLI and
openstacksdk): enroll, manage, inspect, provide (cleaning), deploy with a config drive,
undeploy (cleaning) — over real IPMI and Redfish BMCs and the real agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingot.lab.runner import PASSWORD, USERNAME
from tests.e2e.lab_fixtures import (
    SSH_KEY,
    Baremetal,
    Site,
    config_drive,
    lab_site,
    publish_image,
    read_table,
    sdk_connection,
)

DISK_GB = 3  # sparse; inspection reports local_gb = 3 - 1


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    # node-0 has an IPMI BMC, node-1 a Redfish one ("mixed" gives ipmi, redfish, ipmi, manual).
    with lab_site(tmp_path, nodes=2, bmc="mixed", disk_gb=DISK_GB) as running:
        yield running


def driver_args(site: Site, name: str) -> list[str]:
    """``baremetal node create`` arguments for a lab server, as an operator would type them."""
    bmc = site.lab.bmc[name]
    images = site.lab.dir / "images"
    args = ["--driver-info", f"deploy_kernel={images / 'agent.kernel'}",
            "--driver-info", f"deploy_ramdisk={images / 'agent.initramfs'}",
            "--property", "capabilities=boot_mode:uefi"]  # fmt: skip
    if bmc["type"] == "ipmi":
        info = {"ipmi_address": "127.0.0.1", "ipmi_port": bmc["port"],
                "ipmi_username": USERNAME, "ipmi_password": PASSWORD}  # fmt: skip
        return ["--driver", "ipmi", *args, *_infos(info)]
    info = {"redfish_address": bmc["address"], "redfish_system_id": bmc["system_id"],
            "redfish_username": USERNAME, "redfish_password": PASSWORD}  # fmt: skip
    return ["--driver", "redfish", *args, *_infos(info)]


def _infos(info: dict[str, Any]) -> list[str]:
    return [word for k, v in info.items() for word in ("--driver-info", f"{k}={v}")]


def assert_erased(site: Site, name: str) -> None:
    """Cleaning after undeploy left no partition table and no config drive on the disk."""
    disk = site.lab.server(name).disk_path
    assert read_table(disk) == (None, [])
    with open(disk, "rb") as fh:
        head = fh.read(1024 * 1024)
        fh.seek(-1024 * 1024, 2)
        tail = fh.read()
    assert head == bytes(len(head)) and tail == bytes(len(tail)), f"{name}: metadata left"


def test_lifecycle_through_the_baremetal_cli(site: Site, tmp_path: Path) -> None:
    cli = Baremetal(site.server.url)
    image = publish_image(site.server, "cli.raw", "gpt")
    names = site.names()
    for server in site.lab.servers:
        cli.run("node", "create", "--name", server.name, *driver_args(site, server.name))
        # Only the PXE NIC is known; inspection must find the second one.
        cli.run("port", "create", server.spec.macs[0], "--node", server.name,
                "--pxe-enabled", "true")  # fmt: skip

    cli.run("node", "manage", *names, "--wait", "60")
    cli.run("node", "inspect", *names, "--wait", "90")
    for server in site.lab.servers:
        node = cli.json("node", "show", server.name)
        assert node["provision_state"] == "manageable", node["last_error"]
        props = node["properties"]
        assert (props["cpus"], props["memory_mb"], props["cpu_arch"], props["local_gb"]) == (
            server.spec.cpus, server.spec.memory_mb, "x86_64", DISK_GB - 1,
        )  # fmt: skip
        ports = cli.json("port", "list", "--node", server.name)
        assert sorted(p["address"] for p in ports) == sorted(server.spec.macs)

    cli.run("node", "provide", *names, "--wait", "120")
    drives = tmp_path / "drives"
    drives.mkdir()
    for index, name in enumerate(names):
        cli.run("node", "set", name, "--instance-info", f"image_source={image.url}",
                "--instance-info", f"image_checksum={image.sha256}")  # fmt: skip
        (drives / f"{name}.json").write_text(json.dumps(config_drive(f"{name}.lab.test", index)))
    # One deploy per node (each has its own config drive); all run at once, the last waits
    # (the client polls a deploy every 10 s, so one --wait per node would double the time).
    for name in names[:-1]:
        cli.run("node", "deploy", name, "--config-drive", str(drives / f"{name}.json"))
    last = names[-1]
    cli.run("node", "deploy", last, "--config-drive", str(drives / f"{last}.json"),
            "--wait", "120")  # fmt: skip
    site.wait(names, {"active", "deploy failed"})
    for name in names:
        node = cli.json("node", "show", name)
        assert (node["provision_state"], node["last_error"]) == ("active", None)
        booted = site.wait_booted(name, f"{name}.lab.test")
        assert booted["booted_ssh_keys"] == [SSH_KEY]
        assert booted["booted_disk"]["network_links"] == ["eth0", "eth1", "bond0", "bond0.100"]
        assert booted["booted_disk"]["user_data_bytes"] > 0
        table, parts = read_table(site.lab.server(name).disk_path)
        assert (table, [p["name"] for p in parts]) == ("gpt", ["root", "config-2"])

    cli.run("node", "undeploy", *names, "--wait", "120")
    for name in names:
        node = cli.json("node", "show", name)
        assert (node["provision_state"], node["last_error"]) == ("available", None)
        assert_erased(site, name)


# openstacksdk's own deprecation notices (its InfluxDB support, internal helpers), not ours.
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:openstack")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:openstack")
def test_lifecycle_through_openstacksdk(site: Site) -> None:
    conn = sdk_connection(site.server.url)
    try:
        image = publish_image(site.server, "sdk.raw", "msdos")
        inventory = json.loads(site.inventory.read_text())["nodes"]
        nodes = []
        for entry in inventory:
            bmc = site.lab.bmc[entry["name"]]
            prefix = "ipmi" if bmc["type"] == "ipmi" else "redfish"
            info = {"deploy_kernel": entry["kernel_id"], "deploy_ramdisk": entry["ramdisk_id"],
                    f"{prefix}_username": USERNAME, f"{prefix}_password": PASSWORD}  # fmt: skip
            if prefix == "ipmi":
                info.update(ipmi_address="127.0.0.1", ipmi_port=bmc["port"])
            else:
                info.update(redfish_address=bmc["address"], redfish_system_id=bmc["system_id"])
            node = conn.baremetal.create_node(name=entry["name"], driver=prefix, driver_info=info)
            conn.baremetal.create_port(node_id=node.id, address=entry["mac"][0])
            nodes.append(node)

        for verb, state in (("manage", "manageable"), ("inspect", "manageable"),
                            ("provide", "available")):  # fmt: skip
            for node in nodes:
                conn.baremetal.set_node_provision_state(node, verb)
            done = conn.baremetal.wait_for_nodes_provision_state(nodes, state, timeout=120)
            assert [n.provision_state for n in done] == [state] * len(nodes)
        for node in conn.baremetal.nodes(details=True):
            assert node.properties["cpus"] == 2 and node.properties["cpu_arch"] == "x86_64"
            assert len(list(conn.baremetal.ports(node_id=node.id))) == 2

        for index, node in enumerate(nodes):
            conn.baremetal.update_node(node, instance_info={
                "image_source": image.url, "image_checksum": image.sha256})  # fmt: skip
            drive = config_drive(f"{node.name}.sdk.test", index)
            conn.baremetal.set_node_provision_state(node, "active", config_drive=drive)
        done = conn.baremetal.wait_for_nodes_provision_state(nodes, "active", timeout=120)
        assert [(n.provision_state, n.last_error) for n in done] == [("active", None)] * 2
        for node in nodes:
            booted = site.wait_booted(node.name, f"{node.name}.sdk.test")
            assert booted["booted_disk"]["partition_table"] == "msdos"

        for node in nodes:
            conn.baremetal.set_node_provision_state(node, "deleted")
        done = conn.baremetal.wait_for_nodes_provision_state(nodes, "available", timeout=120)
        assert [(n.provision_state, n.last_error) for n in done] == [("available", None)] * 2
        for node in nodes:
            assert_erased(site, node.name)
    finally:
        conn.close()
