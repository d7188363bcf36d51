"""``configdrive`` in a provision request: URL, gzip+base64 ISO, or an object Ingot builds."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from ingot.configdrive.iso import build_iso, read_iso
from ingot.configdrive.request import ConfigDrive, resolve_configdrive
from ingot.configdrive.transport import decode
from ingot.configdrive.userdata import UserDataKind
from ingot.errors import InvalidInput

UUID = "8a8f4e4c-7d1b-4a5e-9a4b-0c6f9b0f0d11"


def resolve(value: object, **kwargs: Any) -> ConfigDrive | None:
    kwargs.setdefault("node_uuid", UUID)
    kwargs.setdefault("node_name", "test-server-01")
    return resolve_configdrive(value, **kwargs)


def latest(drive: ConfigDrive | None) -> dict[str, bytes]:
    assert drive is not None and drive.image is not None
    files = read_iso(drive.image)
    return {k.removeprefix("openstack/latest/"): v for k, v in files.items() if "latest" in k}


@pytest.mark.parametrize("value", [None, ""])
def test_absent(value: object) -> None:
    assert resolve(value) is None


@pytest.mark.parametrize("url", ["http://10.0.0.1/metadata/node.gz", "https://h/cd.iso"])
def test_urls_are_kept(url: str) -> None:
    drive = resolve(url)
    assert drive == ConfigDrive(source="url", url=url)
    assert drive.instance_info_value() == url
    with pytest.raises(InvalidInput, match="given by URL"):
        drive.encoded()


def test_encoded_iso_is_accepted_and_re_encodable() -> None:
    iso = build_iso({"uuid": "x"})
    value = base64.b64encode(gzip.compress(iso)).decode()
    drive = resolve(value)
    assert drive is not None and drive.source == "encoded" and drive.image == iso
    assert decode(drive.instance_info_value()) == iso


def test_object_is_built_with_ironic_defaults() -> None:
    drive = resolve({"user_data": "#cloud-config\nruncmd: [ls]\n", "vendor_data": {"a": 1}})
    assert drive is not None and drive.source == "built"
    assert drive.user_data_kind is UserDataKind.CLOUD_CONFIG
    files = latest(drive)
    assert json.loads(files["meta_data.json"]) == {"uuid": UUID, "name": "test-server-01"}
    assert files["user_data"] == b"#cloud-config\nruncmd: [ls]\n"
    assert json.loads(files["vendor_data2.json"]) == {"a": 1}
    assert "network_data.json" not in files


def test_object_user_data_is_json_encoded_and_ignition_detected() -> None:
    ign = {"ignition": {"version": "3.4.0"}, "passwd": {}}
    drive = resolve({"meta_data": {"uuid": "given", "hostname": "h"}, "user_data": ign})
    assert drive is not None and drive.user_data_kind is UserDataKind.IGNITION
    files = latest(drive)
    assert json.loads(files["user_data"]) == ign
    assert json.loads(files["meta_data.json"]) == {
        "uuid": "given",
        "name": "test-server-01",
        "hostname": "h",
    }


def test_raw_network_data_passes_through_and_friendly_list_is_converted(
    seed002_network: list[dict[str, Any]],
    seed002_ports: dict[str, str],
    seed002_expected: dict[str, Any],
) -> None:
    raw = resolve({"network_data": seed002_expected})
    assert json.loads(latest(raw)["network_data.json"]) == seed002_expected
    friendly = resolve({"network_data": seed002_network}, port_macs=seed002_ports)
    assert json.loads(latest(friendly)["network_data.json"]) == seed002_expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://h/x", "http:// or https:// only"),
        ("{not json", "neither a JSON object, nor a URL, nor a base64 string"),
        ("QUJDRA==", "not an ISO9660 image"),
        ("!!!", "neither a JSON object"),
        (42, "got int"),
        ({"metadata": {}}, "unknown key 'metadata'"),
        ({"meta_data": []}, "configdrive.meta_data must be a JSON object"),
        ({"vendor_data": "x"}, "configdrive.vendor_data must be a JSON object"),
        ({"user_data": 5}, "configdrive.user_data must be a string"),
        ({"user_data": "#cloud-config\n: : :\n  - x"}, "not valid YAML"),
        ({"user_data": '{"ignition": {"version": "3.0.0"},}'}, "trailing comma"),
        ({"network_data": {"links": [{"id": "e"}]}}, "network_data.links[0].type is missing"),
        ({"network_data": [{"device": "eth9"}]}, "matches no port"),
        ({"user_data": "x" * (64 * 1024 * 1024 + 1)}, "64 MiB"),
    ],
)
def test_bad_configdrive_values(value: object, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        resolve(value, port_macs={"eth0": "52:54:00:00:00:01"})
    assert message in str(err.value)


def test_iso_with_the_wrong_label_is_refused() -> None:
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, vol_ident="cidata")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    with pytest.raises(InvalidInput, match="labelled 'cidata'"):
        resolve(base64.b64encode(gzip.compress(out.getvalue())).decode())
