"""RFC 6902 JSON Patch as Ironic applies it to a resource's document.

Ironic allows patching only attributes it declares patchable; adding an unknown attribute at
the root is refused, while nested keys inside dict fields (``/properties/cpus``,
``/driver_info/ipmi_address``) can be added and removed freely.
"""

from __future__ import annotations

import copy
from typing import Any

from ingot.errors import InvalidInput

_OPS = ("add", "replace", "remove", "test", "move", "copy")


def _tokens(path: Any) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise InvalidInput(
            f"Invalid patch path {path!r}: a path starts with '/' and names a field, "
            "such as '/properties/cpus'."
        )
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def root_fields(patch: list[dict[str, Any]]) -> set[str]:
    """The top-level attributes a patch touches."""
    out = set()
    for op in validate(patch):
        out.add(_tokens(op["path"])[0])
        if "from" in op:
            out.add(_tokens(op["from"])[0])
    return out


def validate(patch: Any) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not patch:
        raise InvalidInput(
            "A PATCH body must be a non-empty JSON list of operations, such as "
            '[{"op": "replace", "path": "/name", "value": "node-1"}].'
        )
    for op in patch:
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            raise InvalidInput(
                f"Invalid patch operation {op!r}: 'op' must be one of {', '.join(_OPS)}."
            )
        if "path" not in op:
            raise InvalidInput(f"Patch operation {op!r} has no 'path'.")
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise InvalidInput(f"Patch operation {op['op']} on {op['path']} needs a 'value'.")
        if op["op"] in ("move", "copy") and "from" not in op:
            raise InvalidInput(f"Patch operation {op['op']} on {op['path']} needs 'from'.")
    return patch


def apply(doc: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a patched deep copy of ``doc``; InvalidInput on a bad path or failed test."""
    result = copy.deepcopy(doc)
    for op in validate(patch):
        kind = op["op"]
        if kind == "remove":
            _remove(result, op["path"])
        elif kind in ("add", "replace"):
            _put(result, op["path"], copy.deepcopy(op["value"]), replace=kind == "replace")
        elif kind == "test":
            if _get(result, op["path"]) != op["value"]:
                raise InvalidInput(f"Patch test failed: {op['path']} is not {op['value']!r}.")
        elif kind == "move":
            value = _get(result, op["from"])
            _remove(result, op["from"])
            _put(result, op["path"], value, replace=False)
        else:  # copy
            _put(result, op["path"], copy.deepcopy(_get(result, op["from"])), replace=False)
    return result


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The root fields a patch changed; a removed root field comes back as None.

    ``remove /resource_class`` (what ``baremetal node unset`` sends) deletes the key from the
    document; Ironic resets such a field to null (an empty dict for dict fields), so a removed
    key must count as a change, not vanish from the diff.
    """
    return {
        key: after.get(key)
        for key in (*before, *(k for k in after if k not in before))
        if key not in after or before.get(key) != after[key]
    }


def _parent(doc: dict[str, Any], path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    node: Any = doc
    for i, tok in enumerate(tokens[:-1]):
        if isinstance(node, dict) and tok in node:
            node = node[tok]
        elif isinstance(node, list) and tok.isdigit() and int(tok) < len(node):
            node = node[int(tok)]
        else:
            missing = "/" + "/".join(tokens[: i + 1])
            raise InvalidInput(f"Can not apply patch: {missing} does not exist.")
        if node is None:
            raise InvalidInput(f"Can not apply patch at {path}: the parent is null.")
    return node, tokens[-1]


def _get(doc: dict[str, Any], path: str) -> Any:
    parent, key = _parent(doc, path)
    try:
        return parent[int(key)] if isinstance(parent, list) else parent[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise InvalidInput(f"Can not apply patch: {path} does not exist.") from None


def _put(doc: dict[str, Any], path: str, value: Any, *, replace: bool) -> None:
    parent, key = _parent(doc, path)
    if isinstance(parent, list):
        if key == "-":
            parent.append(value)
            return
        if not key.isdigit() or int(key) > len(parent) or (replace and int(key) == len(parent)):
            raise InvalidInput(f"Can not apply patch: invalid list index in {path}.")
        if replace:
            parent[int(key)] = value
        else:
            parent.insert(int(key), value)
        return
    if not isinstance(parent, dict):
        raise InvalidInput(f"Can not apply patch at {path}: the parent is not an object.")
    if replace and key not in parent:
        raise InvalidInput(f"Can not replace {path}: it does not exist. Use 'add' instead.")
    parent[key] = value


def _remove(doc: dict[str, Any], path: str) -> None:
    parent, key = _parent(doc, path)
    try:
        if isinstance(parent, list):
            del parent[int(key)]
        else:
            del parent[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise InvalidInput(f"Can not remove {path}: it does not exist.") from None
