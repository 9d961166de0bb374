"""``justicelab quarantine``: see and export the rows that did not load, with every reason.

Quarantined rows are source rows as delivered, so ``show`` and ``export`` go through the gate: they need
identified access to every field of the target dataset without a row rule, for the purpose given, and
are recorded in the audit ledger. ``list`` shows counts only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.cli.read_cmd import PurposeOption, gated
from justicelab.gate import read_quarantine
from justicelab.ingest.batches import describe_reason, export_quarantine, quarantine_summary

app = typer.Typer(help="Rows that did not load, with their reasons.", no_args_is_help=True)


@app.command("list")
def list_(fmt: Format = FormatOption) -> None:
    """Batches that quarantined rows.

    Example: justicelab quarantine list
    """
    with open_warehouse() as (_, wh):
        emit(quarantine_summary(wh), fmt, "Quarantine")


@app.command("show")
def show(
    batch: int = typer.Argument(..., help="Batch id (see `justicelab status`)."),
    limit: int = typer.Option(50, help="Show at most this many rows (0 = all)."),
    purpose: str = PurposeOption,
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """The quarantined rows of one batch: source row number, each reason, and the row as read (needs
    identified access to the whole target dataset; recorded in the audit ledger).

    Example: justicelab quarantine show 3 --purpose "data quality" --as pat
    """
    with gated(as_user) as g:
        rows = read_quarantine(g.warehouse, g.control, g.user, batch, purpose, limit=limit or None)
    if fmt is Format.table:
        flat = [{"row": r["source_row"], "reasons": "\n".join(describe_reason(x) for x in r["reasons"])}
                for r in rows]
        emit(flat, fmt, f"Batch {batch}: quarantined rows")
    else:
        emit([{"source_row": r["source_row"], "reasons": r["reasons"], "record": r["record"]} for r in rows], fmt)


@app.command("export")
def export(
    batch: int = typer.Argument(..., help="Batch id."),
    out: Path = typer.Argument(..., help="CSV file to write."),
    purpose: str = PurposeOption,
    as_user: str = AsOption,
) -> None:
    """Write a batch's quarantined rows to CSV (original columns + reasons) for the department to fix (needs
    identified access to the whole target dataset; recorded in the audit ledger).

    Example: justicelab quarantine export 3 fix_me.csv --purpose "data quality" --as pat
    """
    with gated(as_user) as g:
        read_quarantine(g.warehouse, g.control, g.user, batch, purpose)
        n = export_quarantine(g.warehouse, batch, out)
    console.print(f"wrote {n} rows to {out}")
