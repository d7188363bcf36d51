"""prepare_image end to end: a local HTTP image server, a file-backed disk, the real agent."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import MiB, make_disk_image, run_command
from ingot_agent import image_writer
from ingot_agent.agent import Agent


def image_info(url: str, data: bytes, **extra: object) -> dict[str, object]:
    return {
        "id": "img-1",
        "urls": [url],
        "os_hash_algo": "sha256",
        "os_hash_value": hashlib.sha256(data).hexdigest(),
        "disk_format": "raw",
        "image_type": "whole-disk",
        **extra,
    }


def disk(agent: Agent) -> Path:
    return Path(agent.ctx.hardware.list_block_devices()[0].path)


def head(path: Path | str, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def prepare(agent: Agent, info: dict[str, object], **params: object) -> dict[str, object]:
    return run_command(agent, "standby.prepare_image", {"image_info": info, **params})


def test_raw_image_written_byte_identical_and_sparse(
    agent: Agent, image_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw", size=32 * MiB, data_mib=3)
    result = prepare(agent, image_info(url + "/disk.raw", data))
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    out = result["command_result"]
    assert out["root_device"]["name"] == "/dev/vda"
    stats = out["stats"]
    assert stats["size"] == len(data)
    assert stats["skipped_zero_bytes"] >= 25 * MiB  # zero chunks became holes
    with open(disk(agent), "rb") as fh:
        assert fh.read(len(data)) == data
        assert fh.read(MiB) == bytes(MiB)  # the discard left zeros after the image
    assert os.stat(disk(agent)).st_blocks * 512 < 8 * MiB  # sparse on the 256 MiB file
    uuids = run_command(agent, "standby.get_partition_uuids", {})["command_result"]
    assert uuids["root uuid"] == out["partition_table"]["disk_id"]


@pytest.mark.parametrize("algo", ["md5", "sha512"])
def test_other_checksum_algorithms(agent: Agent, image_server: tuple[str, Path], algo: str) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    info = image_info(url + "/disk.raw", data)
    info.pop("os_hash_algo")
    info.pop("os_hash_value")
    info["checksum"] = hashlib.new(algo, data).hexdigest()  # algorithm told by length
    assert prepare(agent, info)["command_status"] == "SUCCEEDED"


def test_checksum_mismatch_fails_and_wipes_start(
    agent: Agent, image_server: tuple[str, Path]
) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    info = image_info(url + "/disk.raw", data, os_hash_value="0" * 64)
    result = prepare(agent, info)
    assert result["command_status"] == "FAILED"
    error = result["command_error"]
    assert error["type"] == "ImageChecksumError"
    assert "expected " + "0" * 64 in error["details"]
    assert head(disk(agent), MiB).count(0) == MiB  # cannot boot the bad image


def test_image_404_fails_with_url(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, _ = image_server
    result = prepare(agent, image_info(url + "/missing.raw", b""))
    assert result["command_status"] == "FAILED"
    assert result["command_error"]["type"] == "ImageDownloadError"
    assert "404" in result["command_error"]["details"]
    assert "missing.raw" in result["command_error"]["details"]


def test_second_url_used_when_first_fails(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    info = image_info(url + "/gone.raw", data)
    info["urls"] = [url + "/gone.raw", url + "/disk.raw"]
    assert prepare(agent, info)["command_status"] == "SUCCEEDED"


def test_disk_too_small(tmp_path: Path, image_server: tuple[str, Path]) -> None:
    from conftest import make_agent, write_machine

    root = write_machine(tmp_path / "small", disks=[{"name": "/dev/vda", "size": 4 * MiB}])
    agent = make_agent(root)
    try:
        url, www = image_server
        data = make_disk_image(www / "disk.raw", size=8 * MiB)
        result = prepare(agent, image_info(url + "/disk.raw", data))
        assert result["command_status"] == "FAILED"
        assert result["command_error"]["type"] == "ImageWriteError"
        assert "bigger disk" in result["command_error"]["details"]
    finally:
        agent.stop()


def test_raw_declared_but_qcow2_refused(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, www = image_server
    data = b"QFI\xfb" + bytes(1020)
    (www / "fake.qcow2").write_bytes(data)
    result = prepare(agent, image_info(url + "/fake.qcow2", data))
    assert result["command_status"] == "FAILED"
    assert "disk_format" in result["command_error"]["details"]


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img not installed")
def test_qcow2_image_converted_identical(agent: Agent, image_server: tuple[str, Path]) -> None:
    url, www = image_server
    make_disk_image(www / "disk.raw", size=16 * MiB)
    subprocess.run(
        [
            "qemu-img",
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            str(www / "disk.raw"),
            str(www / "disk.qcow2"),
        ],
        check=True,
    )
    qcow = (www / "disk.qcow2").read_bytes()
    info = image_info(url + "/disk.qcow2", qcow, disk_format="qcow2")
    result = prepare(agent, info)
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    assert result["command_result"]["stats"]["disk_format"] == "qcow2"
    assert disk(agent).stat().st_size == 256 * MiB  # not shrunk to the image size
    cmp = subprocess.run(
        ["qemu-img", "compare", "-f", "raw", "-F", "raw", str(www / "disk.raw"), str(disk(agent))],
        capture_output=True,
        text=True,
    )
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    assert not list((agent.ctx.work_dir / "cache").iterdir())  # cache file removed


def test_cache_image_then_prepare_skips_rewrite(
    agent: Agent, image_server: tuple[str, Path]
) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    info = image_info(url + "/disk.raw", data)
    assert (
        run_command(agent, "standby.cache_image", {"image_info": info})["command_status"]
        == "SUCCEEDED"
    )
    (www / "disk.raw").unlink()  # a second download would now fail
    result = prepare(agent, info)
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    assert head(disk(agent), len(data)) == data


def test_root_device_hints_pick_the_disk(tmp_path: Path, image_server: tuple[str, Path]) -> None:
    from conftest import make_agent, write_machine

    disks = [
        {"name": "/dev/vda", "size": 64 * MiB, "serial": "AAA"},
        {"name": "/dev/vdb", "size": 128 * MiB, "serial": "BBB"},
    ]
    agent = make_agent(write_machine(tmp_path / "two", disks=disks))
    try:
        url, www = image_server
        data = make_disk_image(www / "disk.raw")
        agent.ctx.update_node({"uuid": "n1", "properties": {"root_device": {"serial": "BBB"}}})
        result = prepare(agent, image_info(url + "/disk.raw", data))
        assert result["command_result"]["root_device"]["name"] == "/dev/vdb"
        vdb = agent.ctx.hardware.list_block_devices()[1].path
        assert head(vdb, len(data)) == data
    finally:
        agent.stop()


def test_download_cut_short_is_a_download_error(agent: Agent) -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve_half() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n" + bytes(MiB))
        conn.close()  # the server (or the agent's link) dies mid-body

    thread = threading.Thread(target=serve_half, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    result = prepare(agent, image_info(f"http://127.0.0.1:{port}/img", b"x"))
    thread.join(5)
    listener.close()
    assert result["command_status"] == "FAILED"
    assert result["command_error"]["type"] == "ImageDownloadError"
    assert "ended after 1048576 of 8388608 bytes" in result["command_error"]["details"]


class _ThreadRecordingHasher:
    """sha256 that notes which threads fed it (the pipeline hashes off the download thread)."""

    def __init__(self) -> None:
        self.inner = hashlib.sha256()
        self.name = "sha256"
        self.threads: set[str] = set()

    def update(self, data: bytes | memoryview) -> None:
        self.threads.add(threading.current_thread().name)
        self.inner.update(data)

    def hexdigest(self) -> str:
        return self.inner.hexdigest()


@pytest.mark.parametrize("sparse", [True, False])
def test_stream_raw_hashes_on_its_own_thread_in_order(tmp_path: Path, sparse: bool) -> None:
    data = os.urandom(3 * MiB + 123) + bytes(2 * MiB) + b"tail"
    disk = tmp_path / "disk"
    disk.write_bytes(b"\xff" * (8 * MiB))
    if sparse:
        image_writer.discard_file(str(disk), 8 * MiB)
    hasher = _ThreadRecordingHasher()
    stats = image_writer.stream_raw(
        io.BytesIO(data[512:]), str(disk), 8 * MiB, hasher, sparse, first=data[:512]
    )
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    assert hasher.threads == {"image-hasher"}
    assert stats.size == len(data)
    assert disk.read_bytes()[: len(data)] == data
    assert stats.skipped == (MiB if sparse else 0)  # the one all-zero, aligned MiB: a hole


@pytest.mark.parametrize("offset", [0, 512, 3 * MiB])
def test_stream_raw_unaligned_tail_and_offset(tmp_path: Path, offset: int) -> None:
    # O_DIRECT takes only 4 KiB-aligned spans: the tail and an unaligned partition offset
    # go through the buffered descriptor, and the bytes around the image stay untouched.
    data = os.urandom(2 * MiB + 4096 + 777)
    disk = tmp_path / "disk"
    disk.write_bytes(b"\xee" * (8 * MiB))
    stats = image_writer.stream_raw(io.BytesIO(data), str(disk), 8 * MiB, None, False, offset)
    written = disk.read_bytes()
    assert stats.size == stats.written == len(data)
    assert written[offset : offset + len(data)] == data
    assert written[:offset] == b"\xee" * offset
    assert written[offset + len(data) :] == b"\xee" * (8 * MiB - offset - len(data))


def test_target_uses_o_direct_for_aligned_spans(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.write_bytes(bytes(MiB))
    target = image_writer._Target(str(disk), 0)
    try:
        if target.direct < 0:
            pytest.skip(f"{tmp_path} refuses O_DIRECT")
        buf = image_writer.mmap.mmap(-1, image_writer.ALIGN)
        buf.write(b"\x5a" * image_writer.ALIGN)
        target.write(memoryview(buf), image_writer.ALIGN)
        assert target.direct >= 0  # the write went through, not the fallback
    finally:
        target.close()
    assert disk.read_bytes()[4096:8192] == b"\x5a" * 4096


def test_o_direct_refused_falls_back_to_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Filesystems without O_DIRECT (tmpfs before Linux 6.6, some FUSE) fail the open or the
    # first write with EINVAL; the image must still be written, through the page cache.
    data = os.urandom(3 * MiB + 5)
    real_open, real_pwrite = os.open, os.pwrite
    direct_fds: set[int] = set()

    def open_refusing(path: str, flags: int, *args: int) -> int:
        if flags & os.O_DIRECT and "open" in refuse:
            raise OSError(errno.EINVAL, "Invalid argument")
        fd = real_open(path, flags, *args)
        if flags & os.O_DIRECT:
            direct_fds.add(fd)
        return fd

    def pwrite_refusing(fd: int, data: memoryview, pos: int) -> int:
        if fd in direct_fds:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, pos)

    monkeypatch.setattr(image_writer.os, "open", open_refusing)
    monkeypatch.setattr(image_writer.os, "pwrite", pwrite_refusing)
    for refuse in ("open", "write"):
        disk = tmp_path / f"disk-{refuse}"
        disk.write_bytes(bytes(8 * MiB))
        hasher = hashlib.sha256()
        stats = image_writer.stream_raw(io.BytesIO(data), str(disk), 8 * MiB, hasher, False)
        assert stats.size == len(data)
        assert disk.read_bytes()[: len(data)] == data
        assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    assert direct_fds  # the write-time refusal was exercised
