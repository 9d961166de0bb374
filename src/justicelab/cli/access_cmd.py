"""``justicelab access``: what a user may see of a dataset, field by field, and why."""

from __future__ import annotations

import json
import sys

import typer
from rich.markup import escape

from justicelab.cli.control_cmd import AsOption, acting, moment
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.gate.explain import access_report

app = typer.Typer(help="Explain access: what a user may see of a dataset and why.", no_args_is_help=True)


@app.command("check")
def check(
    user: str = typer.Argument(..., help="Whose access to explain."),
    dataset: str = typer.Argument(..., help="The dataset, e.g. ed_visit."),
    purpose: str = typer.Option(None, "--purpose", help="The purpose of the read (default: every purpose the "
                                "user's grants on the dataset name)."),
    at: str = typer.Option(None, "--at", help="As the grants stand at this time (YYYY-MM-DD[THH:MM]); default now."),
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """What USER may see of DATASET: each field's level and how it is shown (as recorded, pseudonymised,
    generalised, dropped), on which rows, through which grant and agreement, or why not. Nothing is read.
    You may check yourself; an admin or a steward of the dataset's owner may check anyone.

    Example: justicelab access check bob ed_visit --purpose "MDT case review" --as alice
    """
    with acting(as_user) as (session, actor):
        report = access_report(session, actor, user, dataset, purpose, moment(at, "--at"))
    if fmt is Format.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
        return
    if fmt is Format.csv:
        emit(list(report.rows), fmt)
        return
    for c in report.compositions:
        heading = f"{user} reading {dataset} for purpose {c.purpose!r}" if c.purpose else f"{user} reading {dataset}"
        denied = c.denial()
        if c.parts:
            emit([{k: v for k, v in r.items() if k != "purpose"} for r in report.rows if r["purpose"] == c.purpose],
                 fmt, heading)
        else:
            console.print(f"[bold]{escape(heading)}[/]")
        regions = [p for p in c.parts if p.rows is not None]
        if regions:
            console.print("Row restrictions: each row falls in exactly one region above, and is shown with that "
                          "region's levels; rows in no region are not shown.", highlight=False)
        if c.min_cell_size:
            console.print(f"Aggregates: cells under {c.min_cell_size} are suppressed (agreement terms).",
                          highlight=False)
        if c.check is not None:
            for r in c.check.refused:
                console.print(f"not applied: grant #{r.grant.id} ({r.grant.principal}, {r.grant.level.value}, "
                              f"agreement {r.grant.agreement.code}): {', '.join(r.reasons)}", highlight=False,
                              markup=False)
        if denied is None:  # a denial already says these
            for note in c.notes:
                console.print(f"gives no rows now: {note}", highlight=False, markup=False)
        else:
            console.print(f"[bold red]no rows:[/] {escape(str(denied))}", highlight=False)
