"""The database engine's per-connection SQLite settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ingot.db import Database


def test_every_sqlite_connection_gets_the_configured_page_cache(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.sqlite'}", sqlite_cache_kib=300)
    with db.read() as first, db.read() as second:  # two pooled connections
        sizes = {s.execute(text("PRAGMA cache_size")).scalar_one() for s in (first, second)}
    assert sizes == {-300}  # negative: a size in KiB rather than in pages
    db.dispose()
