"""Rendering for humans (Rich tables) and machines (stable JSON, YAML, CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"


FORMAT_OPTION = typer.Option(
    Format.table, "-f", "--format", help="Output format: table, json, yaml or csv."
)

Row = Mapping[str, Any]
Column = tuple[str, str]  # (field, heading)


def cell(value: Any) -> str:
    """How the baremetal CLI shows a value in a table: None as 'None', dicts as JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def truncate(text: Any, width: int = 40) -> str:
    value = "" if text is None else str(text).replace("\n", " ")
    return value if len(value) <= width else value[: width - 1] + "…"


def dump(data: Any, fmt: Format) -> str:
    """Machine output: JSON (sorted keys, 2-space indent) or YAML."""
    if fmt is Format.yaml:
        return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)
    return json.dumps(data, indent=2, sort_keys=True)


def print_rows(
    console: Console,
    rows: Sequence[Row],
    columns: Sequence[Column],
    fmt: Format,
    *,
    title: str | None = None,
    style: Callable[[Row], str | None] | None = None,
) -> None:
    """A list of records: a table with the given columns, or the same columns as data."""
    if fmt is Format.table:
        table = Table(title=title, show_lines=False)
        for _field, heading in columns:
            table.add_column(
                heading, overflow="fold", min_width=36 if heading.endswith("UUID") else None
            )
        for row in rows:
            table.add_row(
                *(cell(row.get(f)) for f, _h in columns), style=style(row) if style else None
            )
        console.print(table)
        return
    data = [{heading: row.get(f) for f, heading in columns} for row in rows]
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([h for _f, h in columns])
        for item in data:
            writer.writerow([cell(v) for v in item.values()])
        console.out(buf.getvalue().rstrip("\n"), highlight=False)
        return
    console.out(dump(data, fmt), highlight=False)


def print_record(console: Console, record: Mapping[str, Any], fmt: Format) -> None:
    """One resource: a Field/Value table (sorted like the baremetal CLI) or JSON/YAML."""
    shown = {k: v for k, v in record.items() if k != "links"}
    if fmt is Format.table:
        table = Table(show_header=True)
        table.add_column("Field", style="bold")
        table.add_column("Value", overflow="fold")
        for key in sorted(shown):
            table.add_row(key, cell(shown[key]))
        console.print(table)
    elif fmt is Format.csv:
        print_rows(console, [shown], [(k, k) for k in sorted(shown)], fmt)
    else:
        console.out(dump(shown, fmt), highlight=False)
