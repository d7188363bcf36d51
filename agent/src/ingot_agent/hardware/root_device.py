"""Choose the install disk from ``properties.root_device`` hints, like IPA and Ironic.

Hints: ``size`` (GiB), ``model``, ``vendor``, ``serial``, ``wwn``, ``wwn_with_extension``,
``wwn_vendor_extension``, ``name``, ``hctl``, ``by_path``, ``rotational``. Values may carry
an operator as in Ironic: numbers ``== != >= > <= <`` (default ``==``), strings ``s== s!=``
(default), ``<in> sub`` (substring), ``<or> a <or> b``. Without hints, the smallest disk of at
least ``min_size`` wins. Ties break by name, so the choice is deterministic.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from ingot_agent.errors import DeviceNotFoundError, InvalidCommandParamsError
from ingot_agent.hardware.base import BlockDevice

GiB = 1024**3
STRING_HINTS = (
    "model",
    "vendor",
    "serial",
    "wwn",
    "wwn_with_extension",
    "wwn_vendor_extension",
    "name",
    "hctl",
    "by_path",
)
CASE_INSENSITIVE = ("model", "vendor")
NUM_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
KNOWN_HINTS = frozenset((*STRING_HINTS, "size", "rotational"))


def _alternatives(expr: str) -> list[str]:
    if expr.strip().startswith("<or>"):
        return [p.strip() for p in expr.split("<or>") if p.strip()]
    return [expr.strip()]


def _match_number(expr: Any, value: int) -> bool:
    for alt in _alternatives(str(expr)):
        op_name, _, operand = alt.partition(" ")
        if op_name in NUM_OPS and operand:
            if NUM_OPS[op_name](value, int(operand)):
                return True
        elif int(alt) == value:
            return True
    return False


def _match_string(expr: Any, value: str | None, fold: bool) -> bool:
    if value is None:
        return False
    norm: Callable[[str], str] = (lambda s: s.lower()) if fold else (lambda s: s)
    for alt in _alternatives(str(expr)):
        if alt.startswith("<in> "):
            if norm(alt[5:].strip()) in norm(value):
                return True
        elif alt.startswith("s!= "):
            if norm(alt[4:].strip()) != norm(value):
                return True
        elif alt.startswith("s== "):
            if norm(alt[4:].strip()) == norm(value):
                return True
        elif norm(alt) == norm(value):
            return True
    return False


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "t", "y")


def device_matches(device: BlockDevice, hints: Mapping[str, Any]) -> bool:
    """True when ``device`` satisfies every hint."""
    for key, expr in hints.items():
        if key == "size":
            if not _match_number(expr, device.size // GiB):
                return False
        elif key == "rotational":
            if _as_bool(expr) != device.rotational:
                return False
        elif key == "name":
            # "sda" and "/dev/sda" both name /dev/sda, as in Ironic.
            short = device.name.rsplit("/", 1)[-1]
            if not (
                _match_string(expr, device.name, fold=False)
                or _match_string(expr, short, fold=False)
            ):
                return False
        elif not _match_string(expr, getattr(device, key), fold=key in CASE_INSENSITIVE):
            return False
    return True


def select_root_device(
    devices: list[BlockDevice], hints: Mapping[str, Any] | None, min_size: int = 4 * GiB
) -> BlockDevice:
    """Pick the install disk; raises DeviceNotFoundError naming the hints and the disks seen."""
    hints = dict(hints or {})
    unknown = set(hints) - KNOWN_HINTS
    if unknown:
        raise InvalidCommandParamsError(
            f"unknown root device hints {sorted(unknown)}; use {sorted(KNOWN_HINTS)}"
        )
    ordered = sorted(devices, key=lambda d: (d.size, d.name))
    if hints:
        try:
            found = [d for d in ordered if device_matches(d, hints)]
        except ValueError as exc:
            raise InvalidCommandParamsError(f"bad root device hint in {hints}: {exc}") from exc
    else:
        found = [d for d in ordered if d.size >= min_size]
    if not found:
        seen = ", ".join(f"{d.name} ({d.size} bytes, serial {d.serial})" for d in ordered)
        want = f"hints {hints}" if hints else f"a disk of at least {min_size} bytes"
        raise DeviceNotFoundError(
            f"no disk matches {want}; disks found: {seen or 'none'}; "
            "fix properties.root_device on the node"
        )
    return found[0]
