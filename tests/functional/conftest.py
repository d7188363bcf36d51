"""Functional fixtures: a real ``ingot serve`` subprocess, driven by the real clients.

One server per test module (starting one costs about a second); a module that needs other
settings starts its own with :func:`running_server`. Helpers run python-ironicclient's
``baremetal`` CLI and build an openstacksdk connection pointed at the noauth endpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingot.lab.ports import free_port
from tests.serve_process import VENV_BIN, ingot_serve

SERVER_ENV = {
    "INGOT_DEPLOY__HTTP_PORT": "0",  # no embedded boot server: it would need a fixed port
    "INGOT_CONDUCTOR__SYNC_POWER_STATE_INTERVAL": "0",
    "INGOT_CONDUCTOR__CHECK_PROVISION_STATE_INTERVAL": "0",
}


@dataclass
class IngotServer:
    """A running ``ingot serve``: its URL, state directory and combined stdout/stderr log."""

    url: str
    state_dir: Path
    log: Path
    pid: int

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-OpenStack-Ironic-API-Version": "latest"}, timeout=10
        )


@contextlib.contextmanager
def running_server(
    workdir: Path, env: dict[str, str] | None = None, log_level: str = "info"
) -> Iterator[IngotServer]:
    """Start ``ingot serve`` on a free loopback port, wait for ``GET /``, stop it by PID."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "server.log"
    args = ["--log-level", log_level]
    with ingot_serve(workdir / "state", log, port, {**SERVER_ENV, **(env or {})}, args, 30) as p:
        yield IngotServer(url=f"http://127.0.0.1:{port}", state_dir=workdir / "state", log=log,
                          pid=p.pid)  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    """One server per test module, with Ingot's default settings (automated cleaning on)."""
    with running_server(tmp_path_factory.mktemp("ingot")) as srv:
        yield srv


class BaremetalCLI:
    """python-ironicclient's ``baremetal`` command against one noauth endpoint."""

    def __init__(self, url: str) -> None:
        self.base = [str(VENV_BIN / "baremetal"), "--os-auth-type", "none", "--os-endpoint", url]

    def run(
        self, *args: str, check: bool = True, timeout: float = 90, retry: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        started = time.monotonic()
        # the client retries a 409 five times, 2 s apart; a test expecting one says so
        options = [] if retry else ["--max-retries", "0"]
        proc = subprocess.run(
            [*self.base, *options, *args], capture_output=True, text=True, timeout=timeout, env=env
        )
        print(f"baremetal {' '.join(args)}: {time.monotonic() - started:.1f} s")
        if check and proc.returncode != 0:
            raise AssertionError(
                f"baremetal {' '.join(args)} failed ({proc.returncode}):\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        """Run a command with ``-f json`` and parse what it printed."""
        return json.loads(self.run(*args, "-f", "json").stdout)

    def fails(self, *args: str) -> str:
        """Run a command that must fail; return its stderr for the message checks."""
        proc = self.run(*args, check=False, retry=False)
        assert proc.returncode != 0, f"baremetal {' '.join(args)} unexpectedly worked"
        return proc.stderr + proc.stdout


@pytest.fixture(scope="module")
def baremetal(server: IngotServer) -> BaremetalCLI:
    return BaremetalCLI(server.url)


def sdk_connection(url: str) -> Any:
    """openstacksdk pointed at a noauth Ironic endpoint, ignoring any clouds.yaml or OS_*."""
    import openstack

    return openstack.connect(
        auth_type="none",
        baremetal_endpoint_override=url,
        load_yaml_config=False,
        load_envvars=False,
    )


@pytest.fixture(scope="module")
def conn(server: IngotServer) -> Iterator[Any]:
    connection = sdk_connection(server.url)
    yield connection
    connection.close()
