"""The list serializer: field order, datetimes, computed fields, and the fallback for objects
whose columns are not all loaded (expired ORM attributes)."""

from __future__ import annotations

import datetime as dt
import gc
import json
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
    text,
)
from sqlalchemy.types import JSON

from ingot.api.resource import (
    Field,
    ResourceSpec,
    collector_paused,
    decoded_objects,
    iso,
    json_bytes,
    raw_json_bytes,
    rows_as_objects,
    serializer,
    stored_columns,
    stored_datetime_column,
    stored_json_column,
)
from ingot.db.engine import loads_json

SPEC = ResourceSpec(
    "thing",
    [
        Field("uuid", "uuid"),
        Field("links", column=False),
        Field("name"),
        Field("created_at", "datetime"),
        Field("extra", "dict"),
    ],
)
COMPUTED = {"links": lambda o: [o.uuid]}
WHEN = dt.datetime(2026, 1, 2, 3, 4, 5)
EXPECTED = {"uuid": "u1", "links": ["u1"], "name": "n", "created_at": "2026-01-02T03:04:05+00:00",
            "extra": {}}  # fmt: skip


class Lazy:
    """Like an ORM object with ``name`` expired: not in __dict__, loaded on attribute access."""

    def __init__(self) -> None:
        self.uuid, self.created_at = "u1", WHEN
        self.extra: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return "n"


@pytest.mark.parametrize(
    "obj",
    [
        SimpleNamespace(uuid="u1", name="n", created_at=WHEN, extra={}, hidden=1),
        Lazy(),
    ],
    ids=["loaded", "unloaded-column"],
)
def test_serializer_order_and_values(obj: Any) -> None:
    out = serializer(["uuid", "links", "name", "created_at", "extra"], SPEC, COMPUTED)(obj)
    assert out == EXPECTED
    assert list(out) == list(EXPECTED)  # Ironic clients diff responses; keep the order


def test_serializer_one_field_and_unknown_names() -> None:
    obj = SimpleNamespace(uuid="u1", name="n")
    assert serializer(["name", "nope"], SPEC)(obj) == {"name": "n"}


def test_rows_as_objects() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        result = conn.execute(text("SELECT 'u1' AS uuid, 'n' AS name UNION ALL SELECT 'u2', 'm'"))
        objs = rows_as_objects(result)
    assert [(o.uuid, o.name) for o in objs] == [("u1", "n"), ("u2", "m")]
    assert serializer(["uuid", "name"], SPEC)(objs[1]) == {"uuid": "u2", "name": "m"}


def test_decoded_objects_match_what_sqlalchemy_loads(tmp_path: Any) -> None:
    """Stored JSON and datetime text decodes to the values the typed columns give."""
    table = Table(
        "things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String),
        Column("extra", JSON), Column("created_at", DateTime),
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{tmp_path / 't.sqlite'}", json_deserializer=loads_json)
    table.metadata.create_all(engine)
    rows = [
        {"name": "a", "extra": {"k": [1, "é"]}, "created_at": WHEN},
        {"name": None, "extra": {}, "created_at": WHEN.replace(microsecond=7)},
        {"name": "c", "extra": None, "created_at": None},
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        typed = conn.execute(select(table).order_by(table.c.id)).all()
        objs = decoded_objects(conn.execute(select(*stored_columns(table))), table)
    assert [vars(o) for o in objs] == [dict(r._mapping) for r in typed]
    assert objs[0].extra == {"k": [1, "é"]} and objs[1].created_at == WHEN.replace(microsecond=7)


def test_collector_paused_nests_and_restores() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # still inside the outer pause
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_list_detail_items_equal_show(client: Any) -> None:
    """The list decodes stored text itself (decoded_objects); the show path loads ORM objects.
    Both must give the same fields, order and values."""
    for i in range(3):
        body = {"driver": "fake-hardware", "name": f"same{i}", "properties": {"cpus": i},
                "driver_info": {"ipmi_password": "secret", "ipmi_address": f"10.0.0.{i}"},
                "extra": {"nested": {"k": [i, None, "é"]}}}  # fmt: skip
        assert client.post("/v1/nodes", json=body).status_code == 201
    client.patch("/v1/nodes/same1", json=[{"op": "add", "path": "/maintenance", "value": True}])
    listed = client.get("/v1/nodes/detail").json()["nodes"]
    assert len(listed) == 3
    for item in listed:
        shown = client.get(f"/v1/nodes/{item['uuid']}").json()
        assert list(item) == list(shown)
        assert item == shown
    assert listed[0]["driver_info"]["ipmi_password"] == "******"
    assert listed[0]["created_at"].endswith("+00:00")


def test_stored_columns_for_orjson_write_what_decoding_would(tmp_path: Any) -> None:
    """stored_json_column keeps SQLite's text (a Fragment) and stored_datetime_column parses
    it; json_bytes then writes what the plain path (decoded values, iso) writes."""
    table = Table(
        "things", MetaData(), Column("id", Integer, primary_key=True),
        Column("extra", JSON), Column("created_at", DateTime),
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{tmp_path / 't.sqlite'}", json_deserializer=loads_json)
    table.metadata.create_all(engine)
    rows = [
        {"extra": {"k": [1, "é", None], "n": {"x": 1.5}}, "created_at": WHEN},
        {"extra": None, "created_at": WHEN.replace(microsecond=7)},
        {"extra": {}, "created_at": None},
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        objs = decoded_objects(conn.execute(select(*stored_columns(table))), table)
        stored = conn.execute(select(*stored_columns(table))).all()
    plain = [{"extra": o.extra, "created_at": iso(o.created_at)} for o in objs]
    extra = stored_json_column([r.extra for r in stored])
    created = stored_datetime_column([r.created_at for r in stored])
    fast = [{"extra": e, "created_at": c} for e, c in zip(extra, created, strict=True)]
    assert json.loads(json_bytes(fast)) == json.loads(raw_json_bytes(plain)) == plain
    assert b'"created_at":"2026-01-02T03:04:05+00:00"' in json_bytes(fast)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([{"a": 1}, None, '{"b": 2}'], b'[{"a":1},null,{"b": 2}]'),  # a driver's decoded value
        (["null", "[]"], b"[null,[]]"),
    ],
)
def test_stored_json_column_mixed(values: list[Any], expected: bytes) -> None:
    assert json_bytes(stored_json_column(values)) == expected


def test_stored_datetime_column_keeps_aware_values() -> None:
    aware = WHEN.replace(tzinfo=dt.timezone(dt.timedelta(hours=2)))
    values = stored_datetime_column([aware, None, "2026-01-02 03:04:05.000000"])
    assert json.loads(json_bytes(values)) == [iso(aware), None, iso(WHEN)]
