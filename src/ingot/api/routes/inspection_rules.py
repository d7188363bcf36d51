"""``/v1/inspection_rules``: Ironic's inspection rule API (1.96).

Rules are checked on create and on every patch with the same validator the conductor uses
(``ingot.conductor.rules``). Sensitive rules hide their conditions and actions, and can not
be made non-sensitive again. Built-in rules come from ``[inspection_rules] built_in_rules``
and are not stored, so they are not listed here; stored rules show ``built_in: false``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ingot.api import jsonpatch
from ingot.api.context import Ctx, get_ctx, json_body
from ingot.api.crud import Collection, Computed
from ingot.api.specs import INSPECTION_RULE
from ingot.conductor.rules import validate_rule
from ingot.db import models
from ingot.db.queries import get_by_uuid
from ingot.errors import InvalidInput

router = APIRouter()
_DEFAULT_LIST_FIELDS = "uuid,priority,phase,description"


def _computed(ctx: Ctx, session: Session, objs: list[Any]) -> Computed:
    return {"built_in": lambda r: False}


def _prepare(ctx: Ctx, session: Session, values: dict[str, Any], obj: Any) -> dict[str, Any]:
    current = {} if obj is None else {
        "description": obj.description, "priority": obj.priority, "sensitive": obj.sensitive,
        "phase": obj.phase, "conditions": obj.conditions, "actions": obj.actions,
    }  # fmt: skip
    merged = {**current, **{k: v for k, v in values.items() if k != "uuid"}}
    if obj is not None and obj.sensitive and values.get("sensitive") is False:
        raise InvalidInput("Inspection rules cannot have the sensitive flag unset.")
    checked = validate_rule(merged)
    out = {k: checked[k] for k in ("priority", "sensitive", "phase", "conditions", "actions")}
    out["description"] = checked.get("description")
    if "uuid" in values:
        out["uuid"] = values["uuid"]
    return out


RULES = Collection(
    spec=INSPECTION_RULE, model=models.InspectionRule, path="inspection_rules",
    feature="inspection_rules", computed=_computed, prepare=_prepare, required=("actions",),
)  # fmt: skip


def _hide_sensitive(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("sensitive"):
        if "conditions" in item:
            item["conditions"] = None
        if "actions" in item:
            item["actions"] = None
    return item


@router.get("/v1/inspection_rules")
def list_rules(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    """The short list shows uuid, priority, phase and description, as Ironic; detail all."""
    params = dict(request.query_params)
    if "fields" not in params and params.get("detail", "false").lower() not in ("1", "true"):
        query = request.scope["query_string"] + b"&fields=" + _DEFAULT_LIST_FIELDS.encode()
        request = Request({**request.scope, "query_string": query.lstrip(b"&")})
    result = RULES.list(ctx, request, detail=True)
    result["inspection_rules"] = [_hide_sensitive(i) for i in result["inspection_rules"]]
    return result


@router.get("/v1/inspection_rules/{ident}")
def show(ident: str, fields: str | None = None, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return _hide_sensitive(RULES.show(ctx, ident, fields))


@router.post("/v1/inspection_rules", status_code=201)
def create(body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> JSONResponse:
    if isinstance(body, dict):
        validate_rule(body)  # full check first, so the message names the rule's problem
    response = RULES.create(ctx, body)
    data = _hide_sensitive(json.loads(bytes(response.body)))
    return JSONResponse(data, status_code=201, headers={"Location": response.headers["location"]})


@router.patch("/v1/inspection_rules/{ident}")
def patch(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Any:
    jsonpatch.validate(body)
    return _hide_sensitive(RULES.patch(ctx, ident, body))


@router.delete("/v1/inspection_rules/{ident}", status_code=204)
def delete(ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    RULES.check_feature(ctx)

    def write(session: Session) -> None:
        session.delete(get_by_uuid(session, models.InspectionRule, ident, "inspection rule"))

    ctx.db.run_write(write)
    return Response(status_code=204)
