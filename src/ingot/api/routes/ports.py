"""``/v1/ports`` and ``/v1/portgroups``: the NICs of a node and their bonds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ingot.api.context import Ctx, get_ctx
from ingot.api.crud import Collection, Computed
from ingot.api.resource import normalize_mac
from ingot.api.specs import PORT, PORTGROUP
from ingot.db import models
from ingot.db.queries import get_by_uuid, get_node, is_uuid, node_uuid_map
from ingot.errors import Conflict, InvalidInput


def _node_id(session: Session, ident: Any, what: str) -> int:
    # The id alone: loading the whole node (eighty columns, a dozen JSON) was a fifth of a
    # port create.
    text = str(ident)
    column = models.Node.uuid if is_uuid(text) else models.Node.name
    node_id = session.scalar(select(models.Node.id).where(column == text))
    if node_id is None:
        raise InvalidInput(f"Node {ident} could not be found; create the node before its {what}.")
    return int(node_id)


def _check_mac(session: Session, model: Any, address: str | None, own_id: int | None) -> None:
    if address is None:
        return
    clash = session.scalar(select(model.id).where(model.address == address, model.id != own_id))
    if clash is not None:
        kind = "port" if model is models.Port else "port group"
        raise Conflict(f"A {kind} with MAC address {address} already exists.")


def _port_prepare(ctx: Ctx, session: Session, values: dict[str, Any], port: Any) -> dict[str, Any]:
    out = dict(values)
    if "node" in out:  # API 1.94 accepts a node name or UUID under "node"
        out["node_uuid"] = out.pop("node")
    if "node_uuid" in out:
        out["node_id"] = _node_id(session, out.pop("node_uuid"), "ports")
    elif port is None:
        raise InvalidInput("Schema error for port: 'node_uuid' is a required property.")
    if "address" in out:
        out["address"] = normalize_mac(out["address"])
        _check_mac(session, models.Port, out["address"], port.id if port else None)
    if "portgroup_uuid" in out:
        pg_ident = out.pop("portgroup_uuid")
        out["portgroup_id"] = None
        if pg_ident is not None:
            pg = get_by_uuid(session, models.Portgroup, pg_ident, "portgroup")
            node_id = out.get("node_id", port.node_id if port else None)
            if pg.node_id != node_id:
                raise InvalidInput(
                    f"Port group {pg.uuid} belongs to another node; a port can only join a "
                    "port group of its own node."
                )
            out["portgroup_id"] = pg.id
    if port is None:
        out.setdefault("pxe_enabled", True)
        out.setdefault("is_smartnic", False)
        for key in ("extra", "internal_info", "local_link_connection"):
            out.setdefault(key, {})
    return out


def _port_computed(ctx: Ctx, session: Session, ports: list[Any]) -> Computed:
    nodes = node_uuid_map(session, {p.node_id for p in ports})
    pg_ids = {p.portgroup_id for p in ports if p.portgroup_id}
    pgs: dict[int, str] = {}
    if pg_ids:
        rows = session.execute(
            select(models.Portgroup.id, models.Portgroup.uuid).where(
                models.Portgroup.id.in_(pg_ids)
            )
        )
        pgs = {r.id: r.uuid for r in rows}
    return {
        "node_uuid": lambda p: nodes.get(p.node_id),
        "portgroup_uuid": lambda p: pgs.get(p.portgroup_id) if p.portgroup_id else None,
        "available_for_dynamic_portgroup": lambda p: True,
    }


def _port_filters(ctx: Ctx, session: Session, stmt: Select[Any], q: dict[str, str]) -> Select[Any]:
    node = q.get("node") or q.get("node_uuid")
    if node:
        stmt = stmt.where(models.Port.node_id == get_node(session, node).id)
    if q.get("address"):
        stmt = stmt.where(models.Port.address == normalize_mac(q["address"]))
    if q.get("portgroup"):
        pg = get_by_uuid(session, models.Portgroup, q["portgroup"], "portgroup")
        stmt = stmt.where(models.Port.portgroup_id == pg.id)
    if q.get("shard"):
        shards = [s.strip() for s in q["shard"].split(",")]
        stmt = stmt.where(
            models.Port.node_id.in_(select(models.Node.id).where(models.Node.shard.in_(shards)))
        )
    return stmt


PORTS = Collection(
    spec=PORT, model=models.Port, path="ports", computed=_port_computed,
    prepare=_port_prepare, filters=_port_filters, required=("address",),
)  # fmt: skip


def _pg_prepare(ctx: Ctx, session: Session, values: dict[str, Any], pg: Any) -> dict[str, Any]:
    out = dict(values)
    if "node_uuid" in out:
        out["node_id"] = _node_id(session, out.pop("node_uuid"), "port groups")
    elif pg is None:
        raise InvalidInput("Schema error for portgroup: 'node_uuid' is a required property.")
    if out.get("address") is not None:
        _check_mac(session, models.Portgroup, out["address"], pg.id if pg else None)
    if "name" in out and out["name"] is not None:
        node_id = out.get("node_id", pg.node_id if pg else None)
        clash = session.scalar(
            select(models.Portgroup.id).where(
                models.Portgroup.name == out["name"],
                models.Portgroup.node_id == node_id,
                models.Portgroup.id != (pg.id if pg else None),
            )
        )
        if clash is not None:
            raise Conflict(f"A port group with name {out['name']} already exists on this node.")
    if pg is None:
        out.setdefault("standalone_ports_supported", True)
        for key in ("extra", "internal_info", "properties"):
            out.setdefault(key, {})
    return out


def _pg_computed(ctx: Ctx, session: Session, pgs: list[Any]) -> Computed:
    nodes = node_uuid_map(session, {p.node_id for p in pgs})
    return {
        "node_uuid": lambda p: nodes.get(p.node_id),
        "ports": lambda p: ctx.link("portgroups", p.uuid, "ports"),
    }


def _pg_filters(ctx: Ctx, session: Session, stmt: Select[Any], q: dict[str, str]) -> Select[Any]:
    node = q.get("node")
    if node:
        stmt = stmt.where(models.Portgroup.node_id == get_node(session, node).id)
    if q.get("address"):
        stmt = stmt.where(models.Portgroup.address == normalize_mac(q["address"]))
    return stmt


def _pg_before_delete(ctx: Ctx, session: Session, pg: Any) -> None:
    count = session.scalar(select(models.Port.id).where(models.Port.portgroup_id == pg.id))
    if count is not None:
        raise Conflict(
            f"Port group {pg.uuid} still has ports; remove them from it before deleting it."
        )


PORTGROUPS = Collection(
    spec=PORTGROUP, model=models.Portgroup, path="portgroups", feature="portgroups",
    computed=_pg_computed, prepare=_pg_prepare, filters=_pg_filters,
    before_delete=_pg_before_delete,
)  # fmt: skip

router = APIRouter()


@router.get("/v1/nodes/{ident}/ports")
def node_ports(ident: str, request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node_id = get_node(session, ident).id
    base = select(models.Port).where(models.Port.node_id == node_id)
    return PORTS.list(ctx, request, detail=False, base=base, path=f"nodes/{ident}/ports")


@router.get("/v1/nodes/{ident}/ports/detail")
def node_ports_detail(ident: str, request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node_id = get_node(session, ident).id
    base = select(models.Port).where(models.Port.node_id == node_id)
    return PORTS.list(ctx, request, detail=True, base=base, path=f"nodes/{ident}/ports/detail")


@router.get("/v1/nodes/{ident}/portgroups")
def node_portgroups(ident: str, request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node_id = get_node(session, ident).id
    base = select(models.Portgroup).where(models.Portgroup.node_id == node_id)
    return PORTGROUPS.list(ctx, request, detail=False, base=base, path=f"nodes/{ident}/portgroups")


@router.get("/v1/portgroups/{ident}/ports")
def portgroup_ports(ident: str, request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        pg_id = get_by_uuid(session, models.Portgroup, ident, "portgroup").id
    base = select(models.Port).where(models.Port.portgroup_id == pg_id)
    return PORTS.list(ctx, request, detail=False, base=base, path=f"portgroups/{ident}/ports")
