"""End-to-end fixtures: a real ``ingot serve`` process on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingot.lab.ports import free_port

VENV_BIN = Path(sys.executable).parent


class Server:
    def __init__(self, url: str, boot_url: str, state_dir: Path, log: Path) -> None:
        self.url, self.boot_url, self.state_dir, self.log = url, boot_url, state_dir, log
        self.http = httpx.Client(base_url=url, headers={"X-OpenStack-Ironic-API-Version": "latest"})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port, boot_port = free_port(), free_port()
    state = tmp_path / "state"
    log = tmp_path / "server.log"
    env = dict(os.environ)
    env.update(
        INGOT_DEPLOY__HTTP_PORT=str(boot_port),
        INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL="0",
        INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT="120",
        INGOT_AGENT__POWER_OFF_TIMEOUT="2",
    )
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "ingot"), "serve", "--state-dir", str(state), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(f"ingot serve exited: {log.read_text()}") from None
                time.sleep(0.2)
        yield Server(url, f"http://127.0.0.1:{boot_port}", state, log)
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM the process group, SIGKILL it after ``timeout``; fine if it already exited."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
