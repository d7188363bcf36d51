"""Secrets in driver_info and instance_info: stored, never shown, never logged."""

from __future__ import annotations

from typing import Any

MASK = "******"
_SUFFIXES = ("password", "_key", "_secret", "_token")


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered.endswith(_SUFFIXES) or "password" in lowered


def mask_secrets(data: dict[str, Any] | None) -> dict[str, Any]:
    """A copy with every secret value replaced by ``******`` (nested dicts too)."""
    if not data:
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = mask_secrets(value)
        elif is_secret(key) and value not in (None, ""):
            out[key] = MASK
        else:
            out[key] = value
    return out
