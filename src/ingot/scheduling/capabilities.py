"""Node capabilities (``properties.capabilities``) and Nova's capability matching.

Ironic stores capabilities as a string ``"profile:compute,boot_option:local"`` (older tools
also wrote a JSON object). Nova's ComputeCapabilitiesFilter compares each requested value
with the node's value using the extra-spec operators (``s==``, ``<in>``, ``<or>``, ``>=``,
...); a bare value means string equality. We follow the same rules so that a flavor's
``capabilities:profile=compute`` selects the same nodes here as in a Nova deployment.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from ingot.errors import InvalidInput


def _num(fn: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    return lambda have, want: fn(float(have), float(want))


_BINARY: dict[str, Callable[[str, str], bool]] = {
    "=": _num(operator.ge),  # Nova: "= 4" means at least 4
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda have, want: want in have,
}


def parse_node_capabilities(value: Any) -> dict[str, str]:
    """The node's capabilities as a dict, from Ironic's ``k:v,k2:v2`` string or an object.

    Malformed entries (no ``:``) are ignored, as Ironic's parser logs and skips them.
    """
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str):
        return {}
    out: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition(":")
        if sep and key.strip():
            out[key.strip()] = val.strip()
    return out


def format_node_capabilities(caps: Mapping[str, Any]) -> str:
    """Back to Ironic's string form, keys in a stable order."""
    return ",".join(f"{k}:{v}" for k, v in caps.items())


def parse_requested(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["profile:compute", "boot_mode=uefi"]`` from a command line into a dict."""
    out: dict[str, str] = {}
    for item in items:
        for sep in (":", "="):
            key, found, val = item.partition(sep)
            if found and key.strip():
                out[key.strip()] = val.strip()
                break
        else:
            raise InvalidInput(
                f"Capability {item!r} is not KEY:VALUE; use e.g. 'profile:compute' or "
                "'boot_mode:uefi'."
            )
    return out


def matches(have: str | None, want: str) -> bool:
    """True when the node's value ``have`` satisfies the requested ``want`` (Nova's rules)."""
    words = want.split()
    op = words[0] if words else ""
    if op != "<or>" and op not in _BINARY and op != "<all-in>":
        return have == want
    if have is None:
        return False
    args = words[1:]
    if op == "<or>":
        # "<or> v1 <or> v2": every other word is an alternative
        return have in args[::2]
    if not args:
        return False
    if op == "<all-in>":
        return all(a in have for a in args)
    try:
        return _BINARY[op](have, args[0])
    except ValueError:  # a numeric operator on a non-number never matches
        return False


def mismatches(node_caps: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """One phrase per unmet capability, e.g. ``profile=control (wanted compute)``."""
    out = []
    for key, want in wanted.items():
        have = node_caps.get(key)
        if not matches(have, want):
            shown = f"{key} missing" if have is None else f"{key}={have}"
            out.append(f"{shown} (wanted {want})")
    return out
