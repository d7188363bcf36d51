"""Version discovery: ``GET /`` and ``GET /v1``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingot.api import versions
from ingot.api.context import Ctx, get_ctx

router = APIRouter()

_V1_RESOURCES = (
    "chassis", "nodes", "ports", "drivers", "portgroups", "volume", "lookup", "heartbeat",
    "conductors", "allocations", "deploy_templates", "shards", "runbooks", "inspection_rules",
    "continue_inspection",
)  # fmt: skip
_RESOURCE_FEATURE = {
    "portgroups": "portgroups",
    "volume": "volume",
    "lookup": "lookup_heartbeat",
    "heartbeat": "lookup_heartbeat",
    "conductors": "conductors",
    "allocations": "allocations",
    "deploy_templates": "deploy_templates",
    "shards": "shards",
    "runbooks": "runbooks",
    "inspection_rules": "inspection_rules",
    "continue_inspection": "continue_inspection",
}


def _version(ctx: Ctx) -> dict[str, Any]:
    return {
        "id": "v1",
        "links": [{"href": f"{ctx.base_url}/v1/", "rel": "self"}],
        "status": "CURRENT",
        "min_version": versions.MIN_VERSION,
        "version": versions.MAX_VERSION,
    }


@router.get("/")
def root(ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return {
        "name": "Ingot (OpenStack Ironic API compatible)",
        "description": "Ingot provisions bare-metal machines through the Ironic v1 API.",
        "default_version": _version(ctx),
        "versions": [_version(ctx)],
    }


@router.get("/v1")
@router.get("/v1/")
def v1(ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "v1",
        "links": [
            {"href": f"{ctx.base_url}/v1/", "rel": "self"},
            {
                "href": "https://docs.openstack.org/ironic/latest/contributor/webapi.html",
                "rel": "describedby",
                "type": "text/html",
            },
        ],
        "media_types": {
            "base": "application/json",
            "type": "application/vnd.openstack.ironic.v1+json",
        },
    }
    for name in _V1_RESOURCES:
        feature = _RESOURCE_FEATURE.get(name)
        if feature is None or ctx.has(feature):
            body[name] = ctx.link(name + "/")
            body[name][0]["href"] = f"{ctx.base_url}/v1/{name}/"
    body["version"] = _version(ctx)
    return body
