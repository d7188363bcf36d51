"""Fill the ``{{ var }}`` references of a stored ``baremetal_network_list``.

The per-server YAML of seed 002 writes ``address: "{{ baremetal_ip }}"``; the parser keeps the
list unchanged in ``extra["ingot_network"]`` and the variables in ``extra["ingot_host_vars"]``.
This substitutes plain variable references only (no filters, no expressions: we do not run
Jinja). A value that is nothing but an unknown variable is dropped, because sending the literal
template to cloud-init would be worse than leaving the key out; its name is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def resolve_network(
    extra: Mapping[str, Any], more_vars: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """(network list with references filled, sorted names of variables nobody defined).

    ``more_vars`` (e.g. the site's ``baremetal_domain``) win over the node's own host vars.
    Returns an empty list when the node has no ``ingot_network``.
    """
    entries = extra.get("ingot_network")
    if not isinstance(entries, list):
        return [], []
    values = {**(extra.get("ingot_host_vars") or {}), **(more_vars or {})}
    missing: set[str] = set()
    resolved = [_fill(e, values, missing) for e in entries if isinstance(e, Mapping)]
    return [r for r in resolved if isinstance(r, dict)], sorted(missing)


def _fill(value: Any, values: Mapping[str, Any], missing: set[str]) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            filled = _fill(item, values, missing)
            if filled is not _DROP:
                out[key] = filled
        return out
    if isinstance(value, list):
        return [v for v in (_fill(i, values, missing) for i in value) if v is not _DROP]
    if not isinstance(value, str):
        return value
    whole = _REF.fullmatch(value.strip())
    if whole:
        name = whole.group(1)
        if name not in values:
            missing.add(name)
            return _DROP
        return values[name]  # keep the variable's own type (a list of nameservers stays a list)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            missing.add(name)
            return match.group(0)
        return str(values[name])

    return _REF.sub(substitute, value)


class _Drop:
    """Marker for a value that was only an undefined variable."""


_DROP = _Drop()
