"""bench/lab_scale.py stays runnable: two lab servers end to end and a 20-node power sync."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_lab_scale", BENCH / "lab_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_lab_scale_bench_runs_on_tiny_n(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = bench.main(["--nodes", "2", "--image-mib", "4", "--post-seconds", "0.1",
                         "--power-sync", "20", "--bmcs", "3", "--drift", "2",
                         "--out", str(out)])  # fmt: skip
    assert json.loads(out.read_text()) == result
    e2e = result["end_to_end"]
    assert e2e["nodes"] == 2 and e2e["automated_clean"] is False
    # The disk boot comes from the deploy's own last step, so it may be seen before the poller
    # sees the node 'active' and unlocked: no order between the two.
    assert e2e["all_active_s"] > 0 and e2e["all_booted_s"] > 0
    assert {p["nodes"] for p in e2e["phases"].values()} == {2}
    assert e2e["memory"]["agents"] >= 1 and e2e["memory"]["serve_peak_rss_mib"] > 10
    (sync,) = result["power_sync"]
    assert (sync["nodes"], sync["bmcs"], sync["sync_s"] > 0) == (20, 3, True)
    assert sync["still_recorded_on"] == 0  # the two drifted records were corrected


@pytest.mark.parametrize(
    ("marks", "expect"),
    [
        ({"a": {"requested": 0.0, "wait call-back": 1.0, "deploying-2": 4.0, "active": 9.0},
          "b": {"requested": 0.5, "wait call-back": 1.5, "deploying-2": 3.5, "active": 6.5}},
         {"request to wait call-back": 1.0, "agent boot (POST, PXE, agent, lookup)": 2.5,
          "image + config drive + reboot": 4.0, "request to active": 7.5}),
        ({"a": {"requested": 0.0}}, {}),  # nothing finished: no phase
    ],
)  # fmt: skip
def test_phase_medians(
    bench: ModuleType, marks: dict[str, dict[str, float]], expect: dict[str, float]
) -> None:
    watcher = bench.Watcher.__new__(bench.Watcher)
    watcher.marks = marks
    assert {k: v["median_s"] for k, v in watcher.phases().items()} == expect
