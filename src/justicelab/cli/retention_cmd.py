"""``justicelab retention``: apply the agreements' retention periods to the warehouse."""

from __future__ import annotations

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption, acting
from justicelab.cli.output import Format, FormatOption, emit
from justicelab.control.retention import RetentionRow, run_retention

app = typer.Typer(help="Retention: remove records older than their agreements allow.", no_args_is_help=True)


@app.command("run")
def run(dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be removed; remove nothing."),
        as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Remove warehouse rows older than the retention period of the agreements covering their dataset (by
    the record's event date; the shortest period applies), with every copy of them (person index, links,
    reviews, field changes, quarantined source rows; one column each), and record each removal in the
    ledger (admin).

    Example: justicelab retention run --dry-run --as root
    """
    with open_warehouse() as (ws, wh), acting(as_user) as (session, actor):
        rows = run_retention(session, actor, wh, dry_run=dry_run, root=ws.root)
    emit(_flat(rows), fmt, "Retention" + (" (dry run)" if dry_run else ""))


def _flat(rows: list[RetentionRow]) -> list[dict[str, object]]:
    """One column per table copies were removed from (0 for a skipped dataset)."""
    tables = list(dict.fromkeys(t for r in rows for t in r.copies))
    return [{**{k: v for k, v in r.as_dict().items() if k != "copies"}, **{t: r.copies.get(t, 0) for t in tables}}
            for r in rows]
