"""``/v1/drivers``, ``/v1/conductors`` and ``/v1/shards``: what serves the nodes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select

from ingot.api.context import Ctx, get_ctx
from ingot.api.resource import iso
from ingot.db import models
from ingot.drivers.interfaces import KINDS
from ingot.errors import InvalidInput, NotFound
from ingot.values import parse_bool

router = APIRouter()


def alive_conductors(ctx: Ctx) -> list[models.Conductor]:
    """Conductors that heartbeated within ``[conductor] heartbeat_timeout``."""
    timeout = ctx.services.settings.conductor.heartbeat_timeout
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=timeout)
    with ctx.db.read() as session:
        rows = list(session.scalars(select(models.Conductor).where(models.Conductor.online)))
    return [c for c in rows if _aware(c.heartbeat_at) >= cutoff]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _driver(ctx: Ctx, name: str, hosts: list[str], detail: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "hosts": hosts,
        "links": ctx.link("drivers", name),
        "properties": ctx.link("drivers", name, "properties"),
        "type": "dynamic",
    }
    if detail:
        hw = ctx.services.drivers.hardware_type(name)
        for kind in KINDS:
            body[f"default_{kind}_interface"] = hw.default(kind)
            body[f"enabled_{kind}_interfaces"] = hw.interfaces[kind]
    return body


def _hosts(ctx: Ctx) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for conductor in alive_conductors(ctx):
        for name in conductor.drivers:
            out.setdefault(name, []).append(conductor.hostname)
    return out


@router.get("/v1/drivers")
def list_drivers(
    type: str | None = None, detail: str | None = None, ctx: Ctx = Depends(get_ctx)
) -> dict[str, Any]:
    if type not in (None, "dynamic", "classic"):
        raise InvalidInput(f"Invalid driver type {type!r}: use 'dynamic' or 'classic'.")
    if type == "classic":
        return {"drivers": []}
    hosts = _hosts(ctx)
    show_detail = parse_bool("detail", detail) if detail else False
    return {
        "drivers": [
            _driver(ctx, name, sorted(hosts.get(name, [])), show_detail)
            for name in sorted(ctx.services.drivers.types)
            if name in hosts
        ]
    }


def _known(ctx: Ctx, name: str) -> None:
    if name not in ctx.services.drivers.types or name not in _hosts(ctx):
        raise NotFound(f"Could not find the following driver(s) or hardware type(s): {name}.")


@router.get("/v1/drivers/{name}")
def get_driver(name: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    _known(ctx, name)
    return _driver(ctx, name, sorted(_hosts(ctx).get(name, [])), True)


@router.get("/v1/drivers/{name}/properties")
def driver_properties(name: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, str]:
    _known(ctx, name)
    return ctx.services.drivers.properties(name)


@router.get("/v1/drivers/{name}/raid/logical_disk_properties")
def raid_properties(name: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, str]:
    _known(ctx, name)
    return {}


def _conductor(ctx: Ctx, c: models.Conductor, alive: set[str], detail: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hostname": c.hostname,
        "conductor_group": c.conductor_group,
        "alive": c.hostname in alive,
        "links": ctx.link("conductors", c.hostname),
    }
    if detail:
        body.update(
            drivers=sorted(c.drivers),
            created_at=iso(c.created_at),
            updated_at=iso(c.updated_at),
        )
    return body


@router.get("/v1/conductors")
def list_conductors(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    if not ctx.has("conductors"):
        raise NotFound("The conductors API needs API version 1.49 or later.")
    detail = parse_bool("detail", request.query_params.get("detail", "false"))
    alive = {c.hostname for c in alive_conductors(ctx)}
    with ctx.db.read() as session:
        rows = list(session.scalars(select(models.Conductor).order_by(models.Conductor.hostname)))
    return {"conductors": [_conductor(ctx, c, alive, detail) for c in rows]}


@router.get("/v1/conductors/{hostname}")
def get_conductor(hostname: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    if not ctx.has("conductors"):
        raise NotFound("The conductors API needs API version 1.49 or later.")
    alive = {c.hostname for c in alive_conductors(ctx)}
    with ctx.db.read() as session:
        found = session.scalar(
            select(models.Conductor).where(models.Conductor.hostname == hostname)
        )
    if found is None:
        raise NotFound(f"Conductor {hostname} could not be found.")
    return _conductor(ctx, found, alive, True)


@router.get("/v1/shards")
def list_shards(ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    if not ctx.has("shards"):
        raise NotFound("The shards API needs API version 1.82 or later.")
    with ctx.db.read() as session:
        rows = session.execute(
            select(models.Node.shard, func.count(models.Node.id))
            .where(models.Node.shard.is_not(None))
            .group_by(models.Node.shard)
            .order_by(models.Node.shard)
        )
        return {"shards": [{"name": name, "count": count} for name, count in rows]}
