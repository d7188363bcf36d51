"""The agent's endpoints: ``/v1/lookup``, ``/v1/heartbeat/{node}``,
``/v1/continue_inspection``, and ``/v1/nodes/{node}/inventory``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from ingot.api.context import Ctx, get_ctx, json_body
from ingot.api.normalize import normalize_macs
from ingot.api.routes.node_actions import conductor_of
from ingot.db import models
from ingot.db.queries import get_node
from ingot.errors import InvalidInput, NotFound

router = APIRouter()


@router.get("/v1/lookup")
def lookup(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    addresses = request.query_params.get("addresses", "")
    node_uuid = request.query_params.get("node_uuid") or None
    macs = normalize_macs(addresses)
    if not macs and not node_uuid:
        raise InvalidInput("Lookup needs 'addresses' (comma-separated MACs) or 'node_uuid'.")
    return conductor_of(ctx).lookup(macs, node_uuid)


@router.post("/v1/heartbeat/{ident}", status_code=202)
def heartbeat(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Response:
    args = body if isinstance(body, dict) else {}
    conductor_of(ctx).heartbeat(
        ident,
        args.get("callback_url", ""),
        args.get("agent_version"),
        args.get("agent_token"),
    )
    return Response(status_code=202)


@router.post("/v1/continue_inspection")
def continue_inspection(
    body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("Inspection data must be a JSON object with an 'inventory'.")
    return conductor_of(ctx).continue_inspection(body)


@router.get("/v1/nodes/{ident}/inventory")
def inventory(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node = get_node(session, ident)
        row = session.scalar(
            select(models.NodeInventory).where(models.NodeInventory.node_id == node.id)
        )
        if row is None:
            raise NotFound(f"Node {node.uuid} has no inventory: inspect it first.")
        return {"inventory": row.inventory, "plugin_data": row.plugin_data}
