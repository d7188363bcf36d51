"""``/v1/allocations`` and ``/v1/nodes/{node}/allocation``: Ironic's allocation API.

Unlike Ironic, which hands a new allocation to a conductor and answers ``allocating``, Ingot
matches and claims the node in the request (matching needs only the database): the answer
is already ``active`` or ``error``, and ``last_error`` says for each excluded node why.
Clients that poll until the state leaves ``allocating`` (openstacksdk, metalsmith) simply
stop at once. ``GET /v1/ingot/explain`` gives the same reasons without allocating.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ingot.api.context import Ctx, get_ctx, json_body
from ingot.api.crud import Collection, Computed
from ingot.api.resource import is_uuid_like
from ingot.api.specs import ALLOCATION
from ingot.db import models
from ingot.db.queries import get_by_uuid, get_node, node_uuid_map
from ingot.errors import Conflict, InvalidInput, NotAcceptable, NotFound
from ingot.scheduling import allocator
from ingot.scheduling.capabilities import parse_requested
from ingot.scheduling.matching import Request as MatchRequest

router = APIRouter()

_NAME_RE = re.compile(r"^[A-Za-z0-9\-._~]+$")
_TRAIT_RE = re.compile(r"^[A-Z0-9_]+$")
_STATES = (allocator.ALLOCATING, allocator.ACTIVE, allocator.ERROR)


def _computed(ctx: Ctx, session: Session, objs: list[Any]) -> Computed:
    nodes = node_uuid_map(session, {o.node_id for o in objs if o.node_id})
    return {"node_uuid": lambda a: nodes.get(a.node_id) if a.node_id else None}


def _filters(ctx: Ctx, session: Session, stmt: Select[Any], q: dict[str, str]) -> Select[Any]:
    A = models.Allocation
    if q.get("node"):
        try:
            node_id = get_node(session, q["node"]).id
        except NotFound as exc:
            raise InvalidInput(exc.message) from None
        stmt = stmt.where(A.node_id == node_id)
    if q.get("resource_class"):
        stmt = stmt.where(A.resource_class == q["resource_class"])
    if q.get("state"):
        if q["state"] not in _STATES:
            raise InvalidInput(f"Invalid allocation state {q['state']!r}; use one of {_STATES}.")
        stmt = stmt.where(A.state == q["state"])
    if q.get("owner"):
        if not ctx.has("allocation.owner"):
            raise NotAcceptable("Filtering allocations by owner needs API version 1.60.")
        stmt = stmt.where(A.owner == q["owner"])
    return stmt


def check_name(name: Any) -> None:
    """Allocation names follow node names: host-name characters, never a UUID."""
    if name is None:
        return
    if not isinstance(name, str) or not _NAME_RE.match(name) or is_uuid_like(name):
        raise InvalidInput(
            f"Cannot use {name!r} as an allocation name: use letters, digits and '-._~' only, "
            "and nothing that looks like a UUID."
        )


def check_traits(traits: list[Any]) -> list[str]:
    bad = [t for t in traits if not isinstance(t, str) or not _TRAIT_RE.match(t) or len(t) > 255]
    if bad:
        raise InvalidInput(
            f"Invalid trait(s) {', '.join(repr(t) for t in bad)}: a trait is a standard "
            "os-traits name or CUSTOM_ followed by upper-case letters, digits and underscores."
        )
    return list(dict.fromkeys(traits))


def check_capabilities(caps: dict[str, Any]) -> dict[str, str]:
    bad = [k for k, v in caps.items() if not isinstance(v, str | int | float | bool)]
    if bad:
        raise InvalidInput(
            f"Capability value(s) for {', '.join(bad)} must be strings, e.g. "
            '{"profile": "compute", "boot_mode": "uefi"}.'
        )
    return {str(k): str(v) for k, v in caps.items()}


def _prepare(ctx: Ctx, session: Session, values: dict[str, Any], obj: Any) -> dict[str, Any]:
    """PATCH: only name and extra change (the spec refuses the rest); names stay unique."""
    if "name" in values:
        check_name(values["name"])
        _unique_name(session, values["name"], obj.id if obj else None)
    return values


def _unique_name(session: Session, name: str | None, own_id: int | None) -> None:
    if name is None:
        return
    A = models.Allocation
    if session.scalar(select(A.id).where(A.name == name, A.id != own_id)) is not None:
        raise Conflict(f"An allocation with name {name} already exists.")


ALLOCATIONS = Collection(
    spec=ALLOCATION, model=models.Allocation, path="allocations", feature="allocations",
    computed=_computed, filters=_filters, prepare=_prepare,
)  # fmt: skip


@router.get("/v1/allocations")
def list_allocations(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return ALLOCATIONS.list(ctx, request, detail=True)


@router.get("/v1/allocations/{ident}")
def show(ident: str, fields: str | None = None, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return ALLOCATIONS.show(ctx, ident, fields)


@router.post("/v1/allocations", status_code=201)
def create(body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> JSONResponse:
    """Create an allocation and, unless backfilling, pick and claim a node for it now."""
    ALLOCATIONS.check_feature(ctx)
    if not isinstance(body, dict):
        raise InvalidInput("The body of an allocation create request must be a JSON object.")
    body = dict(body)
    node_ident = body.pop("node", None)
    if node_ident is not None and not ctx.has("allocation_backfill"):
        raise InvalidInput(
            "Cannot set node when creating an allocation in this API version (needs 1.58)."
        )
    values = ALLOCATION.check_create(ctx, body)
    check_name(values.get("name"))
    traits = check_traits(values.get("traits") or [])
    caps = check_capabilities(values.get("capabilities") or {})

    def write(session: Session) -> tuple[int, str, bool]:
        node = None
        if node_ident is not None:
            try:
                node = get_node(session, str(node_ident))
            except NotFound as exc:
                raise InvalidInput(exc.message) from None
        resource_class = values.get("resource_class") or (node.resource_class if node else None)
        if not resource_class and node is None:
            raise InvalidInput("The resource_class field is mandatory when not backfilling.")
        candidates = allocator.resolve_candidates(session, values.get("candidate_nodes") or [])
        ident = values.get("uuid") or (node.instance_uuid if node else None)
        ident = ident or str(uuidlib.uuid4())
        A = models.Allocation
        if session.scalar(select(A.id).where(A.uuid == ident)) is not None:
            raise Conflict(f"An allocation with UUID {ident} already exists.")
        _unique_name(session, values.get("name"), None)
        allocation = A(
            uuid=ident, name=values.get("name"), resource_class=resource_class, traits=traits,
            candidate_nodes=candidates, capabilities=caps, owner=values.get("owner"),
            extra=values.get("extra") or {}, state=allocator.ALLOCATING,
        )  # fmt: skip
        session.add(allocation)
        session.flush()
        if node is not None:
            allocator.backfill(session, allocation, node)
        return allocation.id, allocation.uuid, node is not None

    allocation_id, ident, backfilled = ctx.db.run_write(write)
    if not backfilled:
        allocator.allocate(ctx.db, allocation_id)
    data = ALLOCATIONS.show(ctx, ident, None)
    location = ctx.link("allocations", ident)[0]["href"]
    return JSONResponse(data, status_code=201, headers={"Location": location})


@router.patch("/v1/allocations/{ident}")
def patch(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Any:
    if not ctx.has("allocation_update"):
        raise NotAcceptable("Updating allocations needs API version 1.57 or later.")
    return ALLOCATIONS.patch(ctx, ident, body)


@router.delete("/v1/allocations/{ident}", status_code=204)
def delete(ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    """Delete an allocation, freeing its node (refused while the node is deployed)."""
    ALLOCATIONS.check_feature(ctx)

    def write(session: Session) -> None:
        allocator.deallocate(session, get_by_uuid(session, models.Allocation, ident, "allocation"))

    ctx.db.run_write(write)
    return Response(status_code=204)


def _node_allocation(session: Session, node_ident: str) -> models.Allocation:
    node = get_node(session, node_ident)
    found = session.scalars(
        select(models.Allocation).where(models.Allocation.node_id == node.id)
    ).first()
    if found is None:
        raise NotFound(f"Allocation for node {node_ident} was not found.")
    return found


@router.get("/v1/nodes/{node_ident}/allocation")
def node_allocation(
    node_ident: str, fields: str | None = None, ctx: Ctx = Depends(get_ctx)
) -> dict[str, Any]:
    ALLOCATIONS.check_feature(ctx)
    names = ALLOCATION.select(ctx, fields)
    with ctx.db.read() as session:
        return ALLOCATIONS.view(ctx, session, [_node_allocation(session, node_ident)], names)[0]


@router.delete("/v1/nodes/{node_ident}/allocation", status_code=204)
def delete_node_allocation(node_ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    ALLOCATIONS.check_feature(ctx)
    ctx.db.run_write(lambda s: allocator.deallocate(s, _node_allocation(s, node_ident)))
    return Response(status_code=204)


@router.get("/v1/ingot/explain")
def explain(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    """Ingot extension: which nodes an allocation would match and why the others would not.

    Query: ``resource_class``, ``trait`` (repeatable, or ``traits=A,B``), ``capability``
    (repeatable ``k:v``, or ``capabilities=k:v,k2:v2``), ``candidate_node`` (repeatable),
    ``owner``. Read-only: nothing is allocated.
    """
    q = request.query_params
    traits = [*q.getlist("trait"), *_split(q.get("traits"))]
    caps = parse_requested([*q.getlist("capability"), *_split(q.get("capabilities"))])
    with ctx.db.read() as session:
        wanted = [*q.getlist("candidate_node"), *_split(q.get("candidate_nodes"))]
        candidates = allocator.resolve_candidates(session, wanted)
    match = MatchRequest(
        resource_class=q.get("resource_class") or None,
        traits=tuple(check_traits(traits)),
        capabilities=caps,
        candidate_nodes=tuple(candidates),
        owner=q.get("owner") or None,
    )
    verdicts, message = allocator.explain_request(ctx.db, match)
    return {
        "request": match.describe(),
        "eligible": [v.node.uuid for v in verdicts if v.eligible],
        "message": message,
        "nodes": [
            {
                "uuid": v.node.uuid,
                "name": v.node.name,
                "provision_state": v.node.provision_state,
                "resource_class": v.node.resource_class,
                "eligible": v.eligible,
                "reasons": list(v.reasons),
            }
            for v in verdicts
        ],
    }


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]
