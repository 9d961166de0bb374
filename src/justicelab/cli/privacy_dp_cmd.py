"""``justicelab privacy dp-counts`` and ``privacy budget``: differentially private tables and their budget."""

from __future__ import annotations

import getpass
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping, err_console
from justicelab.cli.read_cmd import PurposeOption, gated
from justicelab.privacy.dp import (
    DPError,
    DPRelease,
    GatedRows,
    budget,
    dp_counts,
    ledger_entries,
    parse_domain_options,
    set_budget,
)
from justicelab.standard import load_standard

budget_app = typer.Typer(help="The privacy-loss budget of each dataset and the ledger of DP releases.",
                         no_args_is_help=True)


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _short(row: dict[str, Any]) -> dict[str, Any]:
    """Floats to six significant digits for a terminal (0.49999999999999994 -> 0.5)."""
    return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}


class MechanismChoice(StrEnum):
    laplace = "laplace"
    gaussian = "gaussian"


def _range(text: str, option: str) -> tuple[int, int]:
    low, sep, high = text.partition("..")
    try:
        if not sep:
            raise ValueError
        return int(low), int(high)
    except ValueError:
        raise DPError(f"{option} {text!r}: expected LOW..HIGH in whole numbers, e.g. 0..120") from None


def _display(release: DPRelease) -> list[dict[str, Any]]:
    """Rows for a terminal: '(all)' where a margin sums a dimension, '(not recorded)' for that group."""
    names = [d.name for d in release.dimensions]
    shown = []
    for row in release.rows().to_pylist():
        level = row["level"]
        for n in names:
            if row[n] is None:
                row[n] = "(not recorded)" if level == "cell" or level == n else "(all)"
        shown.append(row)
    return shown


def _print(release: DPRelease, fmt: Format, out: Path | None) -> None:
    rows = release.rows()
    summary = release.summary()
    accuracy = [a.as_row() for a in release.accuracy]
    if out is not None:
        pacsv.write_csv(rows, out)
    if fmt is Format.json:
        body = {"release": summary, "accuracy": accuracy, "rows": rows.to_pylist()}
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False, default=_json) + "\n")
        return
    if fmt is Format.csv:
        if out is None:
            emit(rows, fmt)
        for key, value in summary.items():
            err_console.print(f"{key}: {value}", highlight=False, soft_wrap=True)
        return
    if out is None:
        emit(_display(release), fmt, f"DP {release.statistic} of {release.dataset}")
    else:
        console.print(f"wrote {rows.num_rows} rows to {out}")
    emit_mapping(_short(summary), fmt, "Release")
    emit(accuracy, fmt, "Expected error: 95% of each level's noisy figures lie within ± accuracy_95 of the truth "
                        "(OpenDP); std_error is after reconciliation")


def dp_counts_cmd(
    dataset: str = typer.Argument(..., help="A standard person-event or incident table, e.g. custody_death."),
    by: str = typer.Option("", "--by", help="Comma-separated dimensions: fields with a public domain "
                           "(code list, declared range) or an indicator's dimensions, e.g. county,year."),
    epsilon: float = typer.Option(..., "--epsilon", help="Privacy-loss budget this release spends."),
    mechanism: MechanismChoice = typer.Option(MechanismChoice.laplace, "--mechanism",
                                              help="Discrete Laplace (pure epsilon-DP) or discrete Gaussian "
                                              "(zCDP, spends delta too)."),
    delta: float = typer.Option(None, "--delta", help="Gaussian only: the delta spent (default 1e-7)."),
    domain: list[str] = typer.Option([], "--domain", help="The public values of a dimension without one in the "
                                     "standard (repeatable): year=2005..2018 or sex=F|M. Never taken from the data."),
    max_records_per_person: int = typer.Option(1, "--max-records-per-person",
                                               help="Contribution bound: records one person can add; enforced "
                                               "in SQL where person ids exist."),
    sum_column: str = typer.Option(None, "--sum", help="Release sums of this numeric field instead of counts."),
    clamp: str = typer.Option(None, "--clamp", help="With --sum: bounds each value is clamped to, e.g. 0..120."),
    cell_share: float = typer.Option(0.5, "--cell-share", help="Share of the budget for the cells; the rest is "
                                     "split evenly over the total and each dimension's margin."),
    out: Path = typer.Option(None, "--out", help="Also write the released table to this CSV file."),
    purpose: str = PurposeOption,
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """Release differentially private counts (or sums) grouped by public dimensions: whole, non-negative
    numbers whose cells add up to the published totals, with the epsilon spent recorded in the dataset's ledger
    (spent by you). The records are read through the gate as you, for a purpose (recorded in the audit ledger; a
    refusal exits 3); a refusal by the budget reads nothing.

    Example: justicelab privacy dp-counts custody_death --as ana --purpose research --by county,year
    --domain year=2005..2018 --epsilon 1.0
    """
    with gated(as_user) as g:
        rows = GatedRows(g.warehouse, g.control, g.workspace, g.user, purpose, load_standard())
        release = dp_counts(
            g.warehouse, dataset, [b for b in by.split(",") if b.strip()], epsilon=epsilon,
            mechanism="gaussian" if mechanism is MechanismChoice.gaussian else "laplace", delta=delta,
            domains=parse_domain_options(domain), max_records_per_person=max_records_per_person,
            sum_column=sum_column, clamp=_range(clamp, "--clamp") if clamp else None, cell_share=cell_share,
            who=g.user, standard=rows.standard, records=rows,
        )
    if rows.result is not None:
        err_console.print(f"{rows.result.row_count} rows of {dataset} read through the gate by {g.user} for "
                          f"{purpose!r}; audit entry #{rows.result.entry}", highlight=False, markup=False)
    _print(release, fmt, out)


@budget_app.command("show")
def budget_show(dataset: str = typer.Argument(..., help="The dataset, e.g. custody_death."),
                fmt: Format = FormatOption) -> None:
    """The dataset's budget, what it has spent and what is left, and every release in its ledger.

    Example: justicelab privacy budget show custody_death
    """
    with open_warehouse() as (_, wh):
        current = budget(wh, dataset)
        entries = ledger_entries(wh, dataset)
    columns = ["entry_id", "recorded_at", "spent_by", "query", "mechanism", "epsilon", "delta", "remaining_epsilon",
               "remaining_delta"]
    spending = [{c: e[c] for c in columns} for e in entries]
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"budget": current.as_row(), "ledger": spending}, indent=2, default=_json) + "\n")
        return
    if fmt is Format.csv:
        emit(pa.Table.from_pylist(spending) if spending else [], fmt)
        return
    emit_mapping(_short(current.as_row()), fmt, f"Privacy-loss budget of {dataset}")
    emit([_short(e) for e in spending], fmt, "Ledger")


@budget_app.command("set")
def budget_set(
    dataset: str = typer.Argument(..., help="The dataset, e.g. custody_death."),
    epsilon: float = typer.Option(..., "--epsilon", help="Total epsilon every release of the dataset may spend."),
    delta: float = typer.Option(1e-6, "--delta", help="Total delta (spent only by Gaussian releases)."),
    note: str = typer.Option(None, "--note", help="Why (kept with the setting)."),
    user: str = typer.Option(None, "--user", help="Who sets it (default: the login name)."),
    fmt: Format = FormatOption,
) -> None:
    """Set a dataset's total privacy-loss budget (a new ledger setting; never below what is already spent).

    Example: justicelab privacy budget set custody_death --epsilon 5 --note "2024 publication plan"
    """
    with open_warehouse() as (_, wh):
        current = set_budget(wh, dataset, epsilon=epsilon, delta=delta, who=user or getpass.getuser(), note=note)
    emit_mapping(current.as_row(), fmt, f"Privacy-loss budget of {dataset}")
