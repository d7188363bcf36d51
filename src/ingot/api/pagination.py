"""Ironic's list paging: ``limit``, ``marker`` (a UUID), ``sort_key``, ``sort_dir``, ``next``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, asc, desc, select
from sqlalchemy.orm import Session

from ingot.api.context import Ctx
from ingot.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Page:
    limit: int
    marker: str | None
    sort_key: str
    sort_dir: str


def page_params(
    ctx: Ctx,
    limit: str | None,
    marker: str | None,
    sort_key: str | None,
    sort_dir: str | None,
    sort_keys: Sequence[str],
) -> Page:
    """Validate the paging query parameters, each with a 400 that names the fix."""
    max_limit = ctx.services.settings.api.max_limit
    if limit is None or limit == "":
        value = max_limit
    else:
        try:
            value = int(limit)
        except ValueError:
            raise InvalidInput(f"Invalid limit {limit!r}: use a whole number.") from None
        if value < 0:
            raise InvalidInput(f"Limit must be positive, got {value}.")
        value = min(value, max_limit) if value else max_limit
    key = sort_key or "id"
    if key != "id" and key not in sort_keys:
        raise InvalidInput(
            f'The sort_key value "{key}" is an invalid field for sorting. '
            f"Valid sort keys: {', '.join(sorted(sort_keys))}."
        )
    direction = (sort_dir or "asc").lower()
    if direction not in ("asc", "desc"):
        raise InvalidInput(
            f"Invalid sort direction: {sort_dir}. Acceptable values are 'asc' or 'desc'"
        )
    return Page(limit=value, marker=marker, sort_key=key, sort_dir=direction)


def apply_page(
    session: Session, stmt: Select[Any], model: Any, page: Page, what: str
) -> Select[Any]:
    """Order, position after the marker and limit a select of ``model`` rows."""
    column = getattr(model, page.sort_key)
    order = asc if page.sort_dir == "asc" else desc
    stmt = stmt.order_by(order(column), order(model.id))
    if page.marker:
        row = session.execute(select(column, model.id).where(model.uuid == page.marker)).first()
        if row is None:
            raise NotFound(
                f"Marker {page.marker} could not be found: no {what} has that UUID. "
                "Use the UUID of the last item of the previous page."
            )
        value, ident = row
        if page.sort_dir == "asc":
            cond = (column > value) | ((column == value) & (model.id > ident))
        else:
            cond = (column < value) | ((column == value) & (model.id < ident))
        if value is None:
            cond = (
                (column.is_not(None)) | (model.id > ident)
                if page.sort_dir == "asc"
                else (model.id < ident)
            )
        stmt = stmt.where(cond)
    return stmt.limit(page.limit)


def next_link(
    ctx: Ctx, collection: str, items: list[dict[str, Any]], page: Page, query: dict[str, Any]
) -> str | None:
    """The ``next`` URL when the page is full, carrying the other query parameters along."""
    if len(items) < page.limit or not items:
        return None
    params = {k: v for k, v in query.items() if v is not None and k not in ("marker", "limit")}
    params.update(
        {
            "sort_key": page.sort_key,
            "sort_dir": page.sort_dir,
            "limit": page.limit,
            "marker": items[-1]["uuid"],
        }
    )
    return f"{ctx.base_url}/v1/{collection}?{urlencode(params)}"
