"""Printing data the same way in every command: a rich table, JSON or CSV (``--format``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Piped output (make, CI logs) has no terminal width; give tables room instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = typer.Option(Format.table, "--format", "-f", help="Output format: table, json or csv.")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    """A table cell: floats to four decimals (a terminal table is for reading; JSON and CSV keep every digit)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "NaN"
    return str(_plain(value))


def emit(rows: pa.Table | Sequence[Mapping[str, Any]], fmt: Format, title: str | None = None) -> None:
    """Print rows in the chosen format; JSON and CSV go to stdout unadorned for scripts."""
    if isinstance(rows, pa.Table):
        columns = rows.column_names
        records = rows.to_pylist()
    else:
        records = [dict(r) for r in rows]
        columns = list(records[0].keys()) if records else []
    if fmt is Format.json:
        sys.stdout.write(json.dumps([{k: _plain(v) for k, v in r.items()} for r in records], indent=2,
                                    ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        for r in records:
            writer.writerow([_plain(r.get(c)) for c in columns])
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(title=title, show_lines=False)
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in records:
            table.add_row(*[escape(_cell(r.get(c))) for c in columns])  # data, never rich markup
        console.print(table)


def emit_mapping(values: Mapping[str, Any], fmt: Format, title: str | None = None) -> None:
    """Print one record (key/value pairs)."""
    if fmt is Format.table:
        emit([{"field": k, "value": v} for k, v in values.items()], fmt, title)
    else:
        emit([values], fmt, title)
