"""The database handle: engine, sessions, and the SQLite settings that keep writers civil.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with "database is
locked" when both try to upgrade a read transaction. Within one process, SQLite writers
also queue on a Python lock first: SQLite's own busy handler sleeps in steps of up to 100 ms,
so under contention the database lock sat free while writers slept (issue 13 measured
BEGIN IMMEDIATE as a quarter of the server's samples). PostgreSQL needs none of this; its
pooled connections are pinged before use only after sitting idle (:func:`_ping_when_idle`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

T = TypeVar("T")

_LOCKED_RETRIES = 20
_PING_AFTER_IDLE_S = 2.0
_EMPTY: dict[str, Callable[[], Any]] = {"{}": dict, "[]": list, "null": lambda: None}
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # C scanner, untyped


def loads_json(text: str) -> Any:
    """``json.loads`` for the JSON columns SQLite hands back, without its per-call overhead.

    A node row has a dozen JSON columns, mostly ``{}``; ``json.loads`` on them was a third
    of ``GET /v1/nodes/detail``. Anything unusual (whitespace, trailing text) takes the
    normal path, so the result is always what ``json.loads`` would give.
    """
    make = _EMPTY.get(text)
    if make is not None:
        return make()
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


class Database:
    """One engine and its session factory; pass it down, never a global."""

    def __init__(
        self, url: str, *, busy_timeout_ms: int = 30000, sqlite_cache_kib: int = 256,
        echo: bool = False,
    ) -> None:  # fmt: skip
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["json_deserializer"] = loads_json
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
            if ":memory:" in url or url.rstrip("/") == "sqlite:":
                raise ValueError("Ingot needs a file-backed SQLite database, not :memory:")
        else:
            # Connections past pool_size are closed on return, and a new PostgreSQL connection
            # costs a backend process: size the pool for the API's and conductor's threads
            # at C=16 so a busy process does not connect anew for most requests.
            kwargs["pool_size"] = 20
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms, sqlite_cache_kib)
        else:
            _ping_when_idle(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Re-entrant so a nested write in one thread fails on SQLite's timeout as before
        # instead of deadlocking here.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing is committed."""
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction takes the write lock up front and commits on exit."""
        with self._write_lock, self._sessions() as session:
            if self.is_sqlite:
                session.connection(execution_options={"sqlite_immediate": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def run_write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a write transaction, retrying if SQLite still reports a lock."""
        for attempt in range(_LOCKED_RETRIES):
            try:
                with self.write() as session:
                    return fn(session)
            except OperationalError as exc:
                if not self.is_sqlite or "locked" not in str(exc) or attempt == _LOCKED_RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, cache_kib: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only if it sat idle, instead of ``pool_pre_ping``.

    ``pool_pre_ping`` costs a round trip at every checkout, and a request checks out a few: it
    was 16 % of a busy conductor's time (docs/benchmarks.md, scale-out). A connection returned
    moments ago is as alive as the ping would say; one idle for a while (the server restarted,
    a firewall dropped it) is pinged and replaced. A connection that dies in between fails
    once, and SQLAlchemy then discards the pool's older connections.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < _PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


def make_nullpool_engine(url: str) -> Engine:
    """An engine without pooling, for migrations run from the CLI."""
    return create_engine(url, poolclass=NullPool)
