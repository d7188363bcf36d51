"""Lab servers of different memory sizes: ``LabConfig.memory_mb`` as a list cycled over the
servers, and ``ingot lab up --memory-mb 2048,4096`` with clear errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingot.cli.lab_cmd import parse_memory_mb
from ingot.errors import InvalidInput
from ingot.lab.runner import Lab, LabConfig

INGOT = str(Path(sys.executable).parent / "ingot")


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("2048", [2048]),
        ("2048,4096", [2048, 4096]),
        (" 1024 , 8192,1024 ", [1024, 8192, 1024]),
    ],
)
def test_parse_memory_mb(text: str, sizes: list[int]) -> None:
    assert parse_memory_mb(text) == sizes


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("big", "'big': give MiB per server as a whole number"),
        ("2048,,4096", "'2048,,4096'"),
        ("2048;4096", "comma-separated list"),
        ("2.5", "whole number"),
        ("-1", "whole number"),
        ("0", "--memory-mb 0: give MiB per server, a whole number from 1"),
        ("99999999999", "a whole number from 1 to 16777216"),
    ],
)
def test_parse_memory_mb_refuses(text: str, said: str) -> None:
    with pytest.raises(InvalidInput, match=None) as caught:
        parse_memory_mb(text)
    assert said in caught.value.message


@pytest.mark.parametrize(
    ("memory", "nodes", "expected"),
    [
        (2048, 3, [2048, 2048, 2048]),
        ([2048, 4096], 5, [2048, 4096, 2048, 4096, 2048]),
        ((1024, 2048, 4096), 4, [1024, 2048, 4096, 1024]),
    ],
)
def test_servers_get_cycled_memory(
    tmp_path: Path, memory: int | list[int], nodes: int, expected: list[int]
) -> None:
    lab = Lab(LabConfig(state_dir=tmp_path, nodes=nodes, bmc="manual", memory_mb=memory))
    try:
        assert [s.spec.memory_mb for s in lab.servers] == expected
        # machine.json is what the agent's virtual hardware reports to inspection.
        described = [json.loads((tmp_path / s.name / "machine.json").read_text())
                     for s in lab.servers]  # fmt: skip
        assert [d["memory_mb"] for d in described] == expected
    finally:
        lab.stop()


@pytest.mark.parametrize("memory", [[], [2048, 0], [True], ["2048"]])
def test_lab_refuses_bad_memory(tmp_path: Path, memory: list[object]) -> None:
    with pytest.raises(InvalidInput, match="--memory-mb"):
        Lab(LabConfig(state_dir=tmp_path, nodes=2, memory_mb=memory))  # type: ignore[arg-type]


def test_lab_up_says_what_is_wrong(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    proc = subprocess.run(
        [INGOT, "lab", "up", "--state-dir", str(state), "--memory-mb", "2048,lots"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--memory-mb '2048,lots': give MiB per server as a whole number" in proc.stderr
    assert not state.exists()  # refused before anything was made
