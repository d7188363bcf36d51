"""Node history: what happened to a node and why, as ``GET /v1/nodes/{node}/history`` shows."""

from __future__ import annotations

import uuid as uuidlib
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ingot.db import models

INFO = "INFO"
ERROR = "ERROR"
WARNING = "WARNING"
_INSERT = insert(cast(Table, models.NodeHistory.__table__))


def record(
    session: Session,
    node: models.Node,
    event: str,
    *,
    event_type: str = "provisioning",
    severity: str = INFO,
    conductor: str | None = None,
    user: str | None = None,
) -> None:
    """Add one history entry in the caller's transaction.

    A Core insert, not ``session.add``: the ORM's unit of work for this one row was a sixth of
    a conductor's CPU in the scale-out benchmark (every transition writes an entry).
    """
    session.execute(
        _INSERT,
        {
            "uuid": str(uuidlib.uuid4()),
            "node_id": node.id,
            "event": event,
            "event_type": event_type,
            "severity": severity,
            "conductor": conductor,
            "user": user,
        },
    )
