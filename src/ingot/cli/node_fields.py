"""``node set``/``unset`` arguments (``k=v``, capabilities ``k:v``) turned into JSON patches.

Capabilities live in ``properties/capabilities`` as Ironic's ``"k1:v1,k2:v2"`` string; we merge
into what the node has so ``--capability profile:compute`` keeps ``boot_mode:uefi``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ingot.client import JSON, patch_add, patch_remove
from ingot.errors import InvalidInput

# Top-level node fields `node set --<field>` replaces and `node unset --<field>` removes.
SCALAR_FIELDS = (
    "name",
    "resource_class",
    "description",
    "driver",
    "owner",
    "lessee",
    "chassis_uuid",
)


def key_value(option: str, text: str, sep: str = "=") -> tuple[str, str]:
    """``key=value`` (or ``key:value``); names the option in the error."""
    key, found, value = text.partition(sep)
    if not found or not key.strip():
        raise InvalidInput(f"{option} {text!r}: expected KEY{sep}VALUE, e.g. {option} cpus{sep}8")
    return key.strip(), value


def scalar(value: str) -> Any:
    """Numbers, booleans and JSON objects as themselves; anything else as the string."""
    if value.isdigit() or (value.startswith("-") and value[1:].isdigit()):
        return int(value)
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return value


def parse_capabilities(value: Any) -> dict[str, str]:
    """Ironic's capabilities string (or a dict, as some clients send) as a dict."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    found: dict[str, str] = {}
    for item in str(value or "").split(","):
        key, _sep, val = item.strip().partition(":")
        if key:
            found[key] = val
    return found


def format_capabilities(caps: Mapping[str, str]) -> str:
    return ",".join(f"{k}:{v}" for k, v in caps.items())


def set_patch(
    node: JSON,
    *,
    properties: Sequence[str] = (),
    driver_info: Sequence[str] = (),
    extra: Sequence[str] = (),
    instance_info: Sequence[str] = (),
    capabilities: Sequence[str] = (),
    fields: Mapping[str, str | None] | None = None,
) -> list[JSON]:
    """The patch for ``node set``: every pair is an ``add`` (Ironic's add also replaces)."""
    patch: list[JSON] = []
    for name, value in (fields or {}).items():
        if value is not None:
            patch.append(patch_add(f"/{name}", value))
    for option, path, pairs, convert in (
        ("--property", "properties", properties, True),
        ("--driver-info", "driver_info", driver_info, False),
        ("--extra", "extra", extra, True),
        ("--instance-info", "instance_info", instance_info, False),
    ):
        for text in pairs:
            key, value = key_value(option, text)
            patch.append(patch_add(f"/{path}/{_escape(key)}", scalar(value) if convert else value))
    if capabilities:
        caps = parse_capabilities((node.get("properties") or {}).get("capabilities"))
        for text in capabilities:
            key, value = key_value("--capability", text, ":")
            caps[key] = value
        patch.append(patch_add("/properties/capabilities", format_capabilities(caps)))
    return patch


def unset_patch(
    node: JSON,
    *,
    properties: Sequence[str] = (),
    driver_info: Sequence[str] = (),
    extra: Sequence[str] = (),
    instance_info: Sequence[str] = (),
    capabilities: Sequence[str] = (),
    fields: Sequence[str] = (),
) -> list[JSON]:
    """The patch for ``node unset``; names a key the node does not have instead of a 400."""
    patch: list[JSON] = [patch_remove(f"/{name}") for name in fields]
    for option, path, keys in (
        ("--property", "properties", properties),
        ("--driver-info", "driver_info", driver_info),
        ("--extra", "extra", extra),
        ("--instance-info", "instance_info", instance_info),
    ):
        have = node.get(path) or {}
        for key in keys:
            if key not in have:
                raise InvalidInput(
                    f"{option} {key}: node {node.get('name') or node.get('uuid')} has no "
                    f"{path} key {key!r}; it has: {', '.join(sorted(have)) or 'none'}"
                )
            patch.append(patch_remove(f"/{path}/{_escape(key)}"))
    if capabilities:
        caps = parse_capabilities((node.get("properties") or {}).get("capabilities"))
        for key in capabilities:
            caps.pop(key, None)
        if caps:
            patch.append(patch_add("/properties/capabilities", format_capabilities(caps)))
        elif "capabilities" in (node.get("properties") or {}):
            patch.append(patch_remove("/properties/capabilities"))
    return patch


def _escape(key: str) -> str:
    """JSON pointer escaping (RFC 6901) for keys holding '/' or '~'."""
    return key.replace("~", "~0").replace("/", "~1")
