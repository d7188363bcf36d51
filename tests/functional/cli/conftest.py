"""A real ``ingot serve`` process per test module, and a CLI runner pointed at it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ingot.cli.main import app, expand_wait
from ingot.client import IngotClient
from ingot.lab.ports import free_port
from tests.serve_process import ingot_serve

DATA = Path(__file__).parent / "data"
INGOT = Path(sys.executable).parent / "ingot"
Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ingot serve`` on a free port with fake-hardware and manual-management enabled."""
    tmp = tmp_path_factory.mktemp("ingot-serve")
    port = free_port()
    env = {
        "INGOT_DEFAULT__ENABLED_HARDWARE_TYPES": '["fake-hardware", "manual-management", "ipmi"]',
        "INGOT_DEPLOY__HTTP_PORT": "0",  # no boot server: these tests never boot anything
        "INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL": "0",
        "INGOT_CONDUCTOR__CHECK_PROVISION_STATE_INTERVAL": "0",
    }
    with ingot_serve(tmp / "state", tmp / "serve.log", port, env):
        yield f"http://127.0.0.1:{port}"


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
