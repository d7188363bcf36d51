"""Chassis, volume connectors and targets, deploy templates and runbooks."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ingot.api.context import Ctx, get_ctx
from ingot.api.crud import Collection, Computed
from ingot.api.specs import CHASSIS, DEPLOY_TEMPLATE, RUNBOOK, VOLUME_CONNECTOR, VOLUME_TARGET
from ingot.db import models
from ingot.db.queries import get_node, node_uuid_map
from ingot.errors import Conflict, InvalidInput, NotFound

router = APIRouter()


# --- chassis -----------------------------------------------------------------------------


def _chassis_computed(ctx: Ctx, session: Session, objs: list[Any]) -> Computed:
    return {"nodes": lambda c: ctx.link("chassis", c.uuid, "nodes")}


def _chassis_before_delete(ctx: Ctx, session: Session, chassis: Any) -> None:
    if session.scalar(select(models.Node.id).where(models.Node.chassis_id == chassis.id)):
        raise Conflict(f"Chassis {chassis.uuid} contains nodes; move or delete them first.")


def _defaults(*keys: str) -> Any:
    def prepare(ctx: Ctx, session: Session, values: dict[str, Any], obj: Any) -> dict[str, Any]:
        out = dict(values)
        if obj is None:
            for key in keys:
                out.setdefault(key, {})
        return out

    return prepare


CHASSIS_COLLECTION = Collection(
    spec=CHASSIS, model=models.Chassis, path="chassis", computed=_chassis_computed,
    prepare=_defaults("extra"), before_delete=_chassis_before_delete,
)  # fmt: skip


@router.get("/v1/chassis/{ident}/nodes")
def chassis_nodes(ident: str, request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    from ingot.api.routes.nodes import list_nodes
    from ingot.db.queries import get_by_uuid

    with ctx.db.read() as session:
        chassis_id = get_by_uuid(session, models.Chassis, ident, "chassis").id
    return list_nodes(
        ctx,
        request,
        detail=False,
        path=f"chassis/{ident}/nodes",
        where=models.Node.chassis_id == chassis_id,
    )


# --- volume ------------------------------------------------------------------------------

_CONNECTOR_TYPES = ("iqn", "ip", "mac", "wwnn", "wwpn", "port", "portgroup")


def _volume_prepare(kind: str) -> Any:
    def prepare(ctx: Ctx, session: Session, values: dict[str, Any], obj: Any) -> dict[str, Any]:
        out = dict(values)
        if "node_uuid" in out:
            try:
                out["node_id"] = get_node(session, str(out.pop("node_uuid"))).id
            except NotFound:
                raise InvalidInput(f"Node {values['node_uuid']} could not be found.") from None
        elif obj is None:
            raise InvalidInput(f"Schema error for volume {kind}: 'node_uuid' is required.")
        if obj is None:
            out.setdefault("extra", {})
        model: Any = models.VolumeConnector if kind == "connector" else models.VolumeTarget
        merged = {c: out.get(c, getattr(obj, c, None)) for c in ("type", "connector_id",
                  "node_id", "boot_index", "volume_type", "volume_id")}  # fmt: skip
        own = obj.id if obj else None
        if kind == "connector":
            if merged["type"] not in _CONNECTOR_TYPES:
                raise InvalidInput(
                    f"Invalid volume connector type {merged['type']!r}; use one of "
                    + ", ".join(_CONNECTOR_TYPES)
                )
            clash = select(model.id).where(
                model.type == merged["type"], model.connector_id == merged["connector_id"],
                model.id != own,
            )  # fmt: skip
            what = f"connector {merged['type']}:{merged['connector_id']}"
        else:
            out.setdefault("properties", {}) if obj is None else None
            clash = select(model.id).where(
                model.node_id == merged["node_id"], model.boot_index == merged["boot_index"],
                model.id != own,
            )  # fmt: skip
            what = f"target with boot index {merged['boot_index']} on this node"
        if session.scalar(clash) is not None:
            raise Conflict(f"A volume {what} already exists.")
        return out

    return prepare


def _node_uuid_computed(ctx: Ctx, session: Session, objs: list[Any]) -> Computed:
    nodes = node_uuid_map(session, {o.node_id for o in objs})
    return {"node_uuid": lambda o: nodes.get(o.node_id)}


def _node_filter(ctx: Ctx, session: Session, stmt: Select[Any], q: dict[str, str]) -> Select[Any]:
    if q.get("node"):
        model = stmt.column_descriptions[0]["entity"]
        stmt = stmt.where(model.node_id == get_node(session, q["node"]).id)
    return stmt


CONNECTORS = Collection(
    spec=VOLUME_CONNECTOR, model=models.VolumeConnector, path="volume/connectors",
    feature="volume", computed=_node_uuid_computed, prepare=_volume_prepare("connector"),
    filters=_node_filter, required=("type", "connector_id"),
)  # fmt: skip
TARGETS = Collection(
    spec=VOLUME_TARGET, model=models.VolumeTarget, path="volume/targets",
    feature="volume", computed=_node_uuid_computed, prepare=_volume_prepare("target"),
    filters=_node_filter, required=("volume_type", "boot_index", "volume_id"),
)  # fmt: skip


@router.get("/v1/volume")
def volume_root(ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    if not ctx.has("volume"):
        raise NotFound("The volume API needs API version 1.32 or later.")
    return {
        "links": ctx.link("volume/"),
        "connectors": ctx.link("volume/connectors"),
        "targets": ctx.link("volume/targets"),
    }


# --- deploy templates and runbooks ---------------------------------------------------------

_TRAIT_RE = re.compile(r"^CUSTOM_[A-Z0-9_]+$")
_STEP_KEYS = {"interface", "step", "args", "priority", "order"}
_DEPLOY_INTERFACES = ("bios", "deploy", "firmware", "management", "network", "power", "raid",
                      "storage", "boot", "inspect", "rescue", "console", "vendor")  # fmt: skip


def _check_steps(what: str, steps: Any, ordering: str) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not steps:
        raise InvalidInput(f"A {what} needs a non-empty list of steps.")
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            raise InvalidInput(f"Step {i} of the {what} is not an object.")
        unknown = set(step) - _STEP_KEYS
        if unknown:
            raise InvalidInput(
                f"Step {i} of the {what} has unknown keys: {', '.join(sorted(unknown))}."
            )
        if step.get("interface") not in _DEPLOY_INTERFACES:
            raise InvalidInput(
                f"Step {i} of the {what}: interface must be one of {', '.join(_DEPLOY_INTERFACES)}."
            )
        if not isinstance(step.get("step"), str) or not step["step"]:
            raise InvalidInput(f"Step {i} of the {what}: 'step' must be a non-empty string.")
        args = step.get("args", {})
        if not isinstance(args, dict):
            raise InvalidInput(f"Step {i} of the {what}: 'args' must be an object.")
        rank = step.get(ordering)
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
            raise InvalidInput(f"Step {i} of the {what}: '{ordering}' must be an integer >= 0.")
        out.append({"interface": step["interface"], "step": step["step"], "args": args,
                    ordering: rank})  # fmt: skip
    return out


def _steps_prepare(what: str, ordering: str, model: Any) -> Any:
    def prepare(ctx: Ctx, session: Session, values: dict[str, Any], obj: Any) -> dict[str, Any]:
        out = dict(values)
        if "name" in out:
            if not _TRAIT_RE.match(out["name"]):
                raise InvalidInput(
                    f"{what.capitalize()} name {out['name']!r} must be a custom trait: "
                    "'CUSTOM_' followed by upper-case letters, digits and underscores."
                )
            clash = session.scalar(
                select(model.id).where(
                    model.name == out["name"], model.id != (obj.id if obj else None)
                )
            )
            if clash is not None:
                raise Conflict(f"A {what} with name {out['name']} already exists.")
        if "steps" in out or obj is None:
            out["steps"] = _check_steps(what, out.get("steps"), ordering)
        if obj is None:
            out.setdefault("extra", {})
        return out

    return prepare


TEMPLATES = Collection(
    spec=DEPLOY_TEMPLATE, model=models.DeployTemplate, path="deploy_templates",
    feature="deploy_templates",
    prepare=_steps_prepare("deploy template", "priority", models.DeployTemplate),
    required=("name", "steps"),
)  # fmt: skip
RUNBOOKS = Collection(
    spec=RUNBOOK, model=models.Runbook, path="runbooks", feature="runbooks",
    prepare=_steps_prepare("runbook", "order", models.Runbook), required=("name", "steps"),
)  # fmt: skip

COLLECTIONS = (CHASSIS_COLLECTION, CONNECTORS, TARGETS, TEMPLATES, RUNBOOKS)
