"""What the API asks of conductors. Today every node is served by the local conductor;
the scale-out issue routes calls to the owning conductor instead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingot.conductor import power, provision
from ingot.conductor.service import Conductor
from ingot.conductor.task import load_task
from ingot.conductor.validate import validate_node
from ingot.db import models


class ConductorAPI:
    """The conductor operations behind the API's asynchronous and driver-backed endpoints."""

    def __init__(self, conductor: Conductor) -> None:
        self.conductor = conductor

    def owner_of(self, node: models.Node) -> str | None:
        return self.conductor.owner_of(node)

    def nodes_owned_by(self, session: Session, hostname: str) -> list[int]:
        rows = session.execute(
            select(models.Node.id, models.Node.uuid, models.Node.conductor_group)
        )
        return [
            r.id
            for r in rows
            if self.conductor.ring.owner(r.uuid, r.conductor_group or "") == hostname
        ]

    def provision(self, ident: str, verb: str, args: dict[str, Any]) -> None:
        provision.accept(self.conductor, ident, verb, args)

    def set_power(self, ident: str, target: str, timeout: int | None) -> None:
        power.accept_power(self.conductor, ident, target, timeout)

    def set_boot_device(self, ident: str, device: str, persistent: bool) -> None:
        self.conductor.call(power.set_boot_device(self.conductor, ident, device, persistent))

    def get_boot_device(self, ident: str) -> dict[str, Any]:
        return self.conductor.call(power.get_boot_device(self.conductor, ident))

    def supported_boot_devices(self, ident: str) -> list[str]:
        return load_task(self.conductor, ident, lock=False).management.supported_boot_devices()

    def set_boot_mode(self, ident: str, mode: str) -> None:
        self.conductor.call(power.set_boot_mode(self.conductor, ident, mode))

    def validate(self, ident: str) -> dict[str, dict[str, Any]]:
        return validate_node(load_task(self.conductor, ident, lock=False))
