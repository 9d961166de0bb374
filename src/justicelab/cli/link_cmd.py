"""``justicelab link`` and ``justicelab person``: the person index.

Commands that show person-level values go through the gate (``--as`` the reader, ``--purpose`` the
reason, both recorded): ``person show`` reads each dataset at the reader's levels; ``link explain`` and
``link review`` show identifying values of both records, so they need every linkage field of each record
identified (see ``docs/gate.md``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.cli.read_cmd import Gated, PurposeOption, gated
from justicelab.gate import person_lookup, review_lookup
from justicelab.linkage import decide, evaluate, explain, link_run, list_reviews, show_review, status
from justicelab.linkage.review import get_review
from justicelab.linkage.run import MEMORY_LIMIT

app = typer.Typer(help="Link person-bearing records across departments into one person index.",
                  no_args_is_help=True)
review_app = typer.Typer(help="The clerical review queue of uncertain pairs.", no_args_is_help=True)
app.add_typer(review_app, name="review")
person_app = typer.Typer(help="Persons in the index.", no_args_is_help=True)


@app.command("run")
def run(
    incremental: bool = typer.Option(False, "--incremental", help="Link only records that are new or changed "
                                     "since the latest run, with its model; the index a full run would give."),
    reuse_model: bool = typer.Option(False, "--reuse-model", help="Score every pair again but keep the latest "
                                     "run's model instead of training a new one."),
    memory: str = typer.Option(MEMORY_LIMIT, "--memory", help="Memory budget of the linking engine (DuckDB), "
                               "e.g. 3GB; beyond it the engine spills to a temporary folder."),
    fmt: Format = FormatOption,
) -> None:
    """Link every ingested person-bearing record: train the model (unsupervised), score candidate pairs,
    cluster, keep person ids stable across runs, queue uncertain pairs for review.

    Examples: justicelab link run | justicelab link run --incremental
    """
    with open_warehouse() as (_, wh), console.status("linking") as spinner:
        summary = link_run(wh, incremental=incremental, reuse_model=reuse_model,
                           progress=lambda msg: spinner.update(msg), memory_limit=memory)
    emit(summary.as_rows(), fmt, "Link run")


@app.command("status")
def show_status(fmt: Format = FormatOption) -> None:
    """Persons, records, persons by number of records, reviews, and the trained model's match weights.

    Example: justicelab link status
    """
    with open_warehouse() as (_, wh):
        sections = status(wh)
    for title, rows in sections.items():
        emit(rows, fmt, title.capitalize())


@app.command("explain")
def explain_pair(record_a: str, record_b: str, purpose: str = PurposeOption, as_user: str = AsOption,
                 fmt: Format = FormatOption) -> None:
    """Why two records are (or are not) one person: each comparison's level and match weight, as a waterfall.
    Shows both records' identifying values: needs every linkage field of both identified (through the gate).

    Example: justicelab link explain jail_bookings:B20-000001 police_citations:20C000042 --purpose "linkage
    review" --as ana
    """
    with gated(as_user) as g:
        review_lookup(g.warehouse, g.control, g.workspace, g.user, [record_a, record_b], purpose)
        rows = explain(g.warehouse, record_a, record_b)
    emit(rows, fmt, f"{record_a} vs {record_b}")


@app.command("evaluate")
def evaluate_cmd(
    answer_key: Path = typer.Option(..., "--answer-key", help="CSV of source, record_key, person_id."),
    people: Path = typer.Option(None, "--people", help="people.csv for the groups (default: beside the key)."),
    fmt: Format = FormatOption,
) -> None:
    """Pairwise and cluster precision, recall and F1 and blocking pair completeness, overall and by race,
    sex and age band.

    Example: justicelab link evaluate --answer-key data/answer_key/answer_key.csv
    """
    with open_warehouse() as (_, wh):
        rows = evaluate(wh, answer_key, people)
    emit(rows, fmt, "Linkage against the answer key")


@review_app.command("list")
def review_list(status_: str = typer.Option("pending", "--status", help="pending, accepted, rejected, stale or all."),
                limit: int = typer.Option(50, "--limit"), purpose: str = PurposeOption, as_user: str = AsOption,
                fmt: Format = FormatOption) -> None:
    """Uncertain pairs waiting for a decision, strongest first: only pairs whose two records you may review
    (every linkage field identified); the others are counted, not shown.

    Example: justicelab link review list --limit 20 --purpose "linkage review" --as ana
    """
    with gated(as_user) as g:
        rows = list_reviews(g.warehouse, None if status_ == "all" else status_, limit)
        ids = [r for row in rows for r in (row["record_l"], row["record_r"])]
        seen = review_lookup(g.warehouse, g.control, g.workspace, g.user, ids, purpose, strict=False) if ids \
            else None
    visible = {r["_record_id"] for r in seen.records} if seen else set()
    shown = [r for r in rows if r["record_l"] in visible and r["record_r"] in visible]
    emit(shown, fmt, "Review queue")
    if len(shown) < len(rows):
        err_console.print(f"{len(rows) - len(shown)} of {len(rows)} pairs withheld: you may not review both of "
                          "their records for this purpose", highlight=False, markup=False)
        for w in seen.withheld if seen else []:
            err_console.print(f"withheld ({w['dataset']}): {w['reason']}", highlight=False, markup=False)


def _review_records(g: Gated, review_id: int, purpose: str) -> None:
    """Check, through the gate, that the reader may review both records of the review (raises if not)."""
    review = get_review(g.warehouse, review_id)
    review_lookup(g.warehouse, g.control, g.workspace, g.user, [review["record_l"], review["record_r"]], purpose)


@review_app.command("show")
def review_show(review_id: int, purpose: str = PurposeOption, as_user: str = AsOption,
                fmt: Format = FormatOption) -> None:
    """A queued pair's explanation (needs both records reviewable, as `link explain`).

    Example: justicelab link review show 7 --purpose "linkage review" --as ana
    """
    with gated(as_user) as g:
        _review_records(g, review_id, purpose)
        rows = show_review(g.warehouse, review_id)
    emit(rows, fmt, f"Review {review_id}")


NoteOption = typer.Option(None, "--note", help="Why (kept with the decision).")


def _decide(review_id: int, accept: bool, note: str | None, purpose: str, as_user: str | None) -> None:
    with gated(as_user) as g:
        _review_records(g, review_id, purpose)
        console.print(decide(g.warehouse, review_id, accept, by=g.user, note=note))


@review_app.command("accept")
def review_accept(review_id: int, note: str = NoteOption, purpose: str = PurposeOption,
                  as_user: str = AsOption) -> None:
    """The two records are one person: merge them now and in every later run (the acting user decides).

    Example: justicelab link review accept 7 --note "same MRN on the paper chart" --purpose "linkage review"
    --as ana
    """
    _decide(review_id, True, note, purpose, as_user)


@review_app.command("reject")
def review_reject(review_id: int, note: str = NoteOption, purpose: str = PurposeOption,
                  as_user: str = AsOption) -> None:
    """The two records are different people: keep them apart in every later run (the acting user decides).

    Example: justicelab link review reject 7 --note "twins" --purpose "linkage review" --as ana
    """
    _decide(review_id, False, note, purpose, as_user)


@person_app.command("show")
def person_show(person_id: str, purpose: str = PurposeOption, as_user: str = AsOption,
                fmt: Format = FormatOption) -> None:
    """Every record of a person you may see, dataset by dataset, each field at your level; the datasets you
    may not see are listed with the reason (whether or not the person has records there).

    Example: justicelab person show PER-00000042 --purpose "MDT case review" --as bob
    """
    with gated(as_user) as g:
        found = person_lookup(g.warehouse, g.control, g.workspace, g.user, person_id, purpose)
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"person_id": person_id, "records": found.records, "withheld": found.withheld},
                                    indent=2, ensure_ascii=False, default=str) + "\n")
        return
    emit(found.records, fmt, person_id)
    if not found.records:
        err_console.print(f"no records of {person_id} that {g.user} may see for {purpose!r}", highlight=False,
                          markup=False)
    if fmt is Format.table and found.withheld:
        emit(found.withheld, fmt, "Withheld")
    elif found.withheld:
        for w in found.withheld:
            err_console.print(f"withheld ({w['dataset']}): {w['reason']}", highlight=False, markup=False)
