"""``justicelab link`` and ``justicelab person``: the person index."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.linkage import decide, evaluate, explain, link_run, list_reviews, person_records, show_review, status

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
    fmt: Format = FormatOption,
) -> None:
    """Link every ingested person-bearing record: train the model (unsupervised), score candidate pairs,
    cluster, keep person ids stable across runs, queue uncertain pairs for review.

    Examples: justicelab link run | justicelab link run --incremental
    """
    with open_warehouse() as (_, wh), console.status("linking") as spinner:
        summary = link_run(wh, incremental=incremental, reuse_model=reuse_model,
                           progress=lambda msg: spinner.update(msg))
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
def explain_pair(record_a: str, record_b: str, fmt: Format = FormatOption) -> None:
    """Why two records are (or are not) one person: each comparison's level and match weight, as a waterfall.

    Example: justicelab link explain jail_bookings:B20-000001 police_citations:20C000042
    """
    with open_warehouse() as (_, wh):
        rows = explain(wh, record_a, record_b)
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
                limit: int = typer.Option(50, "--limit"), fmt: Format = FormatOption) -> None:
    """Uncertain pairs waiting for a decision, strongest first.

    Example: justicelab link review list --limit 20
    """
    with open_warehouse() as (_, wh):
        rows = list_reviews(wh, None if status_ == "all" else status_, limit)
    emit(rows, fmt, "Review queue")


@review_app.command("show")
def review_show(review_id: int, fmt: Format = FormatOption) -> None:
    """A queued pair's explanation. Example: justicelab link review show 7"""
    with open_warehouse() as (_, wh):
        rows = show_review(wh, review_id)
    emit(rows, fmt, f"Review {review_id}")


NoteOption = typer.Option(None, "--note", help="Why (kept with the decision).")
UserOption = typer.Option(None, "--user", help="Who decides (default: the login name).")


def _decide(review_id: int, accept: bool, note: str | None, user: str | None) -> None:
    with open_warehouse() as (_, wh):
        console.print(decide(wh, review_id, accept, by=user or getpass.getuser(), note=note))


@review_app.command("accept")
def review_accept(review_id: int, note: str = NoteOption, user: str = UserOption) -> None:
    """The two records are one person: merge them now and in every later run.

    Example: justicelab link review accept 7 --note "same MRN on the paper chart"
    """
    _decide(review_id, True, note, user)


@review_app.command("reject")
def review_reject(review_id: int, note: str = NoteOption, user: str = UserOption) -> None:
    """The two records are different people: keep them apart in every later run.

    Example: justicelab link review reject 7 --note "twins"
    """
    _decide(review_id, False, note, user)


@person_app.command("show")
def person_show(person_id: str, fmt: Format = FormatOption) -> None:
    """Every record linked to a person, by department. Example: justicelab person show PER-00000042"""
    with open_warehouse() as (_, wh):
        rows = person_records(wh, person_id)
    emit(rows, fmt, person_id)
