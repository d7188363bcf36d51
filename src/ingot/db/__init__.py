"""Persistence: tables, the database handle, node locks and migrations."""

from ingot.db.engine import Database

__all__ = ["Database"]
