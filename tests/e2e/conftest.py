"""End-to-end fixtures: a real ``ingot serve`` process on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingot.lab.ports import free_port
from tests.serve_process import VENV_BIN, ingot_serve, stop_process_group

__all__ = ["VENV_BIN", "Server", "free_port", "server", "stop_process_group"]


class Server:
    def __init__(self, url: str, boot_url: str, state_dir: Path, log: Path) -> None:
        self.url, self.boot_url, self.state_dir, self.log = url, boot_url, state_dir, log
        self.http = httpx.Client(base_url=url, headers={"X-OpenStack-Ironic-API-Version": "latest"})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port, boot_port = free_port(), free_port()
    state = tmp_path / "state"
    log = tmp_path / "server.log"
    env = {
        "INGOT_DEPLOY__HTTP_PORT": str(boot_port),
        "INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL": "0",
        "INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT": "120",
        "INGOT_AGENT__POWER_OFF_TIMEOUT": "2",
    }
    with ingot_serve(state, log, port, env, timeout=30):
        yield Server(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{boot_port}", state, log)
