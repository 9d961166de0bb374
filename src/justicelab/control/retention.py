"""Retention: remove warehouse rows older than the retention period of the agreements covering them.

A row's age is its event date: the entity's first date or timestamp field other than the date of birth.
When several agreements with a retention period cover a dataset, the shortest applies (each period is a
maximum). Rows without an event date are kept and counted. Every copy of a removed row goes with it, in the
same warehouse transaction: its linkage rows, its recorded field changes, and the dataset's quarantined
source rows older than the cutoff (see :mod:`justicelab.control.retention_copies`). Each removal is recorded
in the ledger with its counts, and the ledger commits before the warehouse does: a failure in between leaves
a record of a removal still to redo, never a removal without a record. A dry run does the same work in a
warehouse transaction it rolls back, so it reports exactly what a run would remove.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.agreements import list_agreements
from justicelab.control.authz import require_admin
from justicelab.control.models import User
from justicelab.control.periods import shift, utcnow
from justicelab.control.retention_copies import remove_copies
from justicelab.standard import Standard, load_standard
from justicelab.warehouse import Warehouse


@dataclass(frozen=True)
class RetentionRow:
    """What retention does (or would do) to one dataset."""

    dataset: str
    agreement: str
    retention: str
    event_field: str | None
    cutoff: dt.date
    rows: int  # removed, or that would be removed with --dry-run
    undated: int  # kept: no event date
    action: str
    copies: dict[str, int] = field(default_factory=dict)  # table -> copies removed (or that would be)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _event_field(entity: Any) -> str | None:
    # The linkage layer defines "a record's event date"; imported here, not copied, so both agree.
    from justicelab.linkage.records import event_date_field

    return event_date_field(entity)


def _older(event_field: str, cutoff: dt.date) -> str:
    """SQL: the row's event is before ``cutoff``."""
    return f'CAST("{event_field}" AS DATE) < DATE \'{cutoff.isoformat()}\''


def _count(warehouse: Warehouse, dataset: str, event_field: str, cutoff: dt.date) -> tuple[int, int]:
    """Rows dated before ``cutoff`` and rows with no date."""
    old, undated = warehouse.execute(
        f'SELECT count(*) FILTER (WHERE {_older(event_field, cutoff)}), '
        f'count(*) FILTER (WHERE "{event_field}" IS NULL) FROM "{dataset}"')[0]
    return int(old or 0), int(undated or 0)


def _plan(session: Session, today: dt.date) -> dict[str, tuple[str, str, dt.date]]:
    """dataset -> (agreement, retention, cutoff) with the latest cutoff (the shortest period) among agreements."""
    plan: dict[str, tuple[str, str, dt.date]] = {}
    for ag in list_agreements(session):
        if not ag.retention:
            continue
        cutoff = shift(today, ag.retention, -1)
        for cov in ag.coverage:
            name = cov.dataset.name
            if name not in plan or cutoff > plan[name][2]:
                plan[name] = (ag.code, ag.retention, cutoff)
    return plan


class _DryRun(Exception):
    """Rolls a dry run's warehouse transaction back."""


def run_retention(session: Session, actor: User, warehouse: Warehouse, *, dry_run: bool = False,
                  today: dt.date | None = None, standard: Standard | None = None,
                  root: Path | None = None) -> list[RetentionRow]:
    """Apply every agreement's retention period to the warehouse (admin only); ``dry_run`` only counts.
    ``root``: the workspace folder, where relative mapping paths of the batch log are read from."""
    require_admin(actor, "run retention")
    standard = standard or load_standard()
    today = today or utcnow().date()
    results: list[RetentionRow] = []
    for dataset, (code, period, cutoff) in sorted(_plan(session, today).items()):
        entity = standard.entities.get(dataset)
        when = _event_field(entity) if entity else None
        if when is None or not warehouse.has_table(dataset):
            why = "skipped: no event date field" if when is None else "skipped: not in the warehouse"
            results.append(RetentionRow(dataset, code, period, when, cutoff, 0, 0, why))
            continue
        old, undated = _count(warehouse, dataset, when, cutoff)
        results.append(RetentionRow(dataset, code, period, when, cutoff, old, undated,
                                    "would remove" if dry_run else "removed"))
    try:
        with warehouse.transaction():
            results = [r if r.action.startswith("skipped") else
                       _remove(session, actor, warehouse, r, standard, root, dry_run) for r in results]
            if dry_run:
                raise _DryRun
            audit.record(session, actor, "retention.run", "warehouse",
                         {"today": today, "datasets": [r.as_dict() for r in results]})
            session.commit()
    except _DryRun:
        pass
    return results


def _remove(session: Session, actor: User, warehouse: Warehouse, row: RetentionRow, standard: Standard,
            root: Path | None, dry_run: bool) -> RetentionRow:
    """Remove one dataset's old rows and their copies (inside the run's transaction); the row, with counts."""
    assert row.event_field is not None
    older = _older(row.event_field, row.cutoff)
    count = _count(warehouse, row.dataset, row.event_field, row.cutoff)[0]
    copies = remove_copies(warehouse, row.dataset, row.event_field, row.cutoff,
                           f'SELECT _record_id FROM "{row.dataset}" WHERE {older} AND _record_id IS NOT NULL',
                           standard, root)
    if count:
        warehouse.execute(f'DELETE FROM "{row.dataset}" WHERE {older}')
    if not dry_run and (count or any(copies.values())):
        audit.record(session, actor, "retention.remove", f"dataset:{row.dataset}",
                     {"dataset": row.dataset, "agreement": row.agreement, "event_field": row.event_field,
                      "cutoff": row.cutoff, "rows": count, "copies": copies})
    return replace(row, rows=count, copies=copies)
