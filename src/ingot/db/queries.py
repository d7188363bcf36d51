"""Lookups shared by the API and the conductor: find a resource or raise a 404 that says so."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingot.db import models
from ingot.errors import NotFound

M = TypeVar("M")


def is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def get_node(session: Session, ident: str, *, for_update: bool = False) -> models.Node:
    """A node by UUID or name; NotFound with Ironic's message otherwise."""
    column = models.Node.uuid if is_uuid(ident) else models.Node.name
    stmt = select(models.Node).where(column == ident)
    if for_update:
        stmt = stmt.with_for_update()
    node = session.scalars(stmt).first()
    if node is None:
        raise NotFound(f"Node {ident} could not be found.")
    return node


def get_by_uuid(session: Session, model: type[M], ident: str, what: str) -> M:
    """A resource by UUID (or by name where the model has one)."""
    column: Any = model.uuid  # type: ignore[attr-defined]
    if not is_uuid(ident) and hasattr(model, "name"):
        column = model.name  # type: ignore[attr-defined]
    found = session.scalars(select(model).where(column == ident)).first()
    if found is None:
        raise NotFound(f"{what.capitalize()} {ident} could not be found.")
    return found


def node_uuid_map(session: Session, node_ids: set[int]) -> dict[int, str]:
    if not node_ids:
        return {}
    rows = session.execute(
        select(models.Node.id, models.Node.uuid).where(models.Node.id.in_(node_ids))
    )
    return {row.id: row.uuid for row in rows}


def node_traits(session: Session, node_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in node_ids}
    if not node_ids:
        return out
    rows = session.execute(
        select(models.NodeTrait.node_id, models.NodeTrait.trait)
        .where(models.NodeTrait.node_id.in_(node_ids))
        .order_by(models.NodeTrait.trait)
    )
    for row in rows:
        out[row.node_id].append(row.trait)
    return out
