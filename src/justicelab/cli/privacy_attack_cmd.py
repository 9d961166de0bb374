"""``justicelab privacy attack``: a simulated linkage attack of press releases or court calendars on a release."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.errors import WorkspaceError
from justicelab.privacy.attack import AttackResult, attack
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser


def _print(result: AttackResult) -> None:
    emit([{"release column": q.release_column, "external column": q.external_column,
           "level": f"{q.hierarchy}.{q.level}" if q.hierarchy else "as recorded", "found by": q.found_by,
           "also fits": ", ".join(q.also_fits)} for q in result.quasi_identifiers],
         Format.table, "Quasi-identifiers linked on")
    emit(result.measures(), Format.table, f"Linkage attack of {result.external.name} on {result.release.name}")
    emit(result.size_rows(), Format.table, "External records by number of matching released records")
    if result.claims:
        emit(result.claim_rows(), Format.table, f"The {len(result.claims)} unique matches")


def attack_cmd(
    release: Path = typer.Argument(..., help="The released table: a CSV or Parquet file, one row per record."),
    external: Path = typer.Option(..., "--external", help="What the attacker knows: a CSV or Parquet file of "
                                  "quasi-identifiers (press releases, court calendars), one row per notice."),
    qi: str = typer.Option(None, "--qi", help="Columns to link on, comma-separated [RELEASE=]NAME[:LEVEL], e.g. "
                           "age,sex,race,county,date or year=date; NAME may be a prefix (race → race_ethnicity). "
                           "Default: every column both files share, except truth, names and ids."),
    truth_column: str = typer.Option(None, "--truth-column", help="The true record (or person) id, in both "
                                     "files (NAME, or RELEASE=EXTERNAL): only to score the claims, never linked on."),
    metadata: Path = typer.Option(None, "--metadata", help="Release metadata JSON giving each quasi-identifier's "
                                  "level (quasi_identifiers); default: the level is read from the labels."),
    name_column: str = typer.Option(None, "--name-column", help="The external column with the person's name, "
                                    "shown beside each claim (default: name, if present)."),
    show: bool = typer.Option(False, "--show", help="List every unique match (with --format csv: the list "
                              "instead of the figures)."),
    fmt: Format = FormatOption,
) -> None:
    """Link an external file to a release on their shared quasi-identifiers, at the release's level of
    detail (age 33 matches the band 30-34, a date its month, a county its region), and count the released
    records re-identified uniquely and correctly.

    Examples:
      justicelab privacy attack release/custody_death.csv --external press_releases.csv
      justicelab privacy attack release.csv --external press.csv --qi age,sex,race,county,date \\
          --truth-column record_id --show -f json
    """
    standard = load_standard()
    with contextlib.ExitStack() as stack:
        warehouse = None
        with contextlib.suppress(WorkspaceError):
            warehouse = stack.enter_context(open_warehouse())[1]
        generaliser = Generaliser.for_warehouse(standard, warehouse) if warehouse else Generaliser(standard)
        with console.status(f"linking {external.name} to {release.name}"):
            result = attack(release, external, qi=qi, truth_column=truth_column, metadata=metadata,
                            name_column=name_column, show=show, generaliser=generaliser)
    for warning in result.warnings:
        err_console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.csv:
        emit(result.claim_rows() if show else result.measures(), fmt)
    else:
        _print(result)
