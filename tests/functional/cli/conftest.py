"""A real ``ingot serve`` process per test module, and a CLI runner pointed at it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from ingot.cli.main import app, expand_wait
from ingot.client import IngotClient
from ingot.lab.ports import free_port

DATA = Path(__file__).parent / "data"
INGOT = Path(sys.executable).parent / "ingot"
Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ingot serve`` on a free port with fake-hardware and manual-management enabled."""
    tmp = tmp_path_factory.mktemp("ingot-serve")
    port = free_port()
    env = dict(os.environ)
    env.update(
        INGOT_DEFAULT__ENABLED_HARDWARE_TYPES='["fake-hardware", "manual-management", "ipmi"]',
        INGOT_DEPLOY__HTTP_PORT="0",  # no boot server: these tests never boot anything
        INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL="0",
        INGOT_CONDUCTOR__CHECK_PROVISION_STATE_INTERVAL="0",
    )
    env.pop("INGOT_URL", None)
    log = (tmp / "serve.log").open("w")
    cmd = [str(INGOT), "serve", "--state-dir", str(tmp / "state"), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ingot serve exited: {(tmp / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/v1", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("ingot serve did not answer within 60s")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


@pytest.fixture
def api(server_url: str) -> Iterator[IngotClient]:
    with IngotClient(server_url, lock_retry_delay=0.2) as client:
        yield client


@pytest.fixture
def cli(server_url: str) -> Invoke:
    """Run ``ingot --url <server> ARGS...`` in-process; exceptions stay on the Result."""
    runner = CliRunner()

    def invoke(*args: str, expect: int | None = 0) -> Result:
        argv: Sequence[str] = ["--url", server_url, *expand_wait(args)]
        result = runner.invoke(app, list(argv), env={"COLUMNS": "200"})
        if expect is not None:
            assert result.exit_code == expect, (result.output, result.exception)
        return result

    return invoke
