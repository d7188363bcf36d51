"""Generic list/show/create/patch/delete routes for the resources that follow Ironic's pattern.

A resource supplies its field table and a few hooks (resolve references, check uniqueness,
compute fields, filter lists); everything else — paging, ``fields=``, JSON Patch, Location
headers, error bodies — is shared here so all resources behave alike.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ingot.api import jsonpatch
from ingot.api.context import Ctx, get_ctx, json_body
from ingot.api.pagination import apply_page, next_link, page_params
from ingot.api.resource import ResourceSpec, coerce, serializer
from ingot.db.queries import get_by_uuid
from ingot.errors import InvalidInput, NotAcceptable, NotFound

Computed = dict[str, Callable[[Any], Any]]


@dataclass
class Collection:
    """One REST collection under ``/v1/<path>``."""

    spec: ResourceSpec
    model: Any
    path: str
    feature: str | None = None
    # (ctx, session, objs) -> computed field functions, batching any lookups
    computed: Callable[[Ctx, Session, list[Any]], Computed] | None = None
    # (ctx, session, values, obj or None) -> values ready to set on the model
    prepare: Callable[[Ctx, Session, dict[str, Any], Any], dict[str, Any]] | None = None
    # (ctx, session, stmt, query params) -> filtered stmt
    filters: Callable[[Ctx, Session, Select[Any], dict[str, str]], Select[Any]] | None = None
    # (session, obj) -> raise if it can not be deleted; delete dependants
    before_delete: Callable[[Ctx, Session, Any], None] | None = None
    required: tuple[str, ...] = ()

    @property
    def what(self) -> str:
        return self.spec.name

    def check_feature(self, ctx: Ctx) -> None:
        if self.feature and not ctx.has(self.feature):
            raise NotFound(f"The {self.path} API is not available at API version {ctx.version}.")

    def view(
        self, ctx: Ctx, session: Session, objs: list[Any], names: list[str]
    ) -> list[dict[str, Any]]:
        computed = self.computed(ctx, session, objs) if self.computed else {}
        computed.setdefault("links", lambda o: ctx.link(self.path, o.uuid))
        one = serializer(names, self.spec, computed)
        return [one(o) for o in objs]

    def list(
        self,
        ctx: Ctx,
        request: Request,
        *,
        detail: bool,
        base: Select[Any] | None = None,
        path: str | None = None,
    ) -> dict[str, Any]:
        self.check_feature(ctx)
        params = dict(request.query_params)
        if "detail" in params:
            detail = detail or _flag(params.pop("detail"))
        names = self.spec.select(ctx, params.get("fields"), detail=detail)
        page = page_params(
            ctx,
            params.get("limit"),
            params.get("marker"),
            params.get("sort_key"),
            params.get("sort_dir"),
            sorted(self.spec.sort_keys),
        )
        with ctx.db.read() as session:
            stmt = base if base is not None else select(self.model)
            if self.filters:
                stmt = self.filters(ctx, session, stmt, params)
            objs = list(session.scalars(apply_page(session, stmt, self.model, page, self.what)))
            items = self.view(ctx, session, objs, names)
        key = self.path.split("/")[-1]
        result: dict[str, Any] = {key: items}
        link = next_link(
            ctx,
            path or self.path,
            items,
            page,
            {k: v for k, v in params.items() if k not in ("limit", "marker")},
        )
        if link:
            result["next"] = link
        return result

    def show(self, ctx: Ctx, ident: str, fields: str | None) -> dict[str, Any]:
        self.check_feature(ctx)
        names = self.spec.select(ctx, fields)
        with ctx.db.read() as session:
            obj = get_by_uuid(session, self.model, ident, self.what)
            return self.view(ctx, session, [obj], names)[0]

    def create(self, ctx: Ctx, body: Any) -> JSONResponse:
        self.check_feature(ctx)
        values = self.spec.check_create(ctx, body)
        missing = [r for r in self.required if values.get(r) is None]
        if missing:
            raise InvalidInput(
                f"Schema error for {self.what}: {', '.join(repr(m) for m in missing)} "
                f"{'is a' if len(missing) == 1 else 'are'} required propert"
                f"{'y' if len(missing) == 1 else 'ies'}."
            )

        def write(session: Session) -> dict[str, Any]:
            prepared = self.prepare(ctx, session, values, None) if self.prepare else values
            obj = self.model(uuid=prepared.pop("uuid", None) or str(uuidlib.uuid4()))
            for key, value in prepared.items():
                setattr(obj, key, value)
            session.add(obj)
            session.flush()
            return self.view(ctx, session, [obj], self.spec.select(ctx, None))[0]

        data = ctx.db.run_write(write)
        location = ctx.link(self.path, data["uuid"])[0]["href"]
        return JSONResponse(data, status_code=201, headers={"Location": location})

    def patch(self, ctx: Ctx, ident: str, body: Any) -> dict[str, Any]:
        self.check_feature(ctx)
        visible = {f.name: f for f in self.spec.visible(ctx)}
        for op in jsonpatch.validate(body):
            root = str(op["path"]).lstrip("/").split("/")[0]
            field = self.spec.by_name.get(root)
            if field is None:
                raise InvalidInput(
                    f"Adding a new attribute (/{root}) to the root of the resource is not allowed."
                )
            if root not in visible:
                raise NotAcceptable(f"Field /{root} needs a newer API version.")
            if not field.patch:
                raise InvalidInput(f"'/{root}' is an internal attribute and can not be updated.")

        def write(session: Session) -> dict[str, Any]:
            obj = get_by_uuid(session, self.model, ident, self.what)
            names = [f.name for f in visible.values() if f.patch]
            before = self.view(ctx, session, [obj], names)[0]
            after = jsonpatch.apply(before, body)
            changed = {
                k: coerce(self.what, self.spec.by_name[k], v)
                for k, v in jsonpatch.changed_fields(before, after).items()
            }
            if self.prepare:
                changed = self.prepare(ctx, session, changed, obj)
            for key, value in changed.items():
                setattr(obj, key, value)
            session.flush()
            return self.view(ctx, session, [obj], self.spec.select(ctx, None))[0]

        return ctx.db.run_write(write)

    def delete(self, ctx: Ctx, ident: str) -> Response:
        self.check_feature(ctx)

        def write(session: Session) -> None:
            obj = get_by_uuid(session, self.model, ident, self.what)
            if self.before_delete:
                self.before_delete(ctx, session, obj)
            session.delete(obj)

        ctx.db.run_write(write)
        return Response(status_code=204)

    def routes(self) -> APIRouter:
        """The standard five routes plus ``/detail``."""
        router = APIRouter()
        base = f"/v1/{self.path}"

        @router.get(base)
        def _list(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
            return self.list(ctx, request, detail=False)

        @router.get(base + "/detail")
        def _detail(request: Request, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
            return self.list(ctx, request, detail=True, path=self.path + "/detail")

        @router.get(base + "/{ident}")
        def _show(
            ident: str, fields: str | None = None, ctx: Ctx = Depends(get_ctx)
        ) -> dict[str, Any]:
            return self.show(ctx, ident, fields)

        @router.post(base, status_code=201)
        def _create(body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> JSONResponse:
            return self.create(ctx, body)

        @router.patch(base + "/{ident}")
        def _patch(
            ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
        ) -> dict[str, Any]:
            return self.patch(ctx, ident, body)

        @router.delete(base + "/{ident}", status_code=204)
        def _delete(ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
            return self.delete(ctx, ident)

        return router


def _flag(value: str) -> bool:
    from ingot.values import parse_bool

    return parse_bool("detail", value)
