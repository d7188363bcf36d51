"""Start a real ``ingot serve`` subprocess for the functional and end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from ingot.processes import stop_process_group

VENV_BIN = Path(sys.executable).parent
__all__ = ["VENV_BIN", "ingot_serve", "stop_process_group"]


@contextlib.contextmanager
def ingot_serve(
    state_dir: Path,
    log: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """``ingot serve`` on 127.0.0.1:``port``, answering ``GET /`` before this yields; stopped
    by PID (its whole process group) on exit. A server that exits or never answers fails
    with its log, so a broken start says why."""
    cmd = [str(VENV_BIN / "ingot"), "serve", "--state-dir", str(state_dir), "--port", str(port),
           *args]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"ingot serve exited early:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingot serve did not answer in {timeout:g} s:\n"
                                   f"{log.read_text()}")  # fmt: skip
            time.sleep(0.1)
        yield proc
    finally:
        stop_process_group(proc)
