"""``/v1/nodes``: create, list, show, patch and delete nodes (actions live in node_actions)."""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, Result, delete, func, select
from sqlalchemy.orm import Session

from ingot import states
from ingot.api import jsonpatch
from ingot.api.context import Ctx, get_ctx, json_body
from ingot.api.pagination import apply_page, next_link, page_params
from ingot.api.resource import (
    check_uuid,
    collector_paused,
    decoded_objects,
    exact_json_fragment,
    is_uuid_like,
    json_bytes,
    raw_json_bytes,
    serializer,
    stored_columns,
    stored_datetime_column,
    stored_json_column,
)
from ingot.api.secrets import mask_secrets
from ingot.api.specs import NODE
from ingot.db import models
from ingot.db.engine import loads_json
from ingot.db.history import record
from ingot.db.queries import get_by_uuid, get_node, node_traits
from ingot.drivers.interfaces import KINDS
from ingot.errors import (
    Conflict,
    IngotError,
    InvalidInput,
    InvalidState,
    NodeLocked,
    NotAcceptable,
)
from ingot.values import parse_bool

router = APIRouter()

_NAME_RE = re.compile(r"^[A-Za-z0-9\-._~]+$")
_IFACE_FIELDS = tuple(f"{k}_interface" for k in KINDS)
# States from which a node may be deleted without maintenance mode (Ironic's list).
_DELETE_ALLOWED = (states.MANAGEABLE, states.ENROLL, states.ADOPTFAIL, states.AVAILABLE)
_MASKED = ("driver_info", "instance_info", "driver_internal_info")  # see mask_secrets
# Any key that secrets.is_secret matches has one of these in it (ASCII text).
_SECRET_WORDS = re.compile("password|_key|_secret|_token", re.IGNORECASE)
# JSON strings made of these need no escaping (a UUID, a link's path).
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9./_:~-]*")
_CHUNK = 100  # nodes built and written at a time (see _page_json)
_LINKS = {"links": "", "ports": "/ports", "states": "/states", "portgroups": "/portgroups",
          "volume": "/volume"}  # fmt: skip
_LIST_FILTERS = (
    "chassis_uuid", "instance_uuid", "associated", "maintenance", "retired", "provision_state",
    "driver", "resource_class", "fault", "conductor_group", "owner", "lessee",
    "description_contains", "shard", "sharded", "parent_node", "include_children",
    "instance_name", "conductor", "project",
)  # fmt: skip


def check_name(name: str | None) -> None:
    """Node names are host-name like and never UUIDs, so lookup by either is unambiguous."""
    if name is None:
        return
    if not _NAME_RE.match(name) or is_uuid_like(name):
        raise InvalidInput(
            f"Cannot use {name!r} as a node name: use letters, digits and '-._~' only, "
            "and nothing that looks like a UUID."
        )


def node_view(
    ctx: Ctx, session: Session, nodes: Sequence[Any], names: list[str], *, new: bool = False
) -> list[dict[str, Any]]:
    """Serialise nodes (ORM objects or table rows) with the computed fields, batching the
    lookups they need. ``new``: the nodes were just created, so they have no traits yet."""
    traits, chassis, allocations = _related(
        session,
        names,
        [n.id for n in nodes] if not new else [],
        [n.chassis_id for n in nodes],
        [n.allocation_id for n in nodes],
    )
    owner = _owners(ctx, [n.conductor_group for n in nodes]) if "conductor" in names else None
    base = ctx.base_url

    # ctx.link's pairs, spelled out: a node UUID has no "/" to strip, and 5,000 calls of the
    # general form were a fifth of a 1,000-node detail list.
    def links(n: Any, sub: str = "") -> list[dict[str, str]]:
        path = f"nodes/{n.uuid}{sub}"
        return [
            {"href": f"{base}/v1/{path}", "rel": "self"},
            {"href": f"{base}/{path}", "rel": "bookmark"},
        ]

    computed: dict[str, Callable[[Any], Any]] = {
        "traits": lambda n: traits.get(n.id, []),
        "links": links,
        "conductor": lambda n: owner(n.uuid, n.conductor_group) if owner else None,
        "allocation_uuid": lambda n: allocations.get(n.allocation_id),
        "chassis_uuid": lambda n: chassis.get(n.chassis_id) if n.chassis_id else None,
        "ports": lambda n: links(n, "/ports"),
        "states": lambda n: links(n, "/states"),
        "portgroups": lambda n: links(n, "/portgroups"),
        "volume": lambda n: links(n, "/volume"),
    }
    out = []
    one = serializer(names, NODE, computed)
    masked = [k for k in _MASKED if k in names]
    hide_available = not ctx.has("available_state")
    for node in nodes:
        data = one(node)
        for key in masked:
            data[key] = mask_secrets(data[key])
        if hide_available and data.get("provision_state") == states.AVAILABLE:
            data["provision_state"] = None  # Ironic showed "available" as None before 1.2
        out.append(data)
    return out


def _related(
    session: Session,
    names: list[str],
    ids: list[int],
    chassis_ids: Iterable[int | None],
    allocation_ids: Iterable[int | None],
) -> tuple[dict[int, list[str]], dict[int, str], dict[int, str]]:
    """The traits, chassis UUIDs and allocation UUIDs of a batch of nodes, each queried
    only if ``names`` shows it."""
    traits = node_traits(session, ids) if "traits" in names and ids else {}

    def uuids(field: str, model: Any, keys: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in keys if i} if field in names else set()
        if not wanted:
            return {}
        rows = session.execute(select(model.id, model.uuid).where(model.id.in_(wanted)))
        return {r.id: r.uuid for r in rows}

    return (
        traits,
        uuids("chassis_uuid", models.Chassis, chassis_ids),
        uuids("allocation_uuid", models.Allocation, allocation_ids),
    )


def _owners(ctx: Ctx, groups: Iterable[str | None]) -> Callable[[str, str | None], str | None]:
    """The ``conductor`` of a node (by UUID and conductor group), from one snapshot of the
    hash ring: ``ConductorAPI.owner_of`` without its per-node ring lookup. A group with a
    single live conductor maps every node to it without hashing each UUID (that hashing
    was a tenth of a 1,000-node list)."""
    conductor = ctx.services.conductor
    if conductor is None:
        return lambda uuid, group: None
    try:
        view = conductor.ring.get()
    except IngotError:
        return lambda uuid, group: None
    sole: dict[str | None, str | None] = {}
    for group in set(groups):
        try:
            hosts = view.ring.hosts_for("", (group or "").lower(), replicas=2)
        except IngotError:
            sole[group] = None  # nobody serves the group: owner_of says None
            continue
        if len(hosts) == 1:
            sole[group] = hosts[0]

    def owner(uuid: str, group: str | None) -> str | None:
        if group in sole:
            return sole[group]
        try:
            return view.owner(uuid, group)
        except IngotError:
            return None

    return owner


class _OrjsonRefused(Exception):
    """orjson cannot write a value of the page (an integer past 64 bits)."""


def _page_json(
    ctx: Ctx, session: Session, result: Result[Any], names: list[str]
) -> tuple[orjson.Fragment, list[str]]:
    """:func:`node_view` of a page of :func:`stored_columns` rows, as one JSON array (and the
    page's UUIDs), built and written by orjson :data:`_CHUNK` nodes at a time.

    Each chunk is built column by column (:func:`_list_items`), written, and dropped, so
    the next one reuses its memory: a whole page's dicts at once took the first lists in a
    process thousands of fresh pages (the heap grew to the page's size).
    Raises :class:`_OrjsonRefused` when orjson cannot write a value.
    """
    keys = list(result.keys())
    rows = result.all()
    at = {key: i for i, key in enumerate(keys)}
    uuids = [row[at["uuid"]] for row in rows]
    related = _related(
        session,
        names,
        [row[at["id"]] for row in rows],
        [row[at["chassis_id"]] for row in rows],
        [row[at["allocation_id"]] for row in rows],
    )
    groups = {row[at["conductor_group"]] for row in rows}
    owner = _owners(ctx, groups) if "conductor" in names else None
    parts = []
    for start in range(0, len(rows), _CHUNK):
        items = _list_items(ctx, names, keys, rows[start : start + _CHUNK], related, owner)
        try:
            parts.append(json_bytes(items)[1:-1])
        except TypeError as exc:
            raise _OrjsonRefused(str(exc)) from exc
        del items
    return orjson.Fragment(b"[" + b",".join(parts) + b"]"), uuids


def _list_items(
    ctx: Ctx,
    names: list[str],
    keys: list[str],
    rows: Sequence[Any],
    related: tuple[dict[int, list[str]], dict[int, str], dict[int, str]],
    owner: Callable[[str, str | None], str | None] | None,
) -> list[dict[str, Any]]:
    """:func:`node_view` of some :func:`stored_columns` rows, for :func:`json_bytes`, built
    column by column: each field's values for all the rows in one step, mostly in C (a
    per-node Python pass was three quarters of a 1,000-node detail list's time).

    Stored JSON goes out as its text (``orjson.Fragment``); the secret-bearing columns
    too when no key could be secret (:func:`_stored_secrets`). Links are JSON text.
    """
    if not rows:
        return []
    col = dict(zip(keys, zip(*rows, strict=True), strict=True))
    links = _link_columns(ctx.base_url, col["uuid"], [n for n in names if n in _LINKS])
    table = models.Node.__table__
    hide_available = not ctx.has("available_state")
    columns: list[Sequence[Any]] = []
    for name in names:
        field = NODE.by_name[name]
        if name in links:
            values: Sequence[Any] = links[name]
        elif not field.column:
            values = _computed_column(name, col, related, owner)
        elif name in _MASKED:
            values = list(map(_stored_secrets, col[name]))
        elif isinstance(table.c[name].type, JSON):
            values = stored_json_column(col[name])
        elif field.kind == "datetime":
            values = stored_datetime_column(col[name])
        elif name == "provision_state" and hide_available:
            # Ironic showed "available" as None before 1.2
            values = [None if s == states.AVAILABLE else s for s in col[name]]
        else:
            values = col[name]
        columns.append(values)
    return [dict(zip(names, node, strict=True)) for node in zip(*columns, strict=True)]


def _computed_column(
    name: str,
    col: Mapping[str, Sequence[Any]],
    related: tuple[dict[int, list[str]], dict[int, str], dict[int, str]],
    owner: Callable[[str, str | None], str | None] | None,
) -> list[Any]:
    """A computed field's values (:func:`_list_items`); as :func:`node_view`."""
    traits, chassis, allocations = related
    if name == "traits":
        return [traits.get(i, []) for i in col["id"]]
    if name == "conductor" and owner is not None:
        return list(map(owner, col["uuid"], col["conductor_group"]))
    if name == "allocation_uuid":
        return list(map(allocations.get, col["allocation_id"]))
    if name == "chassis_uuid":
        return [chassis.get(i) if i else None for i in col["chassis_id"]]
    raise AssertionError(f"node field {name!r} has no computed column")


def _link_columns(
    base: str, uuids: Sequence[str], fields: list[str]
) -> dict[str, list[orjson.Fragment]]:
    """The link fields' values for a page: each node's pair (``ctx.link``'s, spelled out)
    as JSON text."""
    quoted = orjson.dumps(base).decode()[1:-1]
    if not _PLAIN_TEXT.fullmatch("".join(uuids)):  # nothing to escape, as in a UUID
        uuids = [orjson.dumps(u).decode()[1:-1] for u in uuids]
    out = {}
    for name in fields:
        sub = _LINKS[name]
        head = f'[{{"href":"{quoted}/v1/nodes/'
        middle = f'{sub}","rel":"self"}},{{"href":"{quoted}/nodes/'
        tail = f'{sub}","rel":"bookmark"}}]'
        out[name] = list(map(orjson.Fragment, [head + u + middle + u + tail for u in uuids]))
    return out


def _stored_secrets(value: Any) -> Any:
    """A stored ``driver_info``-like value for :func:`_list_items`, masked as
    :func:`mask_secrets` does.

    Most have no key that could be secret: their text goes out as stored (a Fragment).
    Text that might (a secret-like word anywhere, or an escape that could spell one) is
    decoded, masked and written as ``json.dumps`` would (:func:`exact_json_fragment`).
    Values the driver decoded (PostgreSQL's) are masked as they are.
    """
    if value.__class__ is not str:
        return mask_secrets(value)
    plain = value[:1] == "{" and value.isascii() and "\\" not in value
    if plain and not _SECRET_WORDS.search(value):
        return orjson.Fragment(value)
    return exact_json_fragment(mask_secrets(loads_json(value)), value)


def _apply_filters(ctx: Ctx, session: Session, stmt: Any, query: dict[str, Any]) -> Any:
    N = models.Node
    q = {k: v for k, v in query.items() if v is not None}
    if "chassis_uuid" in q:
        chassis = get_by_uuid(session, models.Chassis, q["chassis_uuid"], "chassis")
        stmt = stmt.where(N.chassis_id == chassis.id)
    if "instance_uuid" in q:
        stmt = stmt.where(N.instance_uuid == check_uuid("instance_uuid", q["instance_uuid"]))
    if "associated" in q:
        assoc = parse_bool("associated", q["associated"])
        stmt = stmt.where(N.instance_uuid.is_not(None) if assoc else N.instance_uuid.is_(None))
    for flag in ("maintenance", "retired"):
        if flag in q:
            stmt = stmt.where(getattr(N, flag) == parse_bool(flag, q[flag]))
    if "provision_state" in q:
        if q["provision_state"] not in states.ALL_STATES:
            raise InvalidInput(
                f"Invalid provision state {q['provision_state']!r}. Valid states: "
                + ", ".join(sorted(states.ALL_STATES))
            )
        stmt = stmt.where(N.provision_state == q["provision_state"])
    for column in ("driver", "resource_class", "fault", "owner", "lessee", "shard",
                   "parent_node", "instance_name"):  # fmt: skip
        if column in q:
            stmt = stmt.where(getattr(N, column) == q[column])
    if "conductor_group" in q:
        stmt = stmt.where(func.lower(N.conductor_group) == q["conductor_group"].lower())
    if "project" in q:
        stmt = stmt.where((N.owner == q["project"]) | (N.lessee == q["project"]))
    if "description_contains" in q:
        stmt = stmt.where(N.description.contains(q["description_contains"]))
    if "sharded" in q:
        sharded = parse_bool("sharded", q["sharded"])
        stmt = stmt.where(N.shard.is_not(None) if sharded else N.shard.is_(None))
    if "parent_node" not in q and not parse_bool(
        "include_children", q.get("include_children", "false")
    ):
        stmt = stmt.where(N.parent_node.is_(None))
    if "conductor" in q and ctx.services.conductor is not None:
        owned = ctx.services.conductor.nodes_owned_by(session, q["conductor"])
        stmt = stmt.where(N.id.in_(owned))
    return stmt


def list_nodes(
    ctx: Ctx,
    request: Request,
    *,
    detail: bool,
    path: str,
    where: Any = None,
    for_orjson: bool = False,
) -> dict[str, Any]:
    """One page of nodes. ``for_orjson``: for :func:`json_bytes` (:func:`_list_items`)."""
    params = dict(request.query_params)
    detail_q = params.pop("detail", None)
    if detail_q is not None:
        if not ctx.has("detail_param"):
            raise NotAcceptable("The 'detail' parameter needs API version 1.43 or later.")
        if path.endswith("/detail"):
            raise InvalidInput("The 'detail' parameter can not be used with /nodes/detail.")
        detail = parse_bool("detail", detail_q)
    fields = params.get("fields")
    if fields is not None and detail:
        raise InvalidInput("The 'fields' parameter can not be used together with detail.")
    names = NODE.select(ctx, fields, detail=detail)
    page = page_params(
        ctx, params.get("limit"), params.get("marker"), params.get("sort_key"),
        params.get("sort_dir"), sorted(NODE.sort_keys),
    )  # fmt: skip
    filters = {k: params.get(k) for k in _LIST_FILTERS}
    with ctx.db.read() as session:
        # Plain rows, not ORM objects: building a thousand Node instances was half the time
        # of GET /v1/nodes/detail, and the view only reads attributes (decoded_objects).
        table = models.Node.__table__
        stmt: Any = select(*stored_columns(table))
        if where is not None:
            stmt = stmt.where(where)
        stmt = _apply_filters(ctx, session, stmt, filters)
        stmt = apply_page(session, stmt, models.Node, page, "node")
        # Core rows (the ORM's loading copied each of the 80 columns in Python).
        result = session.connection().execute(stmt)
        nodes: Any
        if for_orjson:
            nodes, uuids = _page_json(ctx, session, result, names)
            # next_link reads only the page's length and its last item's UUID.
            items = [{"uuid": uuids[-1]}] * len(uuids) if uuids else []
        else:
            items = nodes = node_view(ctx, session, decoded_objects(result, table), names)
    body: dict[str, Any] = {"nodes": nodes}
    query = {**filters, "fields": ",".join(names) if fields else None}
    link = next_link(ctx, path, items, page, query)
    if link:
        body["next"] = link
    return body


@router.get("/v1/nodes")
def get_nodes(request: Request, ctx: Ctx = Depends(get_ctx)) -> Response:
    return _list_response(ctx, request, detail=False, path="nodes")


@router.get("/v1/nodes/detail")
def get_nodes_detail(request: Request, ctx: Ctx = Depends(get_ctx)) -> Response:
    return _list_response(ctx, request, detail=True, path="nodes/detail")


def _list_response(ctx: Ctx, request: Request, *, detail: bool, path: str) -> Response:
    """A node list written by orjson, with the stored JSON columns passed through as text;
    the same JSON as ``context.raw_json`` would write from plain values (NaN as NaN), which
    is the fallback when orjson cannot write a value (an integer past 64 bits)."""
    with collector_paused():  # the list's objects die by refcount once the bytes exist
        try:
            body = json_bytes(list_nodes(ctx, request, detail=detail, path=path, for_orjson=True))
        except _OrjsonRefused:
            body = raw_json_bytes(list_nodes(ctx, request, detail=detail, path=path))
    return Response(body, media_type="application/json")


@router.get("/v1/nodes/{ident}")
def get_one(ident: str, fields: str | None = None, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    names = NODE.select(ctx, fields)
    with ctx.db.read() as session:
        node = get_node(session, ident)
        return node_view(ctx, session, [node], names)[0]


def translate_retired_driver(values: dict[str, Any]) -> str | None:
    """Accept Ironic's retired classic driver names (``pxe_ipmitool``, ``fake_pxe``...) the
    seeds' ``ironic node-create -d pxe_ipmitool`` still uses: map them to today's hardware type
    and the interfaces they implied (explicit interfaces win), and say so in the history."""
    from ingot.inventory.driver_names import lookup_driver

    meaning = lookup_driver(str(values["driver"]))
    if meaning is None or not meaning.is_legacy:
        return None
    values["driver"] = meaning.hardware_type
    for field, name in meaning.interfaces.items():
        values.setdefault(field, name)
    return meaning.note()


def _check_interfaces(ctx: Ctx, driver: str, values: dict[str, Any]) -> None:
    for field in _IFACE_FIELDS:
        name = values.get(field)
        if name is not None:
            ctx.services.drivers.check_interface(driver, field.removesuffix("_interface"), name)


def _fill_interfaces(ctx: Ctx, node: models.Node, reset: bool) -> None:
    hw = ctx.services.drivers.hardware_type(node.driver)
    for kind in KINDS:
        field = f"{kind}_interface"
        current = getattr(node, field)
        if current is None or (reset and current not in hw.interfaces[kind]):
            setattr(node, field, hw.default(kind))


def _unique_checks(session: Session, node: models.Node) -> None:
    # no_autoflush: a pending rename would otherwise be flushed by these very queries and
    # hit the UNIQUE constraint as a 500 before we could answer with a 409.
    with session.no_autoflush:
        _check_unique(session, node)


def _check_unique(session: Session, node: models.Node) -> None:
    N = models.Node
    if node.name is not None:
        clash = session.scalar(select(N.id).where(N.name == node.name, N.id != node.id))
        if clash is not None:
            raise Conflict(f"A node with name {node.name} already exists.")
    if node.instance_uuid is not None:
        holder = session.scalar(
            select(N.uuid).where(N.instance_uuid == node.instance_uuid, N.id != node.id)
        )
        if holder is not None:
            raise Conflict(
                f"Instance {node.instance_uuid} is already associated with a node {holder}."
            )


def _check_new_unique(session: Session, node: models.Node) -> None:
    """:func:`_check_unique` for a node not yet added: its UUID and name in one query."""
    N = models.Node
    taken = N.uuid == node.uuid
    if node.name is not None:
        taken = taken | (N.name == node.name)
    clashes = session.execute(select(N.uuid).where(taken).limit(2)).scalars().all()
    if node.uuid in clashes:
        raise Conflict(f"A node with UUID {node.uuid} already exists.")
    if clashes:
        raise Conflict(f"A node with name {node.name} already exists.")
    if node.instance_uuid is not None:
        _check_unique(session, node)


def _resolve_chassis(session: Session, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return get_by_uuid(session, models.Chassis, check_uuid("chassis_uuid", value), "chassis").id
    except Exception as exc:
        raise InvalidInput(f"Chassis {value} could not be found; create it first.") from exc


def _resolve_parent(session: Session, value: str | None) -> str | None:
    if value is None:
        return None
    return get_node(session, value).uuid


@router.post("/v1/nodes", status_code=201)
def create(body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> JSONResponse:
    values = NODE.check_create(ctx, body)
    if "driver" not in values:
        raise InvalidInput("Schema error for node: 'driver' is a required property.")
    note = translate_retired_driver(values)
    drivers = ctx.services.drivers
    drivers.hardware_type(values["driver"])
    _check_interfaces(ctx, values["driver"], values)
    check_name(values.get("name"))
    settings = ctx.services.settings

    def write(session: Session) -> dict[str, Any]:
        chassis_id = _resolve_chassis(session, values.pop("chassis_uuid", None))
        values["parent_node"] = _resolve_parent(session, values.get("parent_node"))
        node = models.Node(
            uuid=values.pop("uuid", None) or str(uuidlib.uuid4()),
            chassis_id=chassis_id,
            provision_state=states.ENROLL if ctx.has("enroll_state") else states.AVAILABLE,
            power_state=None,
            driver_info={},
            driver_internal_info={},
            properties={},
            instance_info={},
            extra={},
            network_data={},
            clean_step={},
            deploy_step={},
            service_step={},
            raid_config={},
            target_raid_config={},
            conductor_group="",
            maintenance=False,
            protected=False,
            retired=False,
            console_enabled=False,
            disable_power_off=False,
        )
        for key, value in values.items():
            setattr(node, key, value)
        if node.resource_class is None:
            node.resource_class = settings.default.default_resource_class
        node.conductor_group = (node.conductor_group or "").lower()
        _check_new_unique(session, node)
        _fill_interfaces(ctx, node, reset=False)
        session.add(node)
        session.flush()
        created = "Node created" + (f"; {note}" if note else "")
        record(session, node, created, event_type="create", conductor=settings.default.host)
        return node_view(ctx, session, [node], NODE.select(ctx, None), new=True)[0]

    data = ctx.db.run_write(write)
    return JSONResponse(
        data, status_code=201, headers={"Location": ctx.link("nodes", data["uuid"])[0]["href"]}
    )


def _patch_doc(ctx: Ctx, session: Session, node: models.Node) -> dict[str, Any]:
    names = [f.name for f in NODE.visible(ctx) if f.patch]
    doc = node_view(ctx, session, [node], names)[0]
    # Patch the stored secrets, not the masked view, so unrelated keys keep their values.
    doc["driver_info"] = dict(node.driver_info)
    doc["instance_info"] = dict(node.instance_info)
    return doc


def _check_patch_paths(ctx: Ctx, patch: list[dict[str, Any]]) -> None:
    visible = {f.name: f for f in NODE.visible(ctx)}
    for op in jsonpatch.validate(patch):
        for key in ("path", "from"):
            if key not in op:
                continue
            root = str(op[key]).lstrip("/").split("/")[0]
            field = NODE.by_name.get(root)
            if field is None:
                raise InvalidInput(
                    f"Adding a new attribute (/{root}) to the root of the resource is not "
                    "allowed. Custom data goes under /extra, e.g. /extra/" + root + "."
                )
            if root not in visible:
                raise NotAcceptable(
                    f"Field /{root} needs a newer API version; send "
                    "X-OpenStack-Ironic-API-Version: latest."
                )
            if not field.patch:
                raise InvalidInput(
                    f"'/{root}' is an internal attribute and can not be updated."
                    + (
                        " Use the node's states or maintenance endpoints."
                        if "state" in root
                        else ""
                    )
                )


@router.patch("/v1/nodes/{ident}")
def update(
    ident: str, reset_interfaces: str | None = None, body: Any = Depends(json_body),
    ctx: Ctx = Depends(get_ctx),
) -> dict[str, Any]:  # fmt: skip
    _check_patch_paths(ctx, body)
    reset = parse_bool("reset_interfaces", reset_interfaces) if reset_interfaces else False

    def write(session: Session) -> dict[str, Any]:
        node = get_node(session, ident)
        if node.reservation is not None:
            raise NodeLocked(node.uuid, node.reservation)
        before = _patch_doc(ctx, session, node)
        after = jsonpatch.apply(before, body)
        changed = jsonpatch.changed_fields(before, after)
        for key in list(changed):
            spec = NODE.by_name[key]
            from ingot.api.resource import coerce

            changed[key] = coerce("node", spec, changed[key])
        _apply_node_changes(ctx, session, node, changed, reset)
        session.flush()
        return node_view(ctx, session, [node], NODE.select(ctx, None))[0]

    return ctx.db.run_write(write)


def _apply_node_changes(
    ctx: Ctx, session: Session, node: models.Node, changed: dict[str, Any], reset: bool
) -> None:
    state = node.provision_state
    if state not in states.STABLE_STATES and state not in states.UPDATE_ALLOWED_STATES:
        raise Conflict(
            f"Node {node.uuid} can not be updated while a state transition is in progress "
            f'(state "{state}"). Wait for it to finish, or abort it.'
        )
    driver_change = any(f in changed for f in ("driver", "resource_class", *_IFACE_FIELDS))
    if (
        driver_change
        and state not in states.INTERFACE_UPDATE_ALLOWED_STATES
        and not node.maintenance
    ):
        allowed = ", ".join(sorted(states.INTERFACE_UPDATE_ALLOWED_STATES))
        raise Conflict(
            f"Node {node.uuid} can not have its driver, interfaces or resource_class changed "
            f'in state "{state}". Allowed in: {allowed}, or with the node in maintenance.'
        )
    if "driver" in changed:
        ctx.services.drivers.hardware_type(changed["driver"])
    if "name" in changed:
        check_name(changed["name"])
    if "chassis_uuid" in changed:
        node.chassis_id = _resolve_chassis(session, changed.pop("chassis_uuid"))
    if "parent_node" in changed:
        changed["parent_node"] = _resolve_parent(session, changed["parent_node"])
    if "conductor_group" in changed:
        changed["conductor_group"] = (changed["conductor_group"] or "").lower()
    if changed.get("maintenance") is False:
        changed.setdefault("maintenance_reason", None)
    if "protected" in changed and not changed["protected"]:
        changed.setdefault("protected_reason", None)
    if changed.get("protected_reason") and not changed.get("protected", node.protected):
        raise InvalidInput("Cannot set protected_reason on a node that is not protected.")
    if "protected" in changed and node.provision_state != states.ACTIVE and changed["protected"]:
        raise InvalidState(
            f'Node {node.uuid} can only be protected in state active, not "{node.provision_state}".'
        )
    if "instance_uuid" in changed and changed["instance_uuid"] and node.instance_uuid:
        raise Conflict(
            f"Node {node.uuid} is already associated with instance {node.instance_uuid}; "
            "remove it first."
        )
    for key, value in changed.items():
        setattr(node, key, value)
    if "driver" in changed or any(f in changed for f in _IFACE_FIELDS):
        _check_interfaces(
            ctx, node.driver, {f: getattr(node, f) for f in _IFACE_FIELDS if f in changed}
        )
        _fill_interfaces(ctx, node, reset=reset or "driver" in changed)
    _unique_checks(session, node)


@router.delete("/v1/nodes/{ident}", status_code=204)
def remove(ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    def write(session: Session) -> None:
        node = get_node(session, ident)
        if node.reservation is not None:
            raise NodeLocked(node.uuid, node.reservation)
        if node.protected:
            raise InvalidState(
                f"Node {node.uuid} is protected and cannot be undeployed, rebuilt or deleted. "
                "Unset protected first."
            )
        if node.provision_state not in _DELETE_ALLOWED and not node.maintenance:
            allowed = ", ".join(f"'{s}'" for s in _DELETE_ALLOWED)
            raise Conflict(
                f'Can not delete node "{node.uuid}" while it is in provision state '
                f'"{node.provision_state}". Valid provision states to perform deletion are: '
                f'"({allowed})", or set the node into maintenance mode'
            )
        for model in (models.Port, models.Portgroup, models.VolumeConnector, models.VolumeTarget):
            session.execute(delete(model).where(model.node_id == node.id))
        session.execute(delete(models.NodeTrait).where(models.NodeTrait.node_id == node.id))
        session.execute(delete(models.NodeHistory).where(models.NodeHistory.node_id == node.id))
        session.delete(node)

    ctx.db.run_write(write)
    return Response(status_code=204)
