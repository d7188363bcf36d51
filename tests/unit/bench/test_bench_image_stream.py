"""bench/image_stream.py stays runnable: the whole benchmark with 8 MiB images."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "image_stream.py"


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img (qemu-utils)")
def test_image_bench_runs_on_small_images(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_image_stream", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    out = tmp_path / "r.json"
    result = bench.main(
        ["--size-mib", "8", "--dir", str(tmp_path / "work"), "--out", str(out), "--repeat", "1"]
    )
    assert json.loads(out.read_text()) == result
    for name in ("random.raw", "sparse.raw", "sparse.qcow2"):
        assert result[name]["agent_s"] > 0 and result[name]["baseline_s"] > 0
    # zeros became holes: the agent allocated about half of what dd did
    sparse = result["sparse.raw"]
    assert sparse["agent_allocated_mib"] < sparse["baseline_allocated_mib"]
    assert sparse["agent_stats"]["skipped_zero_bytes"] > 0
    assert 5 < result["agent_peak_rss_mib"] < 100
    assert len(result["targets"]) == 4
