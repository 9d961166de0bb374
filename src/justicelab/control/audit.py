"""The audit ledger: append-only, hash-chained entries for every control-plane change and every gate read.

:func:`record` appends inside the caller's transaction, so a change and its entry commit together or not
at all. Appends are serialised by locking the ledger's head row (``SELECT ... FOR UPDATE`` on PostgreSQL;
on SQLite every transaction already holds the database write lock from ``BEGIN IMMEDIATE``), so two
processes can never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from justicelab.control.chain import Entry, Verdict, make_entry, verify_chain
from justicelab.control.levels import Level
from justicelab.control.models import AuditEntry, AuditHead, User
from justicelab.control.periods import as_utc, utcnow

Actor = User | str | None


def _actor_name(actor: Actor) -> str | None:
    return actor.username if isinstance(actor, User) else actor


def record(session: Session, actor: Actor, action: str, target: str,
           details: Mapping[str, Any] | None = None, at: dt.datetime | None = None) -> Entry:
    """Append one entry (who did what to which thing, with details as JSON) in the session's transaction."""
    session.flush()
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).one()
    entry = make_entry(head.seq + 1, at or utcnow(), _actor_name(actor), action, target, details, head.hash)
    session.execute(insert(AuditEntry).values(
        seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action, target=entry.target,
        details=entry.details, prev_hash=entry.prev_hash, hash=entry.hash))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=entry.seq, hash=entry.hash))
    return entry


def query_fingerprint(query_text: str) -> str:
    """SHA-256 of a query's text: the ledger keeps what was asked without keeping the query itself."""
    return hashlib.sha256(query_text.encode("utf-8")).hexdigest()


def record_read(session: Session, user: Actor, *, dataset: str, purpose: str, fields: Sequence[str],
                level: Level | Mapping[str, Level], row_count: int, query_fingerprint: str,
                grants: Sequence[int] = (), details: Mapping[str, Any] | None = None) -> Entry:
    """The gate's record of one read: who, why, which dataset and fields at which level(s), how many rows."""
    body: dict[str, Any] = {
        "purpose": purpose, "dataset": dataset, "fields": list(fields),
        "level": level.value if isinstance(level, Level) else {k: Level(v).value for k, v in level.items()},
        "row_count": int(row_count), "query_fingerprint": query_fingerprint, "grants": list(grants),
    }
    body.update(details or {})
    return record(session, user, "read", dataset, body)


def record_denial(session: Session, user: Actor, *, dataset: str, purpose: str, reason: str,
                  details: Mapping[str, Any] | None = None) -> Entry:
    """The gate's record of a refused read, with the reason it gave."""
    return record(session, user, "read.denied", dataset,
                  {"purpose": purpose, "dataset": dataset, "reason": reason, **(details or {})})


_COLUMNS = (AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.target,
            AuditEntry.details, AuditEntry.prev_hash, AuditEntry.hash)


def _as_entry(row: Any) -> Entry:
    return Entry(int(row.seq), row.at, row.actor, row.action, row.target, row.details, row.prev_hash, row.hash)


def _since(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return as_utc(value)
    return dt.datetime.combine(value, dt.time(), dt.UTC)


def entries(session: Session, *, actor: str | None = None, action: str | None = None, target: str | None = None,
            since: dt.date | dt.datetime | None = None, until: dt.date | dt.datetime | None = None,
            limit: int | None = None) -> list[Entry]:
    """Ledger entries, oldest first. ``action`` matches itself and its sub-actions (``grant`` ->
    ``grant.add``, ``grant.revoke``); ``until`` is exclusive (a date means its start)."""
    q = select(*_COLUMNS).order_by(AuditEntry.seq)
    if actor is not None:
        q = q.where(AuditEntry.actor == actor)
    if action is not None:
        q = q.where(or_(AuditEntry.action == action, AuditEntry.action.like(f"{action}.%")))
    if target is not None:
        q = q.where(AuditEntry.target == target)
    if since is not None:
        q = q.where(AuditEntry.at >= _since(since))
    if until is not None:
        q = q.where(AuditEntry.at < _since(until))
    if limit is not None:
        q = q.order_by(None).order_by(AuditEntry.seq.desc()).limit(limit)
        return sorted((_as_entry(r) for r in session.execute(q)), key=lambda e: e.seq)
    return [_as_entry(r) for r in session.execute(q)]


def head(session: Session) -> tuple[int, str]:
    """The ledger head as recorded: the last entry's number and hash."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return int(row.seq), str(row.hash)


def _stream(session: Session, batch: int = 2000) -> Iterator[Entry]:
    last = 0
    while True:
        rows = session.execute(select(*_COLUMNS).where(AuditEntry.seq > last).order_by(AuditEntry.seq)
                               .limit(batch)).all()
        for r in rows:
            yield _as_entry(r)
        if len(rows) < batch:
            return
        last = rows[-1].seq


def verify(session: Session, anchors: Mapping[int, str] | None = None) -> Verdict:
    """Recompute the whole chain from the database and compare it with the head row (and any anchors).

    The head row is share-locked first (PostgreSQL), so appends wait until the check ends and the
    entries read are exactly those the head accounts for."""
    recorded = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
                               .with_for_update(read=True)).one()
    return verify_chain(_stream(session), (int(recorded.seq), str(recorded.hash)), anchors)
