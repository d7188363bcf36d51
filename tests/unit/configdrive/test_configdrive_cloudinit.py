"""cloud-init itself reads our drive: its ConfigDrive reader and its network_data.json converter.

Needs Debian's ``cloud-init`` package (``apt-get install --no-install-recommends cloud-init``);
it runs under the system Python that package belongs to, in a subprocess, on the files read
back from the ISO (the host kernel cannot mount ISO9660).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingot.configdrive.iso import read_iso
from ingot.configdrive.request import resolve_configdrive

CLOUD_INIT = shutil.which("cloud-init")
pytestmark = pytest.mark.skipif(
    CLOUD_INIT is None, reason="cloud-init not installed: apt-get install cloud-init"
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv0 ops@lab"

READER = """
import json, sys
from cloudinit.sources import DataSourceConfigDrive as ds
from cloudinit.sources.helpers import openstack
results = ds.read_config_drive(sys.argv[1])
version = openstack.ConfigDriveReader(sys.argv[1])._find_working_version()
net = openstack.convert_net_json(results["networkdata"], known_macs=json.loads(sys.argv[2]))
print(json.dumps({"version": version, "metadata": results["metadata"],
                  "userdata": results["userdata"].decode(), "net": net}, default=str))
"""


def cloud_init_python() -> str:
    assert CLOUD_INIT is not None
    shebang = Path(CLOUD_INIT).read_text().splitlines()[0]
    return shebang.removeprefix("#!").split()[0]


@pytest.fixture
def drive_dir(
    tmp_path: Path, seed002_network: list[dict[str, Any]], seed002_ports: dict[str, str]
) -> Path:
    drive = resolve_configdrive(
        {
            "meta_data": {"hostname": "test-server-01.example.com", "public_keys": {"0": KEY}},
            "user_data": "#cloud-config\nusers: [{name: admin}]\n",
            "network_data": seed002_network,
        },
        node_uuid="0d7bd0d7-5a1f-4a37-b6b5-7f4cb0b3d9a1",
        node_name="test-server-01",
        port_macs=seed002_ports,
    )
    assert drive is not None and drive.image is not None
    root = tmp_path / "config-2"
    for path, data in read_iso(drive.image).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


def test_datasource_reader_accepts_the_drive(
    drive_dir: Path, seed002_ports: dict[str, str]
) -> None:
    macs = {mac: name for name, mac in seed002_ports.items()}
    out = subprocess.run(
        [cloud_init_python(), "-c", READER, str(drive_dir), json.dumps(macs)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    got = json.loads(out.stdout)
    assert got["version"] == "2018-08-27"  # the newest dated directory cloud-init knows
    meta = got["metadata"]
    assert meta["instance-id"] == "0d7bd0d7-5a1f-4a37-b6b5-7f4cb0b3d9a1"
    assert meta["local-hostname"] == "test-server-01.example.com"
    assert meta["public_keys"] == {"0": KEY}
    assert got["userdata"].startswith("#cloud-config")
    by_name = {c.get("name"): c for c in got["net"]["config"]}
    assert by_name["bond0"]["bond_interfaces"] == ["eth0", "eth2"]
    assert by_name["bond0"]["params"]["bond_mode"] == "active-backup"
    assert by_name["bond0"]["subnets"][0]["dns_nameservers"] == ["8.8.8.8"]
    assert by_name["eth1.500"]["vlan_link"] == "eth1"
    assert by_name["eth1.500"]["subnets"][0]["address"] == "192.168.100.100"


@pytest.mark.parametrize(("distro", "kind"), [("ubuntu", "netplan"), ("centos", "sysconfig")])
def test_net_convert_renders_bond_vlan_and_static_ips(
    drive_dir: Path, seed002_ports: dict[str, str], tmp_path: Path, distro: str, kind: str
) -> None:
    assert CLOUD_INIT is not None
    out_dir = tmp_path / kind
    macs = [arg for name, mac in seed002_ports.items() for arg in ("-m", f"{name},{mac}")]
    subprocess.run(
        [CLOUD_INIT, "devel", "net-convert", "-p",
         str(drive_dir / "openstack/latest/network_data.json"), "-k", "network_data.json",
         "-d", str(out_dir), "-D", distro, "-O", kind, *macs],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    if kind == "netplan":
        (conf,) = (out_dir / "etc/netplan").iterdir()
        net = yaml.safe_load(conf.read_text())["network"]
        bond = net["bonds"]["bond0"]
        assert bond["interfaces"] == ["eth0", "eth2"]
        assert bond["parameters"]["mode"] == "active-backup"
        assert bond["addresses"] == ["10.100.100.10/24"]
        assert bond["routes"] == [{"to": "0.0.0.0/0", "via": "10.100.100.1"}]
        assert "8.8.8.8" in bond["nameservers"]["addresses"]
        vlan = net["vlans"]["eth1.500"]
        assert (vlan["id"], vlan["link"], vlan["addresses"]) == (
            500,
            "eth1",
            ["192.168.100.100/24"],
        )
    else:
        scripts = out_dir / "etc/sysconfig/network-scripts"
        bond = (scripts / "ifcfg-bond0").read_text()
        assert "BONDING_OPTS=mode=active-backup" in bond and "IPADDR=10.100.100.10" in bond
        assert "GATEWAY=10.100.100.1" in bond and "DOMAIN=example.com" in bond
        assert "MASTER=bond0" in (scripts / "ifcfg-eth2").read_text()
        vlan = (scripts / "ifcfg-eth1.500").read_text()
        assert "VLAN=yes" in vlan and "PHYSDEV=eth1" in vlan
