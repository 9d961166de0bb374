"""``justicelab quality``: what each reporting agency should fix in its reports."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.indicators.quality import findings, summary_by_agency

app = typer.Typer(help="Data-quality feedback to reporting agencies.", no_args_is_help=True)


@app.command("report")
def report(
    by: str = typer.Option("finding", "--by", help="'finding' (one row each) or 'agency' (counts per rule)."),
    year: int = typer.Option(None, "--year", help="Only this year."),
    agency: str = typer.Option(None, "--agency", help="Only this agency."),
    out: Path = typer.Option(None, "--out", help="Also write every finding to this CSV file."),
    fmt: Format = FormatOption,
) -> None:
    """Findings per agency and year: gaps, zero years, clearances above offences, parts that do not add
    up, implausible jumps, agencies missing from the directory.

    Example: justicelab quality report --by agency --year 2022 --out quality_2022.csv
    """
    with open_warehouse() as (_, wh):
        table = findings(wh, year=year, agency=agency).to_pyarrow()
    if out is not None:
        pacsv.write_csv(table, str(out))
        if fmt is Format.table:
            console.print(f"wrote {table.num_rows} findings to {out}")
    emit(summary_by_agency(table) if by == "agency" else table, fmt, "Data quality")
