"""The pxe/ipxe boot interfaces on a real in-process conductor: dnsmasq host entries written on
prepare and clean-up, and the instance image staged into the cache before the agent boots."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingot.app_runtime import all_in_one
from ingot.conductor.task import Task, load_task
from ingot.drivers.agent.deploy import image_info
from ingot.errors import DriverError, InvalidInput
from ingot.images import staging
from ingot.settings import IngotSettings, load_settings

MAC = "52:54:00:00:00:20"
MAC2 = "52:54:00:00:00:21"
LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}


def make_settings(tmp_path: Path, provider: str = "dnsmasq", **agent: Any) -> IngotSettings:
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
        deploy={"http_url": "http://10.99.0.1:8080"},
        dhcp={"dhcp_provider": provider},
        agent=agent,
    )


@pytest.fixture
def env(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Any, TestClient, Path]]:
    params = getattr(request, "param", {})
    settings = make_settings(tmp_path, **params)
    (tmp_path / "k").write_bytes(b"kernel")
    (tmp_path / "r").write_bytes(b"ramdisk")
    with all_in_one(settings) as (_services, conductor, app), TestClient(app, headers=LATEST) as c:
        yield conductor, c, tmp_path


def enroll(c: TestClient, tmp: Path, boot: str = "ipxe", **port_extra: str) -> str:
    r = c.post("/v1/nodes", json={
        "driver": "fake-hardware", "boot_interface": boot, "deploy_interface": "direct",
        "driver_info": {"deploy_kernel": str(tmp / "k"), "deploy_ramdisk": str(tmp / "r")},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    uuid: str = r.json()["uuid"]
    for mac, pxe in ((MAC, True), (MAC2, False)):
        body = {"node_uuid": uuid, "address": mac, "pxe_enabled": pxe, "extra": port_extra}
        assert c.post("/v1/ports", json=body).status_code == 201
    return uuid


def port_uuid(c: TestClient, mac: str) -> str:
    uuid: str = c.get("/v1/ports", params={"address": mac}).json()["ports"][0]["uuid"]
    return uuid


def hosts_entry(tmp: Path, mac: str) -> str | None:
    path = tmp / "state" / "dnsmasq" / "hostsdir" / mac.replace(":", "-")
    return path.read_text().strip() if path.exists() else None


def task_of(conductor: Any, uuid: str) -> Task:
    return load_task(conductor, uuid, lock=False)


@pytest.mark.parametrize(
    ("boot", "suffix"), [("ipxe", ""), ("pxe", ",set:pxe")], ids=["ipxe", "pxe"]
)
def test_ramdisk_allows_then_local_boot_ignores(
    env: tuple[Any, TestClient, Path], boot: str, suffix: str
) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp, boot)
    task = task_of(conductor, uuid)
    asyncio.run(task.boot.prepare_ramdisk(task, {"purpose": "clean"}))
    assert hosts_entry(tmp, MAC) == f"{MAC},set:{port_uuid(c, MAC)}{suffix}"
    assert hosts_entry(tmp, MAC2) is None  # not pxe_enabled: never offered a boot file

    asyncio.run(task.boot.prepare_instance(task))
    assert hosts_entry(tmp, MAC) == f"{MAC},ignore"


def test_fixed_ip_from_port_extra(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp, fixed_ip="10.99.0.20")
    task = task_of(conductor, uuid)
    asyncio.run(task.boot.prepare_ramdisk(task, {"purpose": "inspect"}))
    assert hosts_entry(tmp, MAC) == f"{MAC},set:{port_uuid(c, MAC)},10.99.0.20"


@pytest.mark.parametrize("step", ["clean_up_ramdisk", "clean_up_instance"])
def test_clean_up_ignores_every_port(env: tuple[Any, TestClient, Path], step: str) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    task = task_of(conductor, uuid)
    asyncio.run(task.boot.prepare_ramdisk(task, {"purpose": "clean"}))
    asyncio.run(getattr(task.boot, step)(task))
    assert hosts_entry(tmp, MAC) == f"{MAC},ignore"
    assert hosts_entry(tmp, MAC2) == f"{MAC2},ignore"
    assert not (tmp / "state" / "boot" / "ipxe" / f"{MAC.replace(':', '-')}.ipxe").exists()


@pytest.mark.parametrize("env", [{"provider": "none"}], indirect=True)
def test_provider_none_writes_nothing(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    task = task_of(conductor, enroll(c, tmp))
    asyncio.run(task.boot.prepare_ramdisk(task, {"purpose": "clean"}))
    asyncio.run(task.boot.clean_up_ramdisk(task))
    assert not (tmp / "state" / "dnsmasq").exists()
    # the iPXE chain script DHCP (ours or the site's) hands to iPXE exists
    assert (tmp / "state" / "boot" / "boot.ipxe").is_file()


# --- the instance image ------------------------------------------------------------------


def qcow2_bytes() -> bytes:
    header = b"QFI\xfb" + struct.pack(">IQ", 3, 0) + bytes(100)
    return header + bytes(4096)


def set_image(c: TestClient, uuid: str, info: dict[str, Any]) -> None:
    r = c.patch(f"/v1/nodes/{uuid}", json=[{"op": "add", "path": "/instance_info", "value": info}])
    assert r.status_code == 200, r.text


def deploy_prepare(conductor: Any, uuid: str) -> Task:
    task = task_of(conductor, uuid)
    asyncio.run(task.boot.prepare_ramdisk(task, {"purpose": "deploy"}))
    return task


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_local_image_is_staged_and_served(env: tuple[Any, TestClient, Path], as_url: bool) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    data = qcow2_bytes()
    image = tmp / "disk.img"  # the name says nothing; the content says qcow2
    image.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    source = image.as_uri() if as_url else str(image)
    set_image(c, uuid, {"image_source": source, "image_checksum": f"sha256:{digest}"})

    task = deploy_prepare(conductor, uuid)
    info = image_info(task)
    cached = tmp / "state" / "image_cache" / f"sha256-{digest}"
    assert cached.read_bytes() == data
    assert info["urls"] == [f"http://10.99.0.1:8080/images/sha256-{digest}"]
    assert (info["os_hash_algo"], info["os_hash_value"]) == ("sha256", digest)
    assert info["disk_format"] == "qcow2"
    assert task.node.driver_internal_info[staging.INTERNAL_KEY]["source"] == source


def test_md5_sidecar_next_to_image(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    image = tmp / "seed.raw"
    image.write_bytes(b"\0" * 8192)
    (tmp / "seed.md5").write_text(hashlib.md5(image.read_bytes()).hexdigest() + "\n")
    set_image(c, uuid, {"image_source": str(image)})
    info = image_info(deploy_prepare(conductor, uuid))
    assert info["os_hash_value"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert info["disk_format"] == "raw"


@pytest.mark.parametrize(
    ("content", "extra", "error", "match"),
    [
        (b"\0" * 512, {"image_checksum": "0" * 64}, InvalidInput, "failed its sha256 checksum"),
        (gzip.compress(b"x" * 100), {}, InvalidInput, "gzip-compressed"),
        (b"\0" * 512, {"image_disk_format": "qcow2"}, InvalidInput, "image_disk_format"),
    ],
    ids=["checksum-mismatch", "unknown-format", "format-disagrees"],
)
def test_bad_images_fail_before_boot(
    env: tuple[Any, TestClient, Path],
    content: bytes,
    extra: dict[str, str],
    error: type[Exception],
    match: str,
) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    image = tmp / "bad.img"
    image.write_bytes(content)
    set_image(c, uuid, {"image_source": str(image), **extra})
    with pytest.raises(error, match=match) as caught:
        deploy_prepare(conductor, uuid)
    assert uuid in str(caught.value)
    assert "instance_info.image" in str(caught.value)
    assert hosts_entry(tmp, MAC) is None  # the node was not offered a boot


@pytest.mark.parametrize("env", [{"image_download_source": "local"}], indirect=True)
def test_unreachable_http_image_when_conductor_serves(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    set_image(c, uuid, {"image_source": "http://127.0.0.1:9/x.raw", "image_checksum": "0" * 64})
    with pytest.raises(DriverError, match="unreachable"):
        deploy_prepare(conductor, uuid)


def test_http_image_goes_to_the_agent_directly(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    url = "http://images.example/x.raw"
    set_image(c, uuid, {"image_source": url, "image_checksum": "a" * 128})
    info = image_info(deploy_prepare(conductor, uuid))
    assert info["urls"] == [url]
    assert (info["os_hash_algo"], info["os_hash_value"]) == ("sha512", "a" * 128)


@pytest.mark.parametrize(
    ("info", "match"),
    [
        ({}, "instance_info.image_source"),
        ({"image_source": "glance://x"}, "instance_info.image_source"),
        ({"image_source": "rel/path.img"}, "relative path"),
        ({"image_source": "/x.img", "image_type": "lvm"}, "instance_info.image_type"),
        ({"image_source": "/x.img", "image_checksum": "abc"}, "checksum fields"),
        ({"image_source": "/x.img", "image_download_source": "swift"}, "image_download_source"),
    ],
)
def test_image_info_names_the_field(
    env: tuple[Any, TestClient, Path], info: dict[str, str], match: str
) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    set_image(c, uuid, info)
    with pytest.raises(InvalidInput, match=match):
        image_info(task_of(conductor, uuid))


def test_partition_image_needs_kernel_and_ramdisk(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    set_image(c, uuid, {"image_source": "/x.img", "image_type": "partition", "kernel": "/k"})
    task = task_of(conductor, uuid)
    with pytest.raises(InvalidInput, match="instance_info ramdisk"):
        task.boot.validate(task)


def test_partition_image_netboots_its_kernel(env: tuple[Any, TestClient, Path]) -> None:
    conductor, c, tmp = env
    uuid = enroll(c, tmp)
    set_image(c, uuid, {
        "image_source": "/x.img", "image_type": "partition",
        "kernel": str(tmp / "k"), "ramdisk": str(tmp / "r"),
    })  # fmt: skip
    task = task_of(conductor, uuid)
    # What the agent reported after writing the image (a takeover keeps it too).
    task.set_internal("root_uuid_or_disk_id", "7c4a1e2f-0000-4000-8000-000000000001")
    asyncio.run(task.boot.prepare_instance(task))
    script = (tmp / "state" / "boot" / "ipxe" / f"{MAC.replace(':', '-')}.ipxe").read_text()
    assert "root=PARTUUID=7c4a1e2f-0000-4000-8000-000000000001 ro" in script
    assert f"http://10.99.0.1:8080/{uuid}/kernel" in script
    assert hosts_entry(tmp, MAC) == f"{MAC},set:{port_uuid(c, MAC)}"  # it still netboots
