"""Which firmware mode a node boots in: the same precedence as Ironic.

instance_info ``deploy_boot_mode`` > ``properties.capabilities`` ``boot_mode`` > the node's
detected ``boot_mode`` > ``[deploy] default_boot_mode``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

from ingot.errors import InvalidInput

if TYPE_CHECKING:
    from ingot.conductor.task import Task

BootMode = Literal["bios", "uefi"]


def parse_capabilities(value: object) -> dict[str, str]:
    """Ironic's capabilities: a "k:v,k2:v2" string (or, leniently, a dict)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise InvalidInput(
            f"properties.capabilities must be a 'key:value,...' string, got {value!r}."
        )
    out: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition(":")
        if not sep:
            raise InvalidInput(
                f"Malformed capability {item!r} in properties.capabilities; use 'key:value'."
            )
        out[key.strip()] = val.strip()
    return out


def boot_mode_of(task: Task) -> BootMode:
    node = task.node
    candidates = (
        node.instance_info.get("deploy_boot_mode"),
        parse_capabilities(node.properties.get("capabilities")).get("boot_mode"),
        node.boot_mode,
        task.conductor.services.settings.deploy.default_boot_mode,
    )
    for mode in candidates:
        if mode:
            if mode not in ("bios", "uefi"):
                raise InvalidInput(f"Node {node.uuid}: boot mode {mode!r} is not 'bios' or 'uefi'.")
            return cast(BootMode, mode)
    return "uefi"
