"""Normalising list-valued query parameters."""

from __future__ import annotations

from ingot.api.resource import normalize_mac


def normalize_macs(addresses: str) -> list[str]:
    """Comma-separated MACs to normalised ones; invalid entries are a 400 naming them."""
    return [normalize_mac(a, "addresses") for a in addresses.split(",") if a.strip()]
