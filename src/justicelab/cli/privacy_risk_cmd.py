"""``justicelab privacy assess``: disclosure risk of a warehouse dataset (read through the gate as a user for a
purpose) or of a file, on chosen quasi-identifiers. Also the dataset opening ``privacy anonymize`` shares."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.cli.read_cmd import gated
from justicelab.errors import WorkspaceError
from justicelab.privacy.risk import (
    DEFAULT_THRESHOLD,
    Dataset,
    GatedRead,
    RiskError,
    RiskReport,
    open_file,
    open_gated_table,
)
from justicelab.privacy.risk import assess as assess_dataset
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser, Warehouse

PurposeOption = typer.Option(None, "--purpose", help="Why you read the warehouse dataset: one of the purposes of "
                             "the agreement your grant is under, e.g. research (recorded in the audit ledger). "
                             "Not needed with --file.")


def need_purpose(command: str, dataset: str, purpose: str | None) -> str:
    """``purpose``, or an error saying a warehouse dataset is read through the gate and needs one."""
    if not purpose:
        raise RiskError(f"{command} {dataset} reads person-level rows from the warehouse through the gate: give "
                        "--purpose TEXT (why, recorded in the audit ledger) and --as USER (or JUSTICELAB_USER), "
                        "or --file PATH for a file you already hold")
    return purpose


def note_read(read: GatedRead | None, dataset: str) -> None:
    """Tell the user (on stderr) what the gate let them read and where it is recorded."""
    if read is None:
        return
    err_console.print(f"{read.rows} rows of {dataset} read through the gate by {read.user} for {read.purpose!r}; "
                      f"audit entry #{read.entry}", highlight=False, markup=False)
    if read.withheld:
        err_console.print(f"not readable at this level: {', '.join(read.withheld)}", highlight=False, markup=False)


@contextlib.contextmanager
def open_dataset(name: str | None, file: Path | None, entity: str | None, as_user: str | None,
                 purpose: str | None, command: str = "privacy assess") -> Iterator[tuple[Dataset, Generaliser]]:
    """The file at ``file``, or warehouse dataset ``name`` read through the gate as the acting user for
    ``purpose``; with the generaliser for the workspace's reference tables."""
    standard = load_standard()
    if (name is None) == (file is None):
        raise RiskError("name a DATASET (a table of the workspace's warehouse) or give --file PATH, not both")
    if file is not None:
        with contextlib.ExitStack() as stack:
            wh: Warehouse | None = None
            with contextlib.suppress(WorkspaceError):
                wh = stack.enter_context(open_warehouse())[1]
            gen = Generaliser.for_warehouse(standard, wh) if wh else Generaliser(standard)
            with open_file(file, standard, entity, wh) as ds:
                yield ds, gen
        return
    assert name is not None
    why = need_purpose(command, name, purpose)
    with gated(as_user) as g:
        gen = Generaliser.for_warehouse(standard, g.warehouse)
        with open_gated_table(g.warehouse, g.control, g.workspace, g.user, name, why, standard=standard,
                              generaliser=gen) as ds:
            note_read(ds.gate, name)
            yield ds, gen


def _print(report: RiskReport) -> None:
    qi = ", ".join(a.describe() for a in report.qi)
    emit(report.measures(), Format.table, f"Disclosure risk of {report.dataset} on {qi}")
    emit(report.size_buckets(), Format.table, "Equivalence classes by size")
    if report.top:
        emit(report.top, Format.table, f"The {len(report.top)} riskiest records")


def assess(
    dataset: str = typer.Argument(None, help="A dataset of the workspace's warehouse, e.g. custody_death, read "
                                  "through the gate: each column at the level your grants allow."),
    qi: str = typer.Option(..., "--qi", help="Quasi-identifiers, comma-separated: [LABEL=]NAME[:LEVEL], e.g. "
                           "county,year,month,age:band_5,sex,race (year/month/quarter/day come from the event "
                           "date; a level is one of the column's hierarchy in the standard)."),
    sensitive: str = typer.Option(None, "--sensitive", help="Sensitive attributes, comma-separated; add :ordered "
                                  "or :categorical to choose t-closeness's distance."),
    file: Path = typer.Option(None, "--file", help="Measure a CSV or Parquet file instead of a warehouse table."),
    entity: str = typer.Option(None, "--entity", help="With --file: the standard table the file follows "
                               "(for its hierarchies and record key)."),
    where: str = typer.Option(None, "--where", help="A SQL condition on the dataset's columns, e.g. "
                              "\"date_of_death >= DATE '2005-01-01'\"."),
    date_field: str = typer.Option(None, "--date-field", help="The date year/month/quarter/day are read from "
                                   "(default: the table's one event date)."),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, "--threshold", help="A record is at risk above this "
                                    "re-identification probability (default 1/11: a class smaller than 11)."),
    population: Path = typer.Option(None, "--population", help="CSV/Parquet of population counts: a column per "
                                    "quasi-identifier label and a population (or count) column; default: the "
                                    "warehouse population table where the quasi-identifiers map to it."),
    top: int = typer.Option(10, "--top", min=0, help="List this many of the riskiest records."),
    records: Path = typer.Option(None, "--records", help="Write every record's risk to this .csv or .parquet file."),
    purpose: str = PurposeOption,
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """k-anonymity, l-diversity, t-closeness, sample uniqueness, prosecutor/journalist/marketer risk and the
    riskiest records of a dataset, measured in DuckDB. A warehouse dataset is read through the gate as you, for
    a purpose (recorded in the audit ledger; a refusal exits 3): de-identified columns as the gate shows them.

    Examples:
      justicelab privacy assess custody_death --as ana --purpose research \
          --qi county,year,month,age,sex,race --sensitive manner_of_death
      justicelab privacy assess --file release.csv --qi county:region,year,age:band_10,sex --top 5 -f json
    """
    with open_dataset(dataset, file, entity, as_user, purpose) as (ds, gen), console.status(f"measuring {ds.name}"):
        report = assess_dataset(ds, qi, sensitive, generaliser=gen, threshold=threshold, where=where,
                                population=population, top=top, date_field=date_field, records_out=records)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.csv:
        emit(report.measures(), fmt)
    else:
        _print(report)
        if records:
            console.print(f"every record's risk written to {records}")
