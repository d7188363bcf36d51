"""Plan validation: every problem named by role and field, all reported at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from ingot.plans.drive import node_drive, standin_macs
from ingot.plans.model import PlanInvalid, load_plan, parse_plan

SHA = "sha256:" + "ab" * 32
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG ops@example"


def good() -> dict[str, Any]:
    return {
        "name": "oc",
        "defaults": {
            "resource_class": "baremetal",
            "image": {"source": "http://img/disk.qcow2", "checksum": SHA},
            "config_drive": {"ssh_keys": [KEY]},
        },
        "roles": {
            "controller": {
                "count": 3,
                "capabilities": {"profile": "control"},
                "hostname_format": "overcloud-controller-%index%",
            },
            "compute": {
                "count": 2,
                "traits": ["CUSTOM_GPU"],
                "config_drive": {"network": [{"device": "eth0", "address": "dhcp"}]},
            },
        },
    }


def with_change(path: str, value: Any) -> dict[str, Any]:
    """``good()`` with ``a.b.c`` set to value (or removed when value is ...)."""
    data = good()
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return data


def test_a_good_plan_merges_defaults_into_roles() -> None:
    plan = parse_plan(good(), default_name="file")
    ctl, cmp = plan.roles["controller"], plan.roles["compute"]
    assert plan.name == "oc" and ctl.count == 3 and cmp.traits == ("CUSTOM_GPU",)
    assert ctl.resource_class == cmp.resource_class == "baremetal"
    assert cmp.config_drive.ssh_keys == (KEY,)  # config_drive merged key by key
    assert cmp.config_drive.network == [{"device": "eth0", "address": "dhcp"}]
    assert ctl.hostname("oc", 2) == "overcloud-controller-2"
    assert cmp.hostname("oc", 1) == "oc-compute-1"
    assert plan.allocation_name("compute", 1) == "oc-compute-1"
    assert ctl.image.instance_info() == {"image_source": "http://img/disk.qcow2",
                                         "image_checksum": SHA}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("roles.compute.count", -1, "role 'compute': count: must be a whole number"),
        ("roles.compute.count", "2", "role 'compute': count: must be a whole number"),
        ("roles.compute.count", ..., "role 'compute': count: must be a whole number"),
        ("defaults.resource_class", ..., "role 'compute': resource_class: missing"),
        ("roles.compute.traits", ["gpu"], "role 'compute': traits: gpu: a trait is upper case"),
        ("roles.compute.capabilities", ["profile"], "role 'compute': capabilities: must be a"),
        ("defaults.image", ..., "role 'compute': image.source: missing"),
        ("defaults.image.checksum", ..., "image.checksum: missing; an HTTP image needs"),
        ("defaults.image.checksum", "abc", "role 'compute': image.checksum: image checksum"),
        ("defaults.image.kernel", "http://k", "image: a partition image needs both"),
        ("defaults.image.format", "raw", "image.format: unknown key"),
        ("roles.compute.hostname_format", "cmp", "hostname_format: 'cmp' has no {index}"),
        ("roles.compute.hostname_format", "c_{index}", "not a valid host name"),
        ("roles.compute.hostname_format", "c-{idx}", "use only {index}, {role}, {plan}"),
        ("roles.compute.flavor", "x", "role 'compute': flavor: unknown key"),
        ("roles.compute.config_drive", {"ssh_keys": ["nope"]}, "config_drive.ssh_keys: public"),
        (
            "roles.compute.config_drive",
            {"user_data": "#cloud-config\nusers: [\n"},
            "role 'compute': config_drive: ",
        ),
        (
            "roles.compute.config_drive",
            {"network": [{"device": "eth0", "address": "10.0.0.300/24"}]},
            "role 'compute': config_drive: network[0].address",
        ),
        ("roles.compute.config_drive", {"user_data": "x", "user_data_file": "f"}, "not both"),
        ("roles.compute.root_device", "sda", "root_device: must be a mapping"),
        ("roles.bad_name", {"count": 1}, "role 'bad_name': the role name must be"),
        ("name", "my plan", "name: 'my plan' is not usable"),
        ("roles", {}, "roles: missing"),
        ("extras", 1, "extras: unknown key"),
        (
            "roles.compute.hostname_format",
            "overcloud-controller-{index}",
            "compute[0] and controller[0] would both be 'overcloud-controller-0'",
        ),
    ],
)
def test_validation_names_role_and_field(path: str, value: Any, expected: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(with_change(path, value), default_name="file")
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once() -> None:
    data = good()
    data["roles"]["compute"]["count"] = -1
    data["roles"]["controller"]["traits"] = ["lower"]
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data, default_name="file")
    assert len(caught.value.problems) == 2
    assert "role 'controller': traits" in caught.value.message


def test_user_data_file_and_cloud_config_mapping() -> None:
    files = {"init.sh": "#!/bin/sh\necho hi\n"}
    data = with_change("roles.compute.config_drive", {"user_data_file": "init.sh"})
    data["roles"]["controller"]["config_drive"] = {"user_data": {"packages": ["chrony"]}}
    plan = parse_plan(data, default_name="f", read_file=files.__getitem__)
    assert plan.roles["compute"].config_drive.user_data == "#!/bin/sh\necho hi\n"
    ctl_user_data = plan.roles["controller"].config_drive.user_data or ""
    assert ctl_user_data.startswith("#cloud-config\npackages:\n- chrony")


def test_unreadable_user_data_file() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    data = with_change("roles.compute.config_drive", {"user_data_file": "gone.yaml"})
    with pytest.raises(PlanInvalid, match=r"cannot read gone\.yaml: No such file"):
        parse_plan(data, default_name="f", read_file=missing)


def test_yaml_errors_and_default_name() -> None:
    with pytest.raises(PlanInvalid, match="not valid YAML"):
        load_plan("roles: [", default_name="x")
    data = copy.deepcopy(good())
    del data["name"]
    assert load_plan(yaml.safe_dump(data), default_name="from-file").name == "from-file"


def test_node_drive_sets_hostname_keys_and_leaves_network_out_when_unset() -> None:
    plan = parse_plan(good(), default_name="f")
    ctl = plan.roles["controller"]
    drive = node_drive(ctl.config_drive, node_uuid="u-1", node_name="n1", hostname="h-1")
    assert drive["meta_data"]["hostname"] == "h-1"
    assert drive["meta_data"]["public_keys"] == {"0": KEY}
    assert "network_data" not in drive and "user_data" not in drive
    cmp = plan.roles["compute"]
    drive = node_drive(cmp.config_drive, node_uuid="u-2", node_name=None, hostname="h-2")
    assert drive["network_data"] == [{"device": "eth0", "address": "dhcp"}]


def test_ignition_user_data_gets_keys_and_hostname() -> None:
    data = with_change(
        "roles.compute.config_drive", {"user_data": '{"ignition": {"version": "3.4.0"}}'}
    )
    spec = parse_plan(data, default_name="f").roles["compute"].config_drive
    drive = node_drive(spec, node_uuid="u", node_name=None, hostname="cmp-0")
    assert KEY in drive["user_data"] and "/etc/hostname" in drive["user_data"]


def test_standin_macs_cover_devices_and_backends() -> None:
    macs = standin_macs([{"device": "bond0", "backend": ["eth0", "eth1"]}, {"device": "eth2"}])
    assert sorted(macs) == ["bond0", "eth0", "eth1", "eth2"]
    assert len(set(macs.values())) == 4
