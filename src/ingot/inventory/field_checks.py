"""Checks and conversions of single values, shared by every inventory format.

Each function records a problem in the log and returns None when the value is bad, so a parser
can keep going and report every bad field of the file in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ingot.inventory.problems import ProblemLog, Where

_MAC = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
# Ironic accepts node names made of URL-unreserved characters (API 1.10+).
_NAME = re.compile(r"^[A-Za-z0-9._~-]+$")
_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")

MAC_FIX = "write it as six hex pairs separated by colons, like 52:54:00:12:34:56"


def mac_address(log: ProblemLog, where: Where, field: str, value: Any) -> str | None:
    """A MAC in Ironic's form (lower case, colons), accepting dashes or upper case as written."""
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text is None or not _MAC.match(text):
        log.add(where, field, f"{value!r} is not a MAC address", MAC_FIX)
        return None
    return text.replace("-", ":")


def whole_number(log: ProblemLog, where: Where, field: str, value: Any, unit: str) -> int | None:
    """A non-negative integer from an int or a digit string ("4096"); anything else is a problem."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None or number < 0:
        log.add(
            where,
            field,
            f"{value!r} is not a whole number",
            f"give the {unit} as digits only, like 4096" if unit else "give digits only",
        )
        return None
    return number


def node_name(log: ProblemLog, where: Where, field: str, value: Any) -> str | None:
    """A node name Ironic accepts (letters, digits, and ``.-_~``)."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text or not _NAME.match(text):
        log.add(
            where,
            field,
            f"{value!r} is not a valid node name",
            "use letters, digits, '.', '-', '_' or '~' only (a hostname works)",
        )
        return None
    return text


def capabilities(log: ProblemLog, where: Where, field: str, value: Any) -> str | None:
    """Ironic's ``"k:v,k2:v2"`` string from a dict (sorted, as TripleO does) or a string."""
    fix = "write capabilities as 'key:value,key2:value2' or as a mapping of key to value"
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items() if v is not None)
        bad = [k for k, _ in items if not k or ":" in k or "," in k]
        if bad:
            log.add(where, field, f"capability names {bad!r} contain ':' or ','", fix)
            return None
        return ",".join(f"{k}:{_cap_value(v)}" for k, v in items)
    if isinstance(value, str):
        pairs = [p.strip() for p in value.split(",") if p.strip()]
        bad = [p for p in pairs if ":" not in p or p.startswith(":")]
        if bad:
            log.add(where, field, f"{bad!r} is not in key:value form", fix)
            return None
        return ",".join(pairs)
    log.add(where, field, f"{type(value).__name__} is not a capabilities value", fix)
    return None


def _cap_value(value: Any) -> str:
    # YAML turns `boot_option: local` into str but `secure_boot: true` into bool; Ironic
    # compares capability values as lower-case strings, so write booleans as "true"/"false".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bmc_host(log: ProblemLog, where: Where, field: str, value: Any) -> str | None:
    """A BMC host name or IP address without scheme or path (IPMI).

    The bad value is described, not echoed: in a CSV with a missing or extra cell the password
    lands in the address column.
    """
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text or not _HOST.match(text):
        log.add(
            where,
            field,
            f"not a host name or IP address ({describe(text)})",
            "give the BMC's IP address or host name only, without scheme or path",
        )
        return None
    return text


def describe(text: str) -> str:
    """What is wrong with an address, without repeating it (it may be a misplaced secret)."""
    if not text:
        return "it is empty"
    if "://" in text:
        return "it has a scheme"
    if "/" in text:
        return "it has a path"
    if any(c.isspace() for c in text):
        return "it has spaces"
    return "it has characters other than letters, digits, '.', '-', ':' and brackets"


def mapping(log: ProblemLog, where: Where, field: str, value: Any) -> dict[str, Any] | None:
    """A JSON object / YAML mapping with string keys."""
    if not isinstance(value, Mapping):
        log.add(
            where,
            field,
            f"expected a mapping, got {type(value).__name__}",
            "write it as key: value pairs",
        )
        return None
    return {str(k): v for k, v in value.items()}


def text_value(log: ProblemLog, where: Where, field: str, value: Any) -> str | None:
    """A non-empty scalar turned into text (YAML may load ``1234`` as an int)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        log.add(where, field, "expected a non-empty text value", f"give {field} as a string")
        return None
    return str(value)
