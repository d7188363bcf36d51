"""Reading an inventory file and telling which of the known formats it is.

Errors from the JSON and YAML parsers are reported by line and column only: their usual excerpt
of the offending line could show a password.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingot.inventory.bifrost import looks_like_bifrost
from ingot.inventory.ironic_create import looks_like_ironic_create
from ingot.inventory.problems import InventoryInvalid, Problem, Where
from ingot.inventory.server_yaml import looks_like_server_yaml

FORMATS = ("instackenv", "bifrost", "server-yaml", "bifrost-csv", "ironic")


class _InventoryLoader(yaml.SafeLoader):
    """YAML 1.1 without base-60 numbers.

    PyYAML reads ``10:20:30:40:50:59`` (an all-digit MAC written without quotes) as the integer
    of a sexagesimal number; inventories are full of MACs, so only decimal, octal, hex and
    binary integers are recognised here.
    """


_InventoryLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int",)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_InventoryLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
# Base-60 floats ("190:20:30.15") are also resolved by PyYAML; keep only the ordinary floats.
_InventoryLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if not (tag == "tag:yaml.org,2002:float" and ":" in rx.pattern)
    ]
    for first, resolvers in _InventoryLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Loaded:
    """A file's text, its label for messages, and its parsed data (None for CSV)."""

    label: str
    text: str
    suffix: str
    data: Any = None


def _fail(label: str, message: str, fix: str) -> InventoryInvalid:
    return InventoryInvalid([Problem(Where(label), None, message, fix)])


def read(path_or_text: str | Path, name: str | None) -> tuple[str, str, str]:
    """(text, label, suffix). A ``str`` with a newline or starting with ``{``/``[`` is text."""
    if isinstance(path_or_text, str) and (
        "\n" in path_or_text or path_or_text.lstrip().startswith(("{", "["))
    ):
        label = name or "<inventory>"
        return path_or_text, label, Path(label).suffix.lower()
    path = Path(path_or_text)
    label = name or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _fail(label, "no such file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(label, f"cannot read the file ({type(exc).__name__})", "check it") from None
    return text, label, path.suffix.lower()


def parse_data(text: str, label: str, suffix: str) -> Any:
    """JSON or YAML data; ``.json`` files must be JSON, anything else is tried as both."""
    if suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] in "{["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if suffix == ".json":
                raise _fail(
                    label,
                    f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                    "fix the syntax (a trailing comma or a missing quote is typical)",
                ) from None
    try:
        return yaml.load(text, Loader=_InventoryLoader)  # a SafeLoader subclass: no objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise _fail(label, f"not valid YAML{at}: {problem}", "fix the syntax") from None


def detect(data: Any, text: str, suffix: str, label: str) -> str:
    """The format of parsed data (or of CSV text), by content rather than by name alone."""
    if suffix == ".csv" or (isinstance(data, str) and "," in text):
        return "bifrost-csv"
    is_node_list = isinstance(data, list) and all(isinstance(n, dict) for n in data)
    if is_node_list and any("pm_type" in n for n in data):
        return "instackenv"
    if isinstance(data, dict):
        if looks_like_ironic_create(data):
            return "ironic"
        if "nodes" in data:
            return "instackenv"
        if looks_like_server_yaml(data):
            return "server-yaml"
        if looks_like_bifrost(data):
            return "bifrost"
    raise _fail(
        label,
        "cannot tell which inventory format this is",
        "pass the format explicitly, one of: " + ", ".join(FORMATS),
    )


def _looks_like_csv(text: str) -> bool:
    """First data line has Bifrost's comma-separated cells and nothing YAML- or JSON-like."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.count(",") >= 3 and stripped[0] not in "{[-" and ": " not in stripped
    return False


def load(path_or_text: str | Path, fmt: str | None, name: str | None) -> tuple[Loaded, str]:
    """Read, parse and identify an inventory; ``fmt`` overrides detection."""
    if fmt is not None and fmt not in FORMATS:
        raise _fail(
            name or str(path_or_text)[:60],
            f"unknown format {fmt!r}",
            "use one of: " + ", ".join(FORMATS),
        )
    text, label, suffix = read(path_or_text, name)
    if not text.strip():
        raise _fail(label, "the file is empty", "give a file with at least one node")
    if fmt == "bifrost-csv" or (fmt is None and (suffix == ".csv" or _looks_like_csv(text))):
        return Loaded(label, text, suffix), "bifrost-csv"
    data = parse_data(text, label, suffix)
    loaded = Loaded(label, text, suffix, data)
    return loaded, fmt or detect(data, text, suffix, label)
