"""Retention: remove warehouse rows older than the retention period of the agreements covering them.

A row's age is its event date: the entity's first date or timestamp field other than the date of birth.
When several agreements with a retention period cover a dataset, the shortest applies (each period is a
maximum). Rows without an event date are kept and counted. Each removal is recorded in the ledger, which
commits before the warehouse does: a failure in between leaves a record of a removal still to redo, never
a removal without a record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.agreements import list_agreements
from justicelab.control.authz import require_admin
from justicelab.control.models import User
from justicelab.control.periods import shift, utcnow
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _event_field(entity: Any) -> str | None:
    # The linkage layer defines "a record's event date"; imported here, not copied, so both agree.
    from justicelab.linkage.records import event_date_field

    return event_date_field(entity)


def _count(warehouse: Warehouse, dataset: str, field: str, cutoff: dt.date) -> tuple[int, int]:
    """Rows dated before ``cutoff`` and rows with no date."""
    old, undated = warehouse.execute(
        f'SELECT count(*) FILTER (WHERE CAST("{field}" AS DATE) < DATE \'{cutoff.isoformat()}\'), '
        f'count(*) FILTER (WHERE "{field}" IS NULL) FROM "{dataset}"')[0]
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


def run_retention(session: Session, actor: User, warehouse: Warehouse, *, dry_run: bool = False,
                  today: dt.date | None = None, standard: Standard | None = None) -> list[RetentionRow]:
    """Apply every agreement's retention period to the warehouse (admin only); ``dry_run`` only counts."""
    require_admin(actor, "run retention")
    standard = standard or load_standard()
    today = today or utcnow().date()
    results: list[RetentionRow] = []
    work: list[tuple[str, str, str, dt.date, int]] = []
    for dataset, (code, period, cutoff) in sorted(_plan(session, today).items()):
        entity = standard.entities.get(dataset)
        field = _event_field(entity) if entity else None
        if field is None or not warehouse.has_table(dataset):
            why = "skipped: no event date field" if field is None else "skipped: not in the warehouse"
            results.append(RetentionRow(dataset, code, period, field, cutoff, 0, 0, why))
            continue
        old, undated = _count(warehouse, dataset, field, cutoff)
        action = "would remove" if dry_run else "removed"
        results.append(RetentionRow(dataset, code, period, field, cutoff, old, undated, action))
        if old:
            work.append((dataset, code, field, cutoff, old))
    if dry_run:
        return results
    with warehouse.transaction():
        for dataset, code, field, cutoff, _ in work:
            count = _count(warehouse, dataset, field, cutoff)[0]
            warehouse.execute(f'DELETE FROM "{dataset}" WHERE CAST("{field}" AS DATE) < DATE \'{cutoff.isoformat()}\'')
            audit.record(session, actor, "retention.remove", f"dataset:{dataset}",
                         {"dataset": dataset, "agreement": code, "event_field": field, "cutoff": cutoff,
                          "rows": count})
        audit.record(session, actor, "retention.run", "warehouse",
                     {"today": today, "datasets": [r.as_dict() for r in results]})
        session.commit()
    return results
