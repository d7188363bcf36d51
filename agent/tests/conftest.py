"""Fixtures: a virtual machine directory, a running agent, a local image HTTP server."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingot_agent.agent import Agent
from ingot_agent.config import AgentConfig
from ingot_agent.hardware.virtual import VirtualHardwareManager
from ingot_agent.partition_table import LINUX_FS_GUID, create_gpt

MiB = 1024 * 1024


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, directory) of a static HTTP server on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def write_machine(root: Path, disks: list[dict[str, Any]] | None = None, **extra: Any) -> Path:
    spec = {
        "hostname": "node-0",
        "cpus": 4,
        "cpu_arch": "x86_64",
        "memory_mb": 2048,
        "boot_mode": "uefi",
        "vendor": "Ingot Lab",
        "product": "Virtual Server",
        "serial": "LAB-0001",
        "bmc_address": "127.0.0.1",
        "disks": disks
        if disks is not None
        else [
            {
                "name": "/dev/vda",
                "file": "vda.img",
                "size": 256 * MiB,
                "serial": "VDA-1",
                "wwn": "0x5000c500a0b1c2d3",
            }
        ],
        "nics": [
            {
                "name": "eth0",
                "mac": "52:54:00:00:00:30",
                "ipv4_address": "10.99.0.30",
                "speed_mbps": 1000,
            }
        ],
        **extra,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "machine.json").write_text(json.dumps(spec))
    return root


@pytest.fixture
def machine_dir(tmp_path: Path) -> Path:
    return write_machine(tmp_path / "machine")


def make_agent(root: Path, **config: Any) -> Agent:
    cfg = AgentConfig(
        listen_host="127.0.0.1", listen_port=0, hardware="virtual", root_dir=root, **config
    )
    agent = Agent(cfg, VirtualHardwareManager(root), root / "work")
    agent.start()
    return agent


@pytest.fixture
def agent(machine_dir: Path) -> Iterator[Agent]:
    a = make_agent(machine_dir)
    yield a
    a.stop()


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def run_command(
    agent: Agent, name: str, params: dict[str, Any], token: str | None = None, wait: bool = True
) -> dict[str, Any]:
    """POST a command, then (for async ones) poll GET /v1/commands/{id}?wait=true."""
    url = f"http://127.0.0.1:{agent.server.port}/v1/commands/?wait={str(wait).lower()}"
    if token:
        url += f"&agent_token={token}"
    status, result = http("POST", url, {"name": name, "params": params})
    assert status == 200, result
    return result


def make_disk_image(path: Path, size: int = 8 * MiB, data_mib: int = 2) -> bytes:
    """A small GPT whole-disk image: one partition with random data, zeros elsewhere."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    with open(path, "r+b") as fh:
        create_gpt(fh, size, [("root", size - 3 * MiB, LINUX_FS_GUID)])
        fh.seek(1 * MiB)
        fh.write(os.urandom(data_mib * MiB))
    return path.read_bytes()
