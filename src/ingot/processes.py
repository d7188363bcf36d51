"""Stopping the child processes Ingot, its lab, demo, tests and benchmarks start."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any


def stop_process_group(
    proc: subprocess.Popen[Any], timeout: float = 15, kill_timeout: float = 5
) -> None:
    """SIGTERM the child's process group, SIGKILL it after ``timeout``; fine if it is gone.

    Children are started with ``start_new_session=True``, so the group is the child and
    whatever it started (an agent's helpers, a server's workers), and nothing else.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, kill_timeout)):
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
