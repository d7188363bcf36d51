"""bench/cluster.py stays runnable: the lifecycle benchmark at N=6 on an api and 2 conductors."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text

BENCH = Path(__file__).resolve().parents[3] / "bench"
PG_URL = os.environ.get("INGOT_TEST_PG_URL")
pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="INGOT_TEST_PG_URL not set: the cluster benchmark needs PostgreSQL; run it through "
    "scripts/with-postgres.sh (make test)",
)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_api_lifecycle_c", BENCH / "api_lifecycle.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def databases() -> set[str]:
    assert PG_URL is not None
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT datname FROM pg_database")))
    finally:
        engine.dispose()


def test_lifecycle_bench_runs_on_a_cluster(bench: ModuleType) -> None:
    before = databases()
    result = bench.main(["--start-cluster", "2", "--pg-url", str(PG_URL), "--nodes", "6",
                         "--concurrency", "3", "--poll-interval", "0.05"])  # fmt: skip
    assert result["setup"] == "ingot api + 2 ingot conductor on PostgreSQL"
    assert result["list_detail"]["nodes"] == 6  # a fresh database: only this run's nodes
    phases = result["lifecycle"]
    assert all(phases[k]["failures"] == 0 for k in ("manage", "provide", "active", "deleted"))
    per_process = result["server"]["per_process"]
    assert set(per_process) == {"api", "c1", "c2"}
    assert all(p["peak_rss_mib"] > 10 for p in per_process.values())
    total = sum(p["peak_rss_mib"] for p in per_process.values())
    assert result["server"]["peak_rss_mib"] == pytest.approx(total, abs=1)
    assert databases() == before  # the run's database was dropped


@pytest.mark.parametrize(
    ("url", "conductors", "message"),
    [("sqlite:///x.db", 1, "postgresql:// URL"), (str(PG_URL), 0, "at least one conductor")],
)
def test_cluster_refuses_what_it_can_not_run(
    bench: ModuleType, url: str, conductors: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bench.start_cluster(url, conductors)
