"""bench/api_lifecycle.py stays runnable: the whole benchmark at N=5 against a real ingot serve."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load("api_lifecycle")


def test_lifecycle_bench_runs_on_tiny_n(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = bench.main(["--start-ingot", "--nodes", "5", "--concurrency", "3",
                         "--poll-interval", "0.05", "--out", str(out)])  # fmt: skip
    assert json.loads(out.read_text()) == result
    assert result["list_detail"]["nodes"] >= 5
    assert result["enroll"]["nodes_per_s"] > 0
    phases = result["lifecycle"]
    assert [k for k in phases if k != "total_s"] == ["manage", "provide", "active", "deleted"]
    assert all(phases[k]["failures"] == 0 for k in ("manage", "provide", "active", "deleted"))
    assert result["server"]["peak_rss_mib"] > 10
    assert set(result["vs_ironic"]) >= {"lifecycle_speedup", "memory_target_met"}


@pytest.mark.parametrize(
    ("nodes", "expect"),
    [
        # not settled: still reserved, or still moving
        ([{"uuid": "a", "provision_state": "available", "target_provision_state": None,
           "reservation": "ingot", "last_error": None}], "timeout"),
        ([{"uuid": "a", "provision_state": "cleaning", "target_provision_state": "available",
           "reservation": None, "last_error": None}], "timeout"),
        # settled in the target, or failed with a reason
        ([{"uuid": "a", "provision_state": "available", "target_provision_state": None,
           "reservation": None, "last_error": None}], []),
        ([{"uuid": "a", "provision_state": "clean failed", "target_provision_state": None,
           "reservation": None, "last_error": "disk on fire"}], ["a: clean failed: disk on fire"]),
    ],
)  # fmt: skip
def test_wait_settled_judges_each_node(
    bench: ModuleType, nodes: list[dict[str, object]], expect: object
) -> None:
    class FakeApi:
        def pages(self, path: str) -> list[dict[str, object]]:
            assert "fields=" in path and "limit=" in path
            return nodes

    if expect == "timeout":
        with pytest.raises(TimeoutError):
            bench.wait_settled(FakeApi(), {"a"}, "available", interval=0.01, timeout=0.05)
    else:
        _rounds, failures = bench.wait_settled(FakeApi(), {"a"}, "available", 0.01, 5)
        assert failures == expect


def test_list_only_run_reports_the_parts(bench: ModuleType) -> None:
    """``--phases enroll,list``: a quick list benchmark, with the parts of its figure."""
    result = bench.main(["--start-ingot", "--nodes", "3", "--concurrency", "2",
                         "--phases", "enroll,list", "--list-runs", "2"])  # fmt: skip
    listed = result["list_detail"]
    assert listed["nodes"] == 3 and len(listed["runs_ms"]) == 2
    assert listed["parser"] in ("orjson", "json")
    assert 0 < listed["headers_ms"] <= listed["last_byte_ms"] <= listed["ms"]
    # the old figure (json.loads in the client) stays computable
    assert listed["ms_json_loads"] >= listed["last_byte_ms"]
    assert "lifecycle" not in result and "lifecycle_speedup" not in result["vs_ironic"]
    assert "list_detail_speedup" in result["vs_ironic"]


def test_phases_must_start_with_enroll(bench: ModuleType) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--endpoint", "http://127.0.0.1:9", "--phases", "list"])
