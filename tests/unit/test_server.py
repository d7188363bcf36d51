"""The lean ``ingot serve`` process (ingot.server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Runs in a child: blocking modules must not leak into the test process's imports.
SERVE_WITHOUT_UNUSED = """
import sys
from ingot.server import UNUSED_MODULES, skip_unused_modules
skip_unused_modules()
from ingot.app_runtime import all_in_one, migrate_out_of_process
from ingot.settings import load_settings
settings = load_settings(default={"state_dir": sys.argv[1]}, deploy={"http_port": 0})
migrate_out_of_process(settings)
with all_in_one(settings, with_boot_servers=True, migrate_schema=False) as (_s, _c, app):
    mods = ("rich", "pygments", "pydantic.v1", "watchfiles", "httpx", "yaml")
    loaded = sorted(m for m in mods if sys.modules.get(m))
    from fastapi.testclient import TestClient  # imports httpx itself
    with TestClient(app) as client:
        status = client.get("/v1/nodes").status_code
        created = client.post(
            "/v1/nodes", json={"driver": "fake-hardware", "name": "n1"},
            headers={"X-OpenStack-Ironic-API-Version": "latest"},
        ).status_code
        loaded += sorted(m for m in ("rich", "pydantic.v1") if sys.modules.get(m))
print(status, created, loaded)
"""


def test_server_serves_without_the_unused_modules(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_UNUSED, str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "200 201 []"


def test_skip_unused_modules_keeps_modules_already_loaded() -> None:
    code = (
        "import sys, httpx._main\n"
        "from ingot.server import skip_unused_modules\n"
        "skip_unused_modules()\n"
        "print(sys.modules['httpx._main'] is not None, sys.modules['pydantic.v1'] is None)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "True True", done.stderr[-2000:]
