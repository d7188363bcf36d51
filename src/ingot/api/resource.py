"""Field tables for API resources: validation, version hiding and serialisation in one place.

Each resource (node, port, ...) declares its fields once; create bodies, JSON patches,
``fields=`` selection and responses all read that declaration, so the rules cannot drift.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import operator
import re
import threading
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
import pydantic_core
from sqlalchemy import JSON, DateTime, FromClause, Result, String, type_coerce

from ingot.api.context import Ctx
from ingot.db.engine import loads_json
from ingot.errors import InvalidInput, NotAcceptable
from ingot.values import parse_bool

_UNLOADED = object()
_MAC_RE = re.compile(r"^([0-9a-f]{2})([:-]?[0-9a-f]{2}){5}$")


@dataclass(frozen=True)
class Field:
    """One attribute of a resource as the API shows it."""

    name: str
    kind: str = "str"  # str | int | bool | dict | list | uuid | datetime | mac | any
    create: bool = True  # may be given in POST
    patch: bool = True  # may be changed by PATCH
    nullable: bool = True
    feature: str | None = None  # versions.FEATURES key; hidden from older clients
    max_length: int | None = None
    column: bool = True  # False: computed by the resource, not a model attribute
    detail_only: bool = True  # False: also in the short (non-detail) list


@dataclass
class ResourceSpec:
    """The declaration of one resource type."""

    name: str  # singular, e.g. "node"; used in messages
    fields: list[Field]
    sort_keys: frozenset[str] = frozenset()
    by_name: dict[str, Field] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}

    def visible(self, ctx: Ctx) -> list[Field]:
        return [f for f in self.fields if f.feature is None or ctx.has(f.feature)]

    def short_fields(self, ctx: Ctx) -> list[str]:
        return [f.name for f in self.visible(ctx) if not f.detail_only]

    def select(self, ctx: Ctx, requested: str | None, *, detail: bool = True) -> list[str]:
        """The field names to show, honouring ``fields=`` (a 400 for unknown names)."""
        visible = [f.name for f in self.visible(ctx)]
        if requested is None:
            return visible if detail else self.short_fields(ctx)
        if not ctx.has("fields_param"):
            raise NotAcceptable("The 'fields' parameter needs API version 1.8 or later.")
        names = [n.strip() for n in requested.split(",") if n.strip()]
        unknown = [n for n in names if n not in visible]
        if unknown:
            raise InvalidInput(
                f'Field(s) "{", ".join(unknown)}" are not valid for {self.name}. '
                f"Valid fields: {', '.join(sorted(visible))}."
            )
        # Ironic always returns the identifier and links with a field selection.
        if "uuid" in visible and "uuid" not in names:
            names.insert(0, "uuid")
        if "links" in visible and "links" not in names:
            names.append("links")
        return names

    def check_create(self, ctx: Ctx, body: Any) -> dict[str, Any]:
        """Validate a POST body: an object with known, creatable, well-typed fields."""
        if not isinstance(body, dict):
            raise InvalidInput(f"The body of a {self.name} create request must be a JSON object.")
        visible = {f.name for f in self.visible(ctx)}
        out: dict[str, Any] = {}
        for key, value in body.items():
            spec = self.by_name.get(key)
            if spec is None or not spec.create:
                allowed = sorted(f.name for f in self.fields if f.create and f.name in visible)
                raise InvalidInput(
                    f"Schema error for {self.name}: Additional properties are not allowed "
                    f"('{key}' was unexpected). Fields you can set: {', '.join(allowed)}."
                )
            if key not in visible:
                raise NotAcceptable(
                    f"Field '{key}' of {self.name} needs a newer API version; send "
                    "X-OpenStack-Ironic-API-Version: latest."
                )
            out[key] = coerce(self.name, spec, value)
        return out


def coerce(resource: str, spec: Field, value: Any) -> Any:
    """Check and normalise one value; InvalidInput names the field and what it takes."""
    if value is None:
        if spec.nullable or spec.kind in ("dict", "list"):
            return {} if spec.kind == "dict" else [] if spec.kind == "list" else None
        raise InvalidInput(f"Field '{spec.name}' of {resource} can not be null.")
    kind = spec.kind
    if kind == "str":
        if not isinstance(value, str):
            raise _type_error(resource, spec, "a string", value)
        if spec.max_length is not None and len(value) > spec.max_length:
            raise InvalidInput(
                f"Field '{spec.name}' of {resource} is {len(value)} characters long; "
                f"the limit is {spec.max_length}."
            )
        return value
    if kind == "bool":
        return parse_bool(spec.name, value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _type_error(resource, spec, "an integer", value)
        try:
            return int(value)
        except ValueError:
            raise _type_error(resource, spec, "an integer", value) from None
    if kind == "dict":
        if not isinstance(value, dict):
            raise _type_error(resource, spec, "a JSON object", value)
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(resource, spec, "a JSON list", value)
        return value
    if kind == "uuid":
        return check_uuid(spec.name, value)
    if kind == "mac":
        return normalize_mac(value, spec.name)
    return value


def _type_error(resource: str, spec: Field, wanted: str, value: Any) -> InvalidInput:
    return InvalidInput(
        f"Invalid value for field '{spec.name}' of {resource}: expected {wanted}, "
        f"got {type(value).__name__} {value!r}."
    )


def check_uuid(name: str, value: Any) -> str:
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise InvalidInput(
            f"Expected a UUID for {name} but received {value!r}. A UUID looks like "
            "'4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a'."
        ) from None


def is_uuid_like(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def normalize_mac(value: Any, name: str = "address") -> str:
    """Lower-case, colon-separated MAC; a 400 that shows the expected form otherwise."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not _MAC_RE.match(text):
        raise InvalidInput(
            f"Expected a MAC address but received {value!r} for field '{name}'. "
            "Use six hex pairs such as '52:54:00:12:34:56'."
        )
    digits = text.replace(":", "").replace("-", "")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; we only ever store UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def serialize(
    obj: Any,
    names: Iterable[str],
    spec: ResourceSpec,
    computed: Mapping[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """Build the response dict for ``obj`` with the given field names."""
    return serializer(names, spec, computed)(obj)


def serializer(
    names: Iterable[str],
    spec: ResourceSpec,
    computed: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Callable[[Any], dict[str, Any]]:
    """:func:`serialize` with the field lookups done once, for lists.

    Looking each field up per object was a sixth of ``GET /v1/nodes/detail``'s time.
    """
    plan: list[tuple[str, Callable[[Any], Any] | None, bool]] = []
    for name in names:
        f = spec.by_name.get(name)
        if f is None:
            continue
        if not f.column:
            if computed is not None and name in computed:
                plan.append((name, computed[name], False))
            continue
        plan.append((name, None, f.kind == "datetime"))
    order = [name for name, _, _ in plan]
    columns = [name for name, fn, _ in plan if fn is None]
    fns = [(name, fn) for name, fn, _ in plan if fn is not None]
    datetimes = [name for name, _, is_datetime in plan if is_datetime]
    pick = operator.itemgetter(*columns) if len(columns) > 1 else None
    # The field order, to be filled in place: copying a built dict is ten times faster than
    # dict.fromkeys, which grows the table key by key.
    template = dict.fromkeys(order)

    def slow(obj: Any, loaded: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, fn, is_datetime in plan:
            if fn is not None:
                out[name] = fn(obj)
                continue
            value = loaded.get(name, _UNLOADED)
            if value is _UNLOADED:
                value = getattr(obj, name)
            out[name] = iso(value) if is_datetime else value
        return out

    def one(obj: Any) -> dict[str, Any]:
        # Loaded ORM columns (and a row's values, see rows_as_objects) sit in the instance
        # __dict__; reading them there in one C call skips the attribute instrumentation.
        # An expired or unloaded column is missing there: the slow path uses getattr.
        loaded = getattr(obj, "__dict__", {})
        if pick is None:
            return slow(obj, loaded)
        try:
            values = pick(loaded)
        except KeyError:
            return slow(obj, loaded)
        out = template.copy()
        out.update(zip(columns, values, strict=True))
        for name, fn in fns:
            out[name] = fn(obj)
        for name in datetimes:
            out[name] = iso(out[name])
        return out

    return one


def rows_as_objects(result: Result[Any]) -> list[SimpleNamespace]:
    """Core result rows as plain objects with attributes, for :func:`serializer` and the
    computed fields: reading a ``Row`` attribute by name is several times slower than a
    plain object's, and a list reads eighty of them per row."""
    keys = list(result.keys())
    out = []
    for row in result:
        obj = SimpleNamespace()
        obj.__dict__.update(zip(keys, row, strict=True))
        out.append(obj)
    return out


def stored_columns(table: FromClause) -> list[Any]:
    """The table's columns for a Core select, with JSON and datetime columns read as the text
    SQLite stores: :func:`decoded_objects` decodes them in one pass, at a third of the cost
    of SQLAlchemy's per-value result processors. (PostgreSQL's driver decodes them itself.)"""
    return [
        type_coerce(col, String).label(col.name) if isinstance(col.type, JSON | DateTime) else col
        for col in table.columns
    ]


def decoded_objects(result: Result[Any], table: FromClause) -> list[SimpleNamespace]:
    """:func:`rows_as_objects` for a select of :func:`stored_columns`: JSON text becomes
    what ``json.loads`` gives and datetime text a naive datetime, as SQLAlchemy would."""
    keys = list(result.keys())
    json_at = [i for i, k in enumerate(keys) if k in table.c and _is(table, k, JSON)]
    time_at = [i for i, k in enumerate(keys) if k in table.c and _is(table, k, DateTime)]
    from_text = dt.datetime.fromisoformat
    out = []
    for row in result:
        values = list(row)
        for i in json_at:
            value = values[i]
            if value.__class__ is str:
                values[i] = loads_json(value)
        for i in time_at:
            value = values[i]
            if value.__class__ is str:
                values[i] = from_text(value)
        obj = SimpleNamespace()
        obj.__dict__.update(zip(keys, values, strict=True))
        out.append(obj)
    return out


def _is(table: FromClause, key: str, kind: type) -> bool:
    return isinstance(table.c[key].type, kind)


def stored_json_column(values: Sequence[Any]) -> list[Any]:
    """A column of :func:`stored_columns` JSON for :func:`json_bytes`: stored text goes out
    as it is (``orjson.Fragment``), not decoded only to be encoded again. NULL and values
    the driver decoded (PostgreSQL's) are left alone."""
    if set(map(type, values)) == {str}:
        return list(map(orjson.Fragment, values))
    return [orjson.Fragment(v) if v.__class__ is str else v for v in values]


def stored_datetime_column(values: Sequence[Any]) -> list[Any]:
    """A column of :func:`stored_columns` datetimes as datetimes (naive from SQLite's text,
    as SQLAlchemy gives), which :func:`json_bytes` writes as :func:`iso` does."""
    from_text = dt.datetime.fromisoformat
    if set(map(type, values)) == {str}:
        return list(map(from_text, values))
    return [from_text(v) if v.__class__ is str else v for v in values]


def json_bytes(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON, written by orjson: ``orjson.Fragment`` values go out
    as they are, and datetimes as :func:`iso` writes them (naive ones are UTC).

    Raises TypeError where orjson cannot write what ``json.dumps`` can (an integer past
    64 bits); the caller then falls back to plain values and :func:`raw_json_bytes`.
    """
    return orjson.dumps(content, option=orjson.OPT_NAIVE_UTC)


def exact_json_fragment(value: Any, source: str) -> orjson.Fragment:
    """``value`` (decoded from the JSON text ``source``) as a Fragment of what ``json.dumps``
    would write: NaN and Infinity stay as stored (orjson would write null), and so do
    integers past 64 bits (orjson refuses them)."""
    if "NaN" in source or "Infinity" in source:
        return orjson.Fragment(raw_json_bytes(value))
    try:
        return orjson.Fragment(orjson.dumps(value))
    except TypeError:
        return orjson.Fragment(raw_json_bytes(value))


def raw_json_bytes(content: Any) -> bytes:
    """What ``json.dumps(content, separators=(",", ":"), ensure_ascii=False)`` writes, by
    pydantic-core (NaN as NaN): a 2.5 MB list took ``json.dumps`` 20 ms and this 7."""
    return pydantic_core.to_json(content, inf_nan_mode="constants")


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_resume = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a large response is built and encoded.

    A 1,000-node list makes tens of thousands of dicts and lists that all die together once
    the JSON bytes exist; with the collector on, it scanned them a dozen times per request
    and every few requests ran a full collection of the whole heap (80-100 ms). Built
    inside this block and dropped before it ends, they are freed by reference counting and
    the collector never sees them. Nested and concurrent users share one pause; the
    collector is re-enabled only if it was on when the first one began.
    """
    global _gc_pausers, _gc_resume
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_resume:
                gc.enable()
