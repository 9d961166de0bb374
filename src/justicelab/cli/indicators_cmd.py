"""``justicelab indicators``: the indicators the standard defines, and their values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping, err_console
from justicelab.cli.read_cmd import gated
from justicelab.control import open_workspace_control
from justicelab.control.database import control_url
from justicelab.errors import AccessDenied
from justicelab.indicators import GatedAnswer, IndicatorError, compute_arrow, compute_gated, execute, trend
from justicelab.indicators.gated import registered_record_datasets
from justicelab.standard import load_standard
from justicelab.workspace import Workspace

app = typer.Typer(help="Indicators: definitions and values, by year, county, agency and more.",
                  no_args_is_help=True)


def parse_where(clauses: list[str] | None) -> dict[str, list[Any]]:
    """'year=2021,2022' -> {'year': [2021, 2022]} (whole numbers become integers)."""
    out: dict[str, list[Any]] = {}
    for clause in clauses or []:
        if "=" not in clause:
            raise IndicatorError(f"--where {clause!r}: expected DIMENSION=VALUE[,VALUE...]")
        key, _, values = clause.partition("=")
        out.setdefault(key.strip(), []).extend(_value(v) for v in values.split(","))
    return out


def _value(text: str) -> Any:
    """One --where value: a whole number as an integer; quotes around a value are the shell's, not the
    value's (sex='F' and sex=F ask the same)."""
    v = text.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1].strip()
    return int(v) if v.lstrip("-").isdigit() else v


@app.command("list")
def list_(fmt: Format = FormatOption) -> None:
    """Every indicator: name, title, unit and the breakdowns it supports.

    Example: justicelab indicators list
    """
    rows = [{"indicator": i.name, "title": i.title, "unit": i.unit_label, "by": ", ".join(i.dimensions)}
            for i in load_standard().indicators.values()]
    emit(rows, fmt, "Indicators")


@app.command("show")
def show(name: str = typer.Argument(..., help="Indicator name, e.g. clearance_rate."),
         fmt: Format = FormatOption) -> None:
    """An indicator's definition: numerator, denominator, includes/excludes, source, caveats.

    Example: justicelab indicators show clearance_rate
    """
    i = load_standard().indicator(name)
    num = i.numerator
    den = i.denominator

    def measure(m: Any) -> str:
        what = f"{m.aggregate}({m.column})" if m.column else "count of records"
        inc = "".join(f"; only {k} in {v}" for k, v in m.include.items())
        exc = "".join(f"; excluding {k} in {v}" for k, v in m.exclude.items())
        return f"{what} of {m.table}{inc}{exc}"

    emit_mapping({
        "indicator": i.name,
        "title": i.title,
        "description": i.description.strip(),
        "unit": i.unit_label,
        "numerator": measure(num),
        "denominator": "—" if den is None else ("residents (Department of Finance population, matched by "
                                                "geography and year; vintage reported)" if den.kind == "population"
                                                else measure(den.measure)),
        "breakdowns": ", ".join(i.dimensions),
        "never summed across": ", ".join(i.not_additive_over) or "—",
        "unstable when": f"fewer than {i.min_events} events"
                         + (f" or a denominator below {den.minimum:,}" if den and den.minimum else ""),
        "source": i.source,
        "caveats": " | ".join(i.caveats) or "—",
    }, fmt, i.title)


@app.command("compute")
def compute_cmd(
    name: str = typer.Argument(..., help="Indicator name."),
    by: str = typer.Option("year", "--by", help="Comma-separated breakdowns, e.g. year,county."),
    where: list[str] = typer.Option(None, "--where", help="Filter, e.g. year=2022 or county=alameda,kern."),
    change: bool = typer.Option(False, "--change", help="Add year-over-year change (needs year in --by)."),
    show_trend: bool = typer.Option(False, "--trend", help="One row per group: first/last year and average "
                                    "annual change (--where year=2013,...,2022 picks the span)."),
    as_user: str = AsOption,
    purpose: str = typer.Option(None, "--purpose", help="With --as: why you compute it, one of the purposes of "
                                "the agreement your grant is under (recorded in the audit ledger)."),
    fmt: Format = FormatOption,
) -> None:
    """Compute an indicator: rates from summed counts, the population vintage used, unstable figures flagged.

    With --as (or JUSTICELAB_USER / JUSTICELAB_TOKEN) it is computed through access control: you need a grant
    of at least `aggregate` on each person-level dataset it counts, only the rows your grants admit are
    counted, totals are added, and cells under your agreement's minimum cell size are suppressed (with enough
    others that none can be worked out); the read is recorded in the audit ledger, a refusal exits 3.

    Examples:
      justicelab indicators compute violent_crime_rate --by year --format csv
      justicelab indicators compute clearance_rate --by year,county --where year=2022 --where offense=violent
      justicelab indicators compute violent_crime_rate --by county --trend --where year=2013,2022
      justicelab indicators compute arrest_count --by county,year --as bob --purpose "program evaluation"
    """
    dims = [d.strip() for d in by.split(",") if d.strip()]
    if as_user is not None or os.environ.get("JUSTICELAB_TOKEN"):
        if show_trend:
            raise IndicatorError("--trend is not available through access control (--as): use --change, which "
                                 "leaves out the changes a suppressed year would give away")
        if not purpose:
            raise IndicatorError("--as needs --purpose: one of the purposes of the agreement your grant is under")
        with gated(as_user) as g:
            answer = compute_gated(g.warehouse, g.control, g.user, name, dims, parse_where(where), purpose=purpose,
                                   change=change)
        _emit(answer.table, fmt, name)
        _summary(answer)
        return
    guarded = _registered(name)
    if guarded:
        raise AccessDenied(f"{name} counts {', '.join(f'{d} (shared by {o})' for d, o in guarded.items())}: "
                           "departments' datasets are counted through access control, with small cells "
                           "suppressed and the read recorded; pass --as USER and --purpose")
    with open_warehouse() as (_, wh):
        if show_trend:
            table = execute(wh, trend(wh, name, dims, parse_where(where)))
        else:
            table = compute_arrow(wh, name, dims, parse_where(where), change=change)
    _emit(table, fmt, name)


def _registered(indicator: str) -> dict[str, str]:
    """The record-level datasets ``indicator`` counts that the workspace's control plane holds (none when
    there is no control database yet: opening one would create it)."""
    ws = Workspace.find()
    url = control_url(ws.config.control)
    if not url.startswith(("postgresql:", "postgres:")):
        path = Path(url.removeprefix("sqlite:///"))
        if not (path if path.is_absolute() else ws.root / path).exists():
            return {}
    db = open_workspace_control(ws)
    try:
        return registered_record_datasets(db, indicator)
    finally:
        db.close()


def _summary(answer: GatedAnswer) -> None:
    """What the gated answer is, on stderr: cells, totals, suppressed cells, rows counted, the ledger entry."""
    if not answer.datasets:
        err_console.print(f"{answer.indicator} reads published tables only: no person-level records, nothing to "
                          "check or suppress", highlight=False, markup=False)
        return
    restricted = "".join(f"; {d}: only rows where {rows}" for d, rows in answer.rows.items() if rows != "all rows")
    err_console.print(
        f"{answer.cells} cells ({answer.totals} totals) of {answer.indicator} for {answer.user} "
        f"({answer.purpose!r}), counted from {', '.join(answer.datasets)}{restricted}; {answer.suppressed} "
        f"suppressed (minimum cell size {answer.min_cell_size}, agreement {', '.join(answer.agreements)}); "
        f"audit entry #{answer.entry}", highlight=False, markup=False)


def _emit(table: pa.Table, fmt: Format, name: str) -> None:
    if fmt is Format.table:
        rounded = [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in table.to_pylist()]
        emit(rounded, fmt, load_standard().indicator(name).title)
        unstable = sum(1 for r in rounded if r.get("unstable"))
        if unstable:
            console.print(f"{unstable} unstable figure(s): see unstable_reason")
    else:
        emit(table, fmt)
