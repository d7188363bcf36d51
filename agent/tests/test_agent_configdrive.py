"""Config drive partition: written at the disk's end and found again in the partition table."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import MiB, make_disk_image, run_command
from ingot_agent.agent import Agent
from ingot_agent.configdrive import decode_configdrive
from ingot_agent.errors import ConfigDriveError
from ingot_agent.partition_table import MBR_ENTRY, read_partition_table

pycdlib = pytest.importorskip("pycdlib")


def build_iso() -> bytes:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident="config-2")
    meta = json.dumps({"uuid": "n1", "hostname": "node-0"}).encode()
    for path in ("/OPENSTAC", "/OPENSTAC/LATEST"):
        name = "openstack" if path == "/OPENSTAC" else "latest"
        iso.add_directory(
            path, rr_name=name, joliet_path=path.lower().replace("openstac", "openstack")
        )
    iso.add_fp(
        io.BytesIO(meta),
        len(meta),
        "/OPENSTAC/LATEST/META_DAT.JSO;1",
        rr_name="meta_data.json",
        joliet_path="/openstack/latest/meta_data.json",
    )
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def gz_b64(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data)).decode()


def deploy(agent: Agent, url: str, data: bytes, configdrive: str) -> dict[str, object]:
    info = {
        "id": "img",
        "urls": [url],
        "os_hash_algo": "sha256",
        "os_hash_value": hashlib.sha256(data).hexdigest(),
        "disk_format": "raw",
    }
    return run_command(
        agent, "standby.prepare_image", {"image_info": info, "configdrive": configdrive}
    )


def read_iso_meta(disk: Path, offset: int) -> dict[str, object]:
    with open(disk, "rb") as fh:
        fh.seek(offset)
        iso = pycdlib.PyCdlib()
        iso.open_fp(io.BytesIO(fh.read(4 * MiB)))
    assert iso.pvd.volume_identifier.rstrip(b" ") == b"config-2"
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, rr_path="/openstack/latest/meta_data.json")
    iso.close()
    return dict(json.loads(out.getvalue()))


def test_gpt_image_gets_config2_partition_at_end(
    agent: Agent, image_server: tuple[str, Path]
) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    result = deploy(agent, url + "/disk.raw", data, gz_b64(build_iso()))
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    disk = Path(agent.ctx.hardware.list_block_devices()[0].path)
    with open(disk, "rb") as fh:
        table = read_partition_table(fh)
    assert table is not None and table.label == "gpt"
    assert [p.name for p in table.partitions] == ["root", "config-2"]
    part = table.find("config-2")
    assert part is not None
    assert part.size(512) == 64 * MiB
    assert part.offset(512) + part.size(512) <= 256 * MiB - 33 * 512  # before the backup GPT
    assert read_iso_meta(disk, part.offset(512))["hostname"] == "node-0"
    uuids = run_command(agent, "standby.get_partition_uuids", {})["command_result"]
    assert uuids["configdrive"] == part.uuid
    if shutil.which("sfdisk"):  # an independent reader agrees
        dump = json.loads(
            subprocess.run(
                ["sfdisk", "--json", str(disk)], capture_output=True, text=True, check=True
            ).stdout
        )["partitiontable"]
        assert dump["label"] == "gpt"
        assert dump["lastlba"] == 256 * MiB // 512 - 34
        assert [p.get("name") for p in dump["partitions"]] == ["root", "config-2"]
        assert dump["partitions"][1]["start"] == part.start


def mbr_image(path: Path, slots: int) -> bytes:
    raw = bytearray(8 * MiB)
    struct.pack_into("<I", raw, 440, 0xCAFEBABE)
    for i in range(slots):
        MBR_ENTRY.pack_into(raw, 446 + 16 * i, 0, b"\0\0\0", 0x83, b"\0\0\0", 2048 + i * 2048, 2048)
    raw[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(raw))
    return bytes(raw)


def test_mbr_image_gets_primary_partition(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, www = image_server
    data = mbr_image(www / "mbr.raw", 1)
    result = deploy(agent, url + "/mbr.raw", data, gz_b64(build_iso()))
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    disk = Path(agent.ctx.hardware.list_block_devices()[0].path)
    with open(disk, "rb") as fh:
        table = read_partition_table(fh)
    assert table is not None and table.label == "msdos" and table.disk_id == "0xcafebabe"
    assert [p.number for p in table.partitions] == [1, 2]
    assert read_iso_meta(disk, table.partitions[1].offset(512))["uuid"] == "n1"


def test_mbr_with_four_primaries_refused(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, www = image_server
    data = mbr_image(www / "mbr4.raw", 4)
    result = deploy(agent, url + "/mbr4.raw", data, gz_b64(build_iso()))
    assert result["command_status"] == "FAILED"
    assert result["command_error"]["type"] == "ConfigDriveError"
    assert "4 primary partitions" in result["command_error"]["details"]


def test_configdrive_by_url(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    (www / "cd.gz.b64").write_text(gz_b64(build_iso()))
    result = deploy(agent, url + "/disk.raw", data, url + "/cd.gz.b64")
    assert result["command_status"] == "SUCCEEDED", result["command_error"]


@pytest.mark.parametrize("bad", ["%%%not base64", base64.b64encode(b"\x1f\x8bnot gzip").decode()])
def test_bad_configdrive_strings(bad: str) -> None:
    with pytest.raises(ConfigDriveError):
        decode_configdrive(bad)
