"""``ingot lab up/status/show/power/down`` as an operator runs them: separate processes, by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

INGOT = str(Path(sys.executable).parent / "ingot")


def ingot(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([INGOT, *args], capture_output=True, text=True, timeout=60, env=env)


def wait_for_file(path: Path, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"ingot lab up exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


@pytest.fixture
def lab_up(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    state = tmp_path / "lab"
    proc = subprocess.Popen(
        [INGOT, "lab", "up", "--nodes", "2", "--state-dir", str(state), "--bmc", "manual",
         "--disk-gb", "0.01", "--post-seconds", "0",
         "--boot-url", "http://127.0.0.1:9", "--tftp", "127.0.0.1:9"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_file(state / "lab.pid", proc)
        yield state, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait(10)


def test_up_power_status_down(lab_up: tuple[Path, subprocess.Popen[str]]) -> None:
    state, proc = lab_up
    assert int((state / "lab.pid").read_text()) == proc.pid
    inventory = json.loads((state / "inventory.json").read_text())
    assert [n["pm_type"] for n in inventory["nodes"]] == ["manual-management"] * 2

    pressed = ingot("lab", "power", "node-1", "on", "--state-dir", str(state))
    assert pressed.returncode == 0, pressed.stdout + pressed.stderr
    deadline = time.monotonic() + 15
    while "No bootable device" not in (state / "node-1" / "serial.log").read_text():
        assert time.monotonic() < deadline, "node-1 did not try to boot"
        time.sleep(0.1)
    log = (state / "node-1" / "serial.log").read_text()
    assert "boots from pxe" in log and "TFTP get pxelinux" not in log  # UEFI: GRUB
    assert "TFTP get grub/grub.cfg-01-52-54-00" in log

    status = ingot("lab", "status", "--state-dir", str(state))
    assert status.returncode == 0
    rows = [line for line in status.stdout.splitlines() if "node-" in line]
    assert len(rows) == 2 and "on" in rows[1] and "off" in rows[0]
    shown = ingot("lab", "show", "node-1", "--state-dir", str(state))
    assert "No bootable device" in shown.stdout

    down = ingot("lab", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert proc.wait(10) == 0
    assert not (state / "lab.pid").exists()
    assert json.loads((state / "lab.json").read_text())["running"] is False
    again = ingot("lab", "down", "--state-dir", str(state))
    assert "No lab is running" in again.stdout


def test_second_up_in_the_same_dir_is_refused(lab_up: tuple[Path, subprocess.Popen[str]]) -> None:
    state, _proc = lab_up
    second = ingot("lab", "up", "--nodes", "1", "--state-dir", str(state), "--bmc", "manual")
    assert second.returncode != 0
    assert "already runs" in second.stdout + second.stderr


def test_unknown_node_and_missing_lab_are_clear(tmp_path: Path) -> None:
    missing = ingot("lab", "status", "--state-dir", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "No lab in" in missing.stdout + missing.stderr
