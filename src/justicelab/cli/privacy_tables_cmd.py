"""``justicelab privacy suppress``: primary and optimal complementary suppression of a count table, verified."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer

from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping
from justicelab.errors import JusticelabError
from justicelab.privacy.tables import Cost, Method, SuppressionResult, read_table, round_to_base
from justicelab.privacy.tables import suppress as suppress_table


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def publishable(result: SuppressionResult, total_label: str, base: int | None) -> pa.Table:
    """The table to publish: totals labelled, suppressed values empty, optionally rounded to ``base``."""
    table = result.to_arrow()
    value = result.table.value_name
    if base:
        table = round_to_base(table, [value], base)
    for name in result.table.dims:
        i = table.column_names.index(name)
        text = pc.cast(table.column(name), pa.string())
        table = table.set_column(i, name, pc.fill_null(text, total_label))
    return table


def write_table(table: pa.Table, out: Path) -> None:
    """CSV unless the name ends in .parquet/.pq."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        pq.write_table(table, out)
    else:
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))


def suppress(
    table_file: Path = typer.Argument(..., help="CSV or Parquet: dimension columns and a count column."),
    threshold: int = typer.Option(11, "--threshold", help="Counts from 1 to threshold-1 are suppressed."),
    totals: str = typer.Option(None, "--totals", help="Dimensions to total over, comma-separated, e.g. "
                               "county,year (default: the dimensions whose margin rows are in the file)."),
    count_column: str = typer.Option(None, "--count-column", help="The count column (default: the last)."),
    dims: str = typer.Option(None, "--dims", help="Dimension columns (default: every other column)."),
    zeros: bool = typer.Option(False, "--zeros", help="Suppress zero counts too (default: publish them)."),
    protection: int = typer.Option(None, "--protection", help="Fixed protection level P: each suppressed "
                                   "small cell's interval must reach v-P (or 0) and v+P. Default: the interval "
                                   "must include 0 and the threshold."),
    cost: str = typer.Option("cells", "--cost", help="Minimise the number of cells suppressed (cells) or their "
                             "total value (value)."),
    total_label: str = typer.Option("Total", "--total-label", help="How margin rows are labelled."),
    round_base: int = typer.Option(None, "--round", help="Round published counts to this base in --out "
                                   "(rounding alone is not protection)."),
    time_limit: float = typer.Option(120.0, "--time-limit", help="Seconds for the search; the best safe pattern "
                                     "found is kept."),
    gap: float = typer.Option(0.0, "--gap", help="Stop when within this share of the optimum (0 = optimal)."),
    method: str = typer.Option("auto", "--method", help="exact (optimal; minutes on large tables), modular "
                               "(three-way tables with every margin: seconds, a few percent more cells) or auto "
                               "(modular from 10,000 cells where it applies, else exact)."),
    out: Path = typer.Option(None, "--out", help="Write the publishable table here (.csv or .parquet)."),
    fmt: Format = FormatOption,
) -> None:
    """Suppress small counts and the fewest other cells so no suppressed count can be recovered from the
    published cells and totals; an independent LP attacker verifies the result before anything is written.

    Examples: justicelab privacy suppress deaths.csv --threshold 11 --totals county,year --out public.csv |
    justicelab privacy suppress table.parquet --count-column n --format json
    """
    if cost not in ("cells", "value"):
        raise JusticelabError(f"--cost {cost!r}: expected cells or value")
    weigh: Cost = "value" if cost == "value" else "cells"
    if method not in ("auto", "exact", "modular"):
        raise JusticelabError(f"--method {method!r}: expected auto, exact or modular")
    how: Method = "exact" if method == "exact" else "modular" if method == "modular" else "auto"
    table = read_table(table_file, dims=_split(dims), count_column=count_column, totals=_split(totals),
                       total_labels=(total_label,))
    if fmt is Format.table:
        with console.status("suppressing") as spinner:
            result = suppress_table(table, threshold, zeros=zeros, protection=protection, cost=weigh,
                                    time_limit=time_limit, gap=gap, progress=lambda m: spinner.update(m),
                                    method=how)
    else:
        result = suppress_table(table, threshold, zeros=zeros, protection=protection, cost=weigh,
                                time_limit=time_limit, gap=gap, method=how)
    summary: dict[str, Any] = {"file": str(table_file), "dimensions": ", ".join(table.dims),
                               "totals over": ", ".join(d.name for d in table.dimensions if d.has_total) or "none",
                               **result.summary()}
    if out is not None:
        write_table(publishable(result, total_label, round_base), out)
        summary["written"] = str(out) + (f" (rounded to base {round_base})" if round_base else "")
    cells = result.cells(total_label)
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"summary": summary, "suppressed": cells}, indent=2, default=str) + "\n")
    elif fmt is Format.csv:
        emit(cells, fmt)
    else:
        emit_mapping(summary, fmt, "Suppression")
        if cells:
            emit(cells, fmt, "Suppressed cells (for the data owner: values and reasons are not for publication)")
        console.print(result.verdict(), highlight=False)
