"""``ingot db upgrade`` / ``ingot db version`` through the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingot.db import migrate

INGOT = Path(sys.executable).parent / "ingot"
HEAD = migrate.head_revision(None)  # type: ignore[arg-type]  # the script dir needs no db


def _ingot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INGOT_")}
    return subprocess.run([str(INGOT), *args], capture_output=True, text=True, timeout=60,
                          env={**full, "COLUMNS": "200", **(env or {})})  # fmt: skip


def test_version_says_behind_without_creating_then_upgrade_brings_it_to_head(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    before = _ingot("db", "version", "--state-dir", str(state))
    assert before.returncode == 1, before.stderr
    assert f"schema at none (newest: {HEAD})" in before.stdout
    assert "Run `ingot db upgrade`" in before.stdout
    assert not (state / "ingot.sqlite").exists()

    done = _ingot("db", "upgrade", "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    assert f"schema at {HEAD} (newest: {HEAD})" in done.stdout
    again = _ingot("db", "version", "--state-dir", str(state))
    assert (again.returncode, again.stdout.count(f"schema at {HEAD}")) == (0, 1)


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = "postgresql+psycopg://ingot:s3cret-pw@127.0.0.1:9/ingot"  # port 9: nothing listens
    out = _ingot("db", "version", env={"INGOT_DATABASE__CONNECTION": url})
    assert out.returncode == 2
    text = " ".join((out.stdout + out.stderr).split())
    assert "Cannot open the database postgresql+psycopg://ingot:***@127.0.0.1:9/ingot" in text
    assert "INGOT_DATABASE__CONNECTION" in text and "s3cret-pw" not in text
