"""Inspection rules: conditions on the inspection data, actions on the node (Ironic's format).

A rule is ``{"conditions": [...], "actions": [...], "priority": N, "sensitive": bool, "phase":
"main"}``; each condition and action is ``{"op": NAME, "args": {...} or [...], "loop": ...}``.
Rules run after inspection stores the inventory, highest priority first, stored rules and the
built-in ones from ``[inspection_rules] built_in_rules`` (a YAML list) alike.

Strings in args are Python format strings over ``node``, ``inventory``, ``plugin_data`` and
``item`` (the loop item), as in Ironic. One difference: an arg that is exactly one field, such
as ``"{inventory[memory][physical_mb]}"``, keeps the value's type, so ``gt`` compares numbers.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import itertools
import logging
import re
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ingot.db import history, models
from ingot.errors import ConfigError, InvalidInput, InvalidState
from ingot.scheduling.capabilities import format_node_capabilities, parse_node_capabilities

if TYPE_CHECKING:
    from ingot.conductor.task import Task

LOG = logging.getLogger(__name__)
PHASES = ("main",)
SENSITIVE_FIELDS = ("password", "auth_token", "bmc_password")
_TRAIT_RE = re.compile(r"^[A-Z0-9_]+$")
_ONE_FIELD = re.compile(r"^\{([^{}]+)\}$")
# Node fields rules may change; traits are handled on their own.
SETTABLE = frozenset({
    "properties", "extra", "driver_info", "instance_info", "network_data", "resource_class",
    "description", "owner", "lessee", "conductor_group", "name", "automated_clean", "retired",
    "retired_reason", "shard",
})  # fmt: skip


class RuleFailed(InvalidState):
    """A ``fail`` action stopped the inspection of a node (or an action could not run)."""


# --- conditions -------------------------------------------------------------------------


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Compare "262144" with 262144 as numbers, as an operator writing YAML would expect.

    None when one side is a number and the other is not one (a field the inventory lacks
    stays its ``{inventory[...]}`` text, or is None, "N/A"): no comparison holds. Compared as
    strings, "{inventory[memory][physical_mb]}" > 3072 was true, so a node that reported no
    memory was tagged as a large one.
    """
    if type(a) is not type(b):
        try:
            return float(a), float(b)
        except (TypeError, ValueError):
            if _is_number(a) or _is_number(b):
                return None
            return str(a), str(b)
    return a, b


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _chain(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def check(values: list[Any], force_strings: bool = False) -> bool:
        if not isinstance(values, list):
            raise InvalidInput(f"'values' must be a list, got {values!r}.")
        items = [str(v) for v in values] if force_strings else values
        pairs = [_coerce_pair(x, y) for x, y in itertools.pairwise(items)]
        return all(pair is not None and op(*pair) for pair in pairs)

    return check


def _is_true(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return bool(value)
    return isinstance(value, str) and value.lower() in ("yes", "true")


def _is_false(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return not value
    return value is None or (isinstance(value, str) and value.lower() in ("no", "false"))


OPERATORS: dict[str, Callable[..., bool]] = {
    "eq": _chain(lambda a, b: a == b),
    "lt": _chain(lambda a, b: a < b),
    "gt": _chain(lambda a, b: a > b),
    "is-empty": lambda value: str(value) in ("", "None", "[]", "{}"),
    "in-net": lambda address, subnet: (
        ipaddress.ip_address(str(address)) in ipaddress.ip_network(str(subnet), strict=False)
    ),
    "matches": lambda value, regex: re.fullmatch(regex, str(value)) is not None,
    "contains": lambda value, regex: re.search(regex, str(value)) is not None,
    "one-of": lambda value, values=(): value in values,
    "is-none": lambda value: value is None or str(value) == "None",
    "is-true": _is_true,
    "is-false": _is_false,
}
# (required args, optional args) of each condition operator and action
_OP_ARGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "eq": (("values",), ("force_strings",)),
    "lt": (("values",), ("force_strings",)),
    "gt": (("values",), ("force_strings",)),
    "is-empty": (("value",), ()),
    "in-net": (("address", "subnet"), ()),
    "matches": (("value", "regex"), ()),
    "contains": (("value", "regex"), ()),
    "one-of": (("value",), ("values",)),
    "is-none": (("value",), ()),
    "is-true": (("value",), ()),
    "is-false": (("value",), ()),
}
_ACTION_ARGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fail": (("msg",), ()),
    "log": (("msg",), ("level",)),
    "set-attribute": (("path", "value"), ()),
    "extend-attribute": (("path", "value"), ("unique",)),
    "del-attribute": (("path",), ()),
    "set-capability": (("name",), ("value",)),
    "unset-capability": (("name",), ()),
    "add-trait": (("name",), ()),
    "remove-trait": (("name",), ()),
    "set-plugin-data": (("path", "value"), ()),
    "extend-plugin-data": (("path", "value"), ("unique",)),
    "unset-plugin-data": (("path",), ()),
}


# --- validation -------------------------------------------------------------------------


def _split_op(op: Any) -> tuple[str, bool]:
    text = str(op).strip()
    return (text[1:].strip(), True) if text.startswith("!") else (text, False)


def _named_args(
    op: str, args: Any, table: Mapping[str, tuple[tuple[str, ...], ...]]
) -> dict[str, Any]:
    required, optional = table[op]
    if isinstance(args, list) and required == ("values",):
        return {"values": args}  # eq/lt/gt with a bare list: the list is the values
    if isinstance(args, list):
        if len(args) < len(required):
            raise InvalidInput(f"'{op}' needs argument(s) {', '.join(required)}.")
        return dict(zip((*required, *optional), args, strict=False))
    if not isinstance(args, dict):
        raise InvalidInput(f"The args of '{op}' must be an object (or a list).")
    missing = [a for a in required if a not in args]
    unexpected = [a for a in args if a not in required and a not in optional]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    problems += [f"unexpected {', '.join(unexpected)}"] if unexpected else []
    if problems:
        raise InvalidInput(f"Invalid args for '{op}': {'; '.join(problems)}.")
    return dict(args)


def _check_items(kind: str, items: Any, table: Mapping[str, Any], inverted_ok: bool) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput(f"The {kind} of an inspection rule must be a list.")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "op" not in item or "args" not in item:
            raise InvalidInput(f"{kind.capitalize()} {i} must be an object with 'op' and 'args'.")
        op, inverted = _split_op(item["op"])
        if op not in table or (inverted and not inverted_ok):
            raise InvalidInput(
                f"{kind.capitalize()} {i}: unsupported operator {item['op']!r}; use one of "
                f"{', '.join(table)}" + (" (prefix '!' to invert)." if inverted_ok else ".")
            )
        _named_args(op, item["args"], table)
        if "loop" in item and not isinstance(item["loop"], list | dict):
            raise InvalidInput(f"{kind.capitalize()} {i}: 'loop' must be a list or an object.")
        if item.get("multiple", "any") not in ("any", "all", "first", "last"):
            raise InvalidInput(f"{kind.capitalize()} {i}: 'multiple' is any, all, first or last.")
    return items


def validate_rule(rule: Mapping[str, Any], *, built_in: bool = False) -> dict[str, Any]:
    """A complete, checked rule (defaults filled in); InvalidInput naming the problem."""
    known = {"uuid", "description", "priority", "sensitive", "phase", "conditions", "actions"}
    unknown = sorted(set(rule) - known)
    if unknown:
        raise InvalidInput(f"Unknown inspection rule field(s): {', '.join(unknown)}.")
    out = dict(rule)
    out["conditions"] = _check_items("conditions", rule.get("conditions"), _OP_ARGS, True)
    if not rule.get("actions"):
        raise InvalidInput("An inspection rule needs at least one action.")
    out["actions"] = _check_items("actions", rule["actions"], _ACTION_ARGS, False)
    out["phase"] = rule.get("phase") or "main"
    if out["phase"] not in PHASES:
        raise InvalidInput(f"Invalid phase {out['phase']!r}. Valid phases are: main.")
    priority = rule.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidInput(f"Priority must be an integer, got {priority!r}.")
    if not built_in and not 0 <= priority <= 9999:
        raise InvalidInput("Priority must be between 0 and 9999 for user-defined rules.")
    out["priority"] = priority
    out["sensitive"] = bool(rule.get("sensitive", False))
    return out


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, _mtime: float) -> tuple[dict[str, Any], ...]:
    import yaml  # on first use: a server without built-in rules never needs it

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read built-in inspection rules {path}: {exc}") from exc
    if not isinstance(data, list):
        raise ConfigError(f"Built-in inspection rules file {path} must contain a list of rules.")
    rules = []
    for index, raw in enumerate(data):
        try:
            rule = validate_rule(raw if isinstance(raw, dict) else {}, built_in=True)
        except InvalidInput as exc:
            raise ConfigError(f"Built-in inspection rule {index} in {path}: {exc}") from exc
        rule.setdefault("uuid", f"00000000-0000-0000-0000-{index:012x}")
        rules.append({**rule, "built_in": True})
    return tuple(rules)


def load_built_in_rules(path: Path | None) -> list[dict[str, Any]]:
    """The rules of the YAML file (re-read when it changes); ConfigError if it is bad."""
    if path is None:
        return []
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ConfigError(f"Built-in inspection rules file {path} not found: {exc}") from exc
    return [copy.deepcopy(r) for r in _load_cached(str(path), mtime)]


# --- interpolation and paths ------------------------------------------------------------


def interpolate(value: Any, scope: Mapping[str, Any]) -> Any:
    """Format strings (recursively in lists and dicts); a lone field keeps its type."""
    if isinstance(value, str):
        whole = _ONE_FIELD.match(value)
        try:
            if whole:
                return string.Formatter().get_field(whole.group(1), (), scope)[0]
            return value.format(**scope)
        except (AttributeError, KeyError, IndexError, ValueError, TypeError):
            LOG.warning("Inspection rule: could not interpolate %r; using it as it is", value)
            return value
    if isinstance(value, list):
        return [interpolate(v, scope) for v in value]
    if isinstance(value, dict):
        return {interpolate(k, scope): interpolate(v, scope) for k, v in value.items()}
    return value


def _segments(path: str) -> list[str]:
    parts = [p for p in re.split(r"[/.]", str(path)) if p]
    if not parts:
        raise RuleFailed(f"Empty attribute path {path!r}.")
    return parts


def _parent(doc: dict[str, Any], parts: list[str], create: bool) -> dict[str, Any] | None:
    cur: Any = doc
    for part in parts[:-1]:
        if not isinstance(cur, dict):
            return None
        if part not in cur or cur[part] is None:
            if not create:
                return None
            cur[part] = {}
        cur = cur[part]
    return cur if isinstance(cur, dict) else None


# --- evaluation -------------------------------------------------------------------------


class _Run:
    """One node's rule run: a working copy of its fields, traits and plugin data."""

    def __init__(self, node: models.Node, traits: list[str], inventory: dict[str, Any],
                 plugin_data: dict[str, Any]) -> None:  # fmt: skip
        self.before = {f: copy.deepcopy(getattr(node, f)) for f in SETTABLE}
        self.doc: dict[str, Any] = copy.deepcopy(self.before)
        self.traits = list(traits)
        self.inventory = inventory
        self.plugin_data = plugin_data
        self.plugin_changed = False
        self.node_uuid = node.uuid

    def scope(self, mask: bool, item: Any = None) -> dict[str, Any]:
        node = SimpleNamespace(uuid=self.node_uuid, traits=self.traits, **self.doc)
        inventory, plugin_data = self.inventory, self.plugin_data
        if mask:
            inventory = {k: "***" if k in SENSITIVE_FIELDS else v for k, v in inventory.items()}
            plugin_data = {k: "***" if k in SENSITIVE_FIELDS else v for k, v in plugin_data.items()}
        scope = {"node": node, "inventory": inventory, "plugin_data": plugin_data}
        return scope if item is None else {**scope, "item": item}

    def changes(self) -> dict[str, Any]:
        return {f: v for f, v in self.doc.items() if v != self.before[f]}


def _loop_items(entry: Mapping[str, Any]) -> list[Any] | None:
    loop = entry.get("loop")
    if not loop:
        return None
    return [loop] if isinstance(loop, dict) else list(loop)


def _fill(args: dict[str, Any], scope: dict[str, Any], item: Any) -> Any:
    """Interpolate; with a loop item twice, since items may themselves hold fields."""
    once = interpolate(args, scope)
    return once if item is None else interpolate(once, scope)


def _check(entry: Mapping[str, Any], run: _Run, mask: bool) -> bool:
    op, inverted = _split_op(entry["op"])
    items = _loop_items(entry)

    def once(item: Any) -> bool:
        args = _fill(_named_args(op, entry["args"], _OP_ARGS), run.scope(mask, item), item)
        if item is not None and "force_strings" in _OP_ARGS[op][1]:
            args["force_strings"] = True
        result = bool(OPERATORS[op](**args))
        return not result if inverted else result

    if items is None:
        return once(None)
    results = [once(item) for item in items]
    multiple = entry.get("multiple", "any")
    if multiple == "all":
        return all(results)
    if multiple == "first":
        return results[0] if results else False
    if multiple == "last":
        return results[-1] if results else False
    return any(results)


def _act(entry: Mapping[str, Any], run: _Run, mask: bool) -> None:
    op = entry["op"]
    for item in _loop_items(entry) or [None]:
        args = _fill(_named_args(op, entry["args"], _ACTION_ARGS), run.scope(mask, item), item)
        _ACTIONS[op](run, **args)


def _set_attr(run: _Run, path: str, value: Any) -> None:
    parts = _segments(path)
    if parts == ["traits"]:
        run.traits = [str(t) for t in value]
        return
    if parts[0] not in SETTABLE:
        raise RuleFailed(f"Inspection rules can not set /{parts[0]}; settable: {sorted(SETTABLE)}.")
    if len(parts) == 1:
        run.doc[parts[0]] = value
        return
    parent = _parent(run.doc, parts, create=True)
    if parent is None:
        raise RuleFailed(f"Cannot set {path}: a parent of it is not an object.")
    parent[parts[-1]] = value


def _extend_attr(run: _Run, path: str, value: Any, unique: bool = False) -> None:
    parts = _segments(path)
    parent = _parent(run.doc, parts, create=True) if len(parts) > 1 else run.doc
    if parent is None:
        raise RuleFailed(f"Cannot extend {path}: a parent of it is not an object.")
    current = list(parent.get(parts[-1]) or [])
    if not (unique and value in current):
        current.append(value)
    _set_attr(run, path, current)


def _del_attr(run: _Run, path: str) -> None:
    parts = _segments(path)
    if parts[0] not in SETTABLE:
        raise RuleFailed(f"Inspection rules can not change /{parts[0]}.")
    if len(parts) == 1:
        run.doc[parts[0]] = {} if isinstance(run.doc[parts[0]], dict) else None
        return
    parent = _parent(run.doc, parts, create=False)
    if parent is not None:
        parent.pop(parts[-1], None)


def _set_capability(run: _Run, name: str, value: Any = None) -> None:
    props = run.doc["properties"] = dict(run.doc.get("properties") or {})
    caps = parse_node_capabilities(props.get("capabilities"))
    if value is None:
        caps.pop(name, None)
    else:
        caps[name] = str(value)
    props["capabilities"] = format_node_capabilities(caps)


def _trait(run: _Run, name: str, add: bool) -> None:
    if add and not _TRAIT_RE.match(str(name)):
        raise RuleFailed(f"Invalid trait {name!r}: use CUSTOM_ and upper-case letters, digits, _.")
    if add and name not in run.traits:
        run.traits.append(name)
    if not add and name in run.traits:
        run.traits.remove(name)


def _plugin(run: _Run, path: str, value: Any = None, unique: bool = False, *,
            mode: str) -> None:  # fmt: skip
    parts = _segments(path)
    parent = _parent(run.plugin_data, parts, create=mode != "unset")
    if parent is None:
        return
    if mode == "set":
        parent[parts[-1]] = value
    elif mode == "extend":
        current = list(parent.get(parts[-1]) or [])
        if not (unique and value in current):
            current.append(value)
        parent[parts[-1]] = current
    else:
        parent.pop(parts[-1], None)
    run.plugin_changed = True


def _log(run: _Run, msg: str, level: str = "info") -> None:
    LOG.log(logging.getLevelName(str(level).upper()) if isinstance(level, str) else 20,
            "Inspection rule on node %s: %s", run.node_uuid, msg)  # fmt: skip


def _fail(run: _Run, msg: str) -> None:
    raise RuleFailed(f"Inspection of node {run.node_uuid} failed by rule: {msg}")


_ACTIONS: dict[str, Callable[..., None]] = {
    "fail": _fail,
    "log": _log,
    "set-attribute": _set_attr,
    "extend-attribute": _extend_attr,
    "del-attribute": _del_attr,
    "set-capability": _set_capability,
    "unset-capability": lambda run, name: _set_capability(run, name, None),
    "add-trait": lambda run, name: _trait(run, name, True),
    "remove-trait": lambda run, name: _trait(run, name, False),
    "set-plugin-data": lambda run, path, value: _plugin(run, path, value, mode="set"),
    "extend-plugin-data": lambda run, path, value, unique=False: _plugin(
        run, path, value, unique, mode="extend"
    ),
    "unset-plugin-data": lambda run, path: _plugin(run, path, mode="unset"),
}


def run_rules(
    rules: list[dict[str, Any]], node: models.Node, traits: list[str],
    inventory: dict[str, Any], plugin_data: dict[str, Any], mask_secrets: str = "always",
) -> tuple[_Run, list[str]]:  # fmt: skip
    """Evaluate ``rules`` (highest priority first) on a copy of the node; nothing is saved.

    Returns the run (changed fields, traits, plugin data) and the rules that applied.
    Raises RuleFailed for a ``fail`` action or an action that can not run.
    """
    run = _Run(node, traits, inventory, plugin_data)
    applied = []
    for rule in sorted(rules, key=lambda r: -int(r.get("priority", 0))):
        mask = mask_secrets == "always" or (
            mask_secrets == "sensitive" and not rule.get("sensitive")
        )
        try:
            if all(_check(c, run, mask) for c in rule.get("conditions") or []):
                for action in rule["actions"]:
                    _act(action, run, mask)
                applied.append(rule.get("description") or str(rule.get("uuid")))
        except RuleFailed:
            raise
        except (InvalidInput, TypeError, ValueError, re.error) as exc:
            raise RuleFailed(f"Inspection rule {rule.get('uuid')} failed on node "
                             f"{node.uuid}: {exc}") from exc  # fmt: skip
    return run, applied


def apply_rules(task: Task, inventory: dict[str, Any], plugin_data: dict[str, Any]) -> list[str]:
    """Run stored and built-in rules on an inspected node; changes go through ``task``.

    Field changes are staged with ``task.update`` (the caller's ``task.save`` writes them);
    traits, plugin data and a history entry are written here. Raises RuleFailed.
    """
    services = task.conductor.services
    cfg = services.settings.inspection_rules
    node = task.node
    with services.db.read() as session:
        stored = session.scalars(
            select(models.InspectionRule).where(models.InspectionRule.phase == "main")
        )
        rules = [{"uuid": r.uuid, "description": r.description, "priority": r.priority,
                  "sensitive": r.sensitive, "conditions": r.conditions, "actions": r.actions}
                 for r in stored]  # fmt: skip
        traits = list(
            session.scalars(
                select(models.NodeTrait.trait).where(models.NodeTrait.node_id == node.id)
            )
        )
    rules += load_built_in_rules(cfg.built_in_rules)
    if not rules:
        return []
    run, applied = run_rules(rules, node, traits, inventory, copy.deepcopy(plugin_data),
                             cfg.mask_secrets)  # fmt: skip
    changes = run.changes()
    if changes:
        task.update(**changes)

    def write(session: Session) -> None:
        if sorted(run.traits) != sorted(traits):
            session.execute(delete(models.NodeTrait).where(models.NodeTrait.node_id == node.id))
            for trait in dict.fromkeys(run.traits):
                session.add(models.NodeTrait(node_id=node.id, trait=trait))
        if run.plugin_changed:
            row = session.scalar(
                select(models.NodeInventory).where(models.NodeInventory.node_id == node.id)
            )
            if row is not None:
                row.plugin_data = run.plugin_data
        if applied:
            what = ", ".join(sorted(changes)) or "no node fields"
            history.record(session, node, f"Inspection rules applied: {'; '.join(applied)} "
                           f"(changed {what}; traits {', '.join(run.traits) or 'none'})",
                           event_type="inspection", conductor=task.conductor.hostname)  # fmt: skip

    task.write(write)
    return applied
