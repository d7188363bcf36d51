"""The services one Ingot process runs, bundled so they can be passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingot.db import Database
from ingot.drivers.registry import DriverRegistry
from ingot.settings import IngotSettings

if TYPE_CHECKING:
    from ingot.conductor.rpc import ConductorAPI


@dataclass
class Services:
    settings: IngotSettings
    db: Database
    drivers: DriverRegistry
    conductor: ConductorAPI | None = None
