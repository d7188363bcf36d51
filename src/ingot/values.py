"""Parsing loosely typed values from APIs and files (Ironic accepts "true"/"false" strings)."""

from __future__ import annotations

from typing import Any

from ingot.errors import InvalidInput

TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
FALSE = frozenset({"false", "0", "no", "off", "n", "f"})


def parse_bool(name: str, value: Any) -> bool:
    """A boolean from a bool or a yes/no-like string; InvalidInput names ``name`` otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise InvalidInput(f"Invalid value for '{name}': {value!r} is not a boolean (true or false).")
