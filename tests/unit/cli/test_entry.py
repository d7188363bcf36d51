"""The console script hands ``serve`` to the lean server process with its malloc settings."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ingot.cli import entry


class Exec(Exception):
    """Stands in for os.execve, which would replace the test process."""


def test_serve_execs_the_lean_server_with_one_arena(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        seen.update(path=path, argv=argv, env=env)
        raise Exec

    monkeypatch.setattr(entry.os, "execve", execve)
    monkeypatch.setattr(sys, "argv", ["ingot", "serve", "--port", "6399"])
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the operator's value wins
    with pytest.raises(Exec):
        entry.main()
    assert seen["argv"] == [sys.executable, "-m", "ingot.server", "--port", "6399"]
    assert seen["env"]["MALLOC_ARENA_MAX"] == "1"
    assert seen["env"]["MALLOC_MMAP_THRESHOLD_"] == "65536"
