"""``justicelab init`` and ``justicelab status``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.ingest import mapping_json_schema
from justicelab.ingest.batches import list_batches, table_counts
from justicelab.workspace import Workspace


def init(
    path: Path = typer.Argument(..., help="Folder for the new workspace (created if missing)."),
    name: str = typer.Option(None, help="Workspace name; the folder name by default."),
    require_login: bool = typer.Option(False, "--require-login", help="Commands act only as a user who logged "
                                       "in (justicelab login) or holds an API token; --as alone is refused."),
) -> None:
    """Create a workspace: justicelab.toml, mappings/, data/ and releases/.

    Example: justicelab init mycity --require-login
    """
    ws = Workspace.init(path, name)
    if require_login:
        ws.config.require_login = True
        ws.save()
    # Mappings point editors at this schema with `$schema: ../schemas/mapping.schema.json`.
    (ws.root / "schemas").mkdir(exist_ok=True)
    (ws.root / "schemas" / "mapping.schema.json").write_text(
        json.dumps(mapping_json_schema(), indent=2) + "\n", encoding="utf-8"
    )
    console.print(f"Created workspace [bold]{ws.config.name}[/] in {ws.root}")
    console.print("Next: put extracts in data/, mappings in mappings/, declare them with "
                  "`justicelab source add`, then `justicelab ingest --all`.")


def status(fmt: Format = FormatOption) -> None:
    """Tables and row counts, the batch log and quarantine counts of the current workspace.

    Example: justicelab status --format json
    """
    with open_warehouse() as (ws, wh):
        tables = table_counts(wh)
        batches = list_batches(wh)
        if fmt is Format.json:
            sys.stdout.write(json.dumps({
                "workspace": ws.config.name,
                "warehouse": wh.url,
                "tables": tables.to_pylist(),
                "batches": batches.to_pylist(),
                "rows_quarantined": sum(b["rows_quarantined"] for b in batches.to_pylist()),
            }, indent=2, default=str) + "\n")
            return
        if fmt is Format.csv:
            emit(tables, fmt)
            return
        console.print(f"Workspace [bold]{ws.config.name}[/] — warehouse {wh.url}")
        emit(tables, fmt, "Standard tables")
        short = ["batch", "source", "entity", "read", "loaded", "inserted", "updated", "unchanged", "quarantined"]
        cols = ["batch_id", "source", "entity", "rows_read", "rows_loaded", "rows_inserted", "rows_updated",
                "rows_unchanged", "rows_quarantined"]
        emit(batches.select(cols).rename_columns(short), fmt, "Batches")
        read = sum(batches.column("rows_read").to_pylist())
        loaded = sum(batches.column("rows_loaded").to_pylist())
        quarantined = sum(batches.column("rows_quarantined").to_pylist())
        console.print(f"read {read:,} = loaded {loaded:,} + quarantined {quarantined:,}"
                      + ("" if quarantined == 0 else "  (see `justicelab quarantine list`)"))
