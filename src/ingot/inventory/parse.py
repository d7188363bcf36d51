"""``parse_inventory``: any supported inventory file in, Ironic create requests out.

The whole file is checked before anything is returned: every node's own fields, then what
must hold across nodes (unique names, UUIDs, MACs and BMC endpoints). All problems are raised
together in one ``InventoryInvalid``, unless ``skip_invalid`` asks for the valid nodes anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingot.inventory.bifrost import parse_bifrost
from ingot.inventory.bifrost_csv import parse_bifrost_csv
from ingot.inventory.bmc import bmc_identity
from ingot.inventory.instackenv import parse_instackenv
from ingot.inventory.ironic_create import parse_ironic_create
from ingot.inventory.loading import load
from ingot.inventory.model import Inventory, NodeRequest
from ingot.inventory.problems import InventoryInvalid, Problem, ProblemLog, Where
from ingot.inventory.server_yaml import parse_server_yaml


def parse_inventory(
    path_or_text: str | Path,
    *,
    fmt: str | None = None,
    name: str | None = None,
    skip_invalid: bool = False,
) -> Inventory:
    """Parse an inventory file (or its text) into node, port and chassis create requests.

    ``fmt`` is one of ``loading.FORMATS`` and overrides detection by extension and content.
    A ``str`` containing a newline (or starting with ``{`` or ``[``) is the file's text, any
    other ``str`` or ``Path`` is a path; ``name`` labels the source in messages.

    Raises ``InventoryInvalid`` (an ``InvalidInput``) listing every problem with file, node,
    field and fix. With ``skip_invalid``, invalid nodes are left out instead and listed in
    ``Inventory.problems``; problems with the file as a whole still raise.
    """
    loaded, kind = load(path_or_text, fmt, name)
    log = ProblemLog()
    label = loaded.label
    if kind == "bifrost-csv":
        inventory = Inventory(label, kind, parse_bifrost_csv(loaded.text, label, log))
    elif kind == "ironic":
        inventory = parse_ironic_create(_mapping(loaded.data, label), label, log)
    elif kind == "instackenv":
        inventory = Inventory(label, kind, parse_instackenv(loaded.data, label, log))
    elif kind == "bifrost":
        inventory = Inventory(label, kind, parse_bifrost(_mapping(loaded.data, label), label, log))
    else:
        inventory = Inventory(
            label, kind, parse_server_yaml(_mapping(loaded.data, label), label, log)
        )
    _cross_check(inventory, log)
    if not log.problems:
        return inventory
    file_level = [p for p in log.problems if p.where.index is None]
    if not skip_invalid or file_level:
        raise InventoryInvalid(_ordered(log))
    bad = log.bad_indexes
    kept = [n for n in inventory.nodes if n.where is None or n.where.index not in bad]
    inventory.nodes[:] = kept
    inventory.problems.extend(_ordered(log))
    return inventory


def _mapping(data: Any, label: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        kind = type(data).__name__
        problem = Problem(
            Where(label),
            None,
            f"expected a mapping at the top, got {kind}",
            "check that this is an inventory file",
        )
        raise InventoryInvalid([problem])
    return data


def _ordered(log: ProblemLog) -> list[Problem]:
    return sorted(log.problems, key=lambda p: -1 if p.where.index is None else p.where.index)


def _ref(request: NodeRequest) -> str:
    where = request.where
    if where is None or where.index is None:
        return request.source
    return f"node #{where.index}" + (f" ({where.name})" if where.name else "")


def _cross_check(inventory: Inventory, log: ProblemLog) -> None:
    """Names, UUIDs, MACs and BMC endpoints must each belong to one node of the file."""
    seen: dict[str, dict[str, NodeRequest]] = {"name": {}, "uuid": {}, "mac": {}, "bmc": {}}
    for request in inventory.nodes:
        where = request.where or Where(inventory.source)
        keys: list[tuple[str, str | None, str]] = [
            ("name", request.node.get("name"), "name"),
            ("uuid", request.node.get("uuid"), "uuid"),
            ("bmc", _bmc_key(request), "driver_info"),
        ]
        keys += [("mac", mac, "mac") for mac in request.macs]
        for kind, value, field in keys:
            if value is None:
                continue
            first = seen[kind].get(str(value))
            if first is None:
                seen[kind][str(value)] = request
                continue
            what = f"BMC endpoint {value}" if kind == "bmc" else f"{kind} {value!r}"
            if first is request:
                message = f"{what} is given twice for this node"
            else:
                message = f"{what} is already used by {_ref(first)}"
            log.add(where, field, message, f"give each node its own {kind}")


def _bmc_key(request: NodeRequest) -> str | None:
    info = request.node.get("driver_info")
    return bmc_identity(str(request.node.get("driver", "")), info if isinstance(info, dict) else {})
