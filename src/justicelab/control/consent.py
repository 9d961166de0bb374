"""Consent records: a person's consent to a program using their records of one legal class (scope), until
an expiry date (inclusive) or revocation. The gate asks which persons have current consent."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.authz import is_admin, require_any_role
from justicelab.control.errors import ControlError, NotPermitted
from justicelab.control.models import Consent, Dataset, Department, User
from justicelab.control.periods import as_utc, utcnow
from justicelab.control.rules import PROGRAM
from justicelab.standard import LegalClass, Standard, load_standard

#: Roles that may record and revoke consent.
CONSENT_ROLES = ("admin", "steward", "mdt_member")


def _check(program: str, scope: str) -> tuple[str, str]:
    if not re.match(PROGRAM, program):
        raise ControlError(f"program {program!r}: expected lower-case letters, digits and _ (e.g. mdt)")
    scopes = [c.value for c in LegalClass]
    if scope not in scopes:
        raise ControlError(f"scope {scope!r}: expected a legal class of the standard: {', '.join(scopes)}")
    return program, scope


def scopes_held(session: Session, departments: Iterable[str], standard: Standard | None = None) -> set[str]:
    """The legal classes of the records ``departments`` share: those of the fields of the datasets they own.
    A consent covering a class is theirs to record, revoke and see (a police steward has no business with
    who consented to share substance-use treatment records)."""
    standard = standard or load_standard()
    owned = session.scalars(select(Dataset.name).join(Department, Department.id == Dataset.owner_id)
                            .where(Department.code.in_(list(departments))))
    return {f.legal_class.value for name in owned for f in standard.entity(name).fields if f.legal_class}


def require_consent_holder(session: Session, actor: User, scope: str, doing: str) -> None:
    """An admin, or a user with a consent role in a department sharing records of ``scope``."""
    require_any_role(actor, CONSENT_ROLES, doing)
    if is_admin(actor) or scope in scopes_held(session, actor.department_codes):
        return
    raise NotPermitted(f"{actor.username} may not {doing} covering {scope}: only members of a department that "
                       f"shares {scope} records, or an admin, may")


def _current(at: dt.datetime) -> ColumnElement[bool]:
    return and_(Consent.recorded_at <= at, or_(Consent.revoked_at.is_(None), Consent.revoked_at > at),
                or_(Consent.expires.is_(None), Consent.expires >= at.date()))


def record_consent(session: Session, actor: User, person_id: str, *, program: str, scope: str,
                   expires: dt.date | None = None, note: str | None = None) -> Consent:
    """Record that ``person_id`` consents to ``program`` using their ``scope`` records (through ``expires``)."""
    program, scope = _check(program, scope)
    require_consent_holder(session, actor, scope, "record consent")
    if not person_id.strip():
        raise ControlError("a consent needs a person id")
    now = utcnow()
    if expires is not None and expires < now.date():
        raise ControlError(f"consent expiry {expires} is in the past")
    row = Consent(person_id=person_id.strip(), program=program, scope=scope, recorded_at=now,
                  recorded_by=actor.username, expires=expires, note=note)
    session.add(row)
    session.flush()
    audit.record(session, actor, "consent.record", f"person:{row.person_id}",
                 {"consent": row.id, "program": program, "scope": scope, "expires": expires, "note": note})
    return row


def revoke_consent(session: Session, actor: User, person_id: str, *, program: str, scope: str | None = None,
                   reason: str | None = None) -> list[Consent]:
    """Revoke the person's current consents for ``program`` (one ``scope``, or all the actor may manage); an
    error if none. Permission is checked before anything is looked up, so a refusal reveals nothing."""
    if scope is not None:
        _check(program, scope)
        require_consent_holder(session, actor, scope, "revoke consent")
        allowed = {scope}
    else:
        require_any_role(actor, CONSENT_ROLES, "revoke consent")
        allowed = {c.value for c in LegalClass} if is_admin(actor) else scopes_held(session, actor.department_codes)
        if not allowed:
            raise NotPermitted(f"{actor.username} may not revoke consent: their departments share no records a "
                               "consent covers")
    now = utcnow()
    q = select(Consent).where(Consent.person_id == person_id, Consent.program == program, _current(now),
                              Consent.scope.in_(sorted(allowed)))
    rows = list(session.scalars(q))
    if not rows:
        raise ControlError(f"{person_id} has no current consent for {program}"
                           + (f" / {scope}" if scope else ""))
    for row in rows:
        row.revoked_at, row.revoked_by = now, actor.username
        audit.record(session, actor, "consent.revoke", f"person:{person_id}",
                     {"consent": row.id, "program": program, "scope": row.scope, "reason": reason})
    return rows


def list_consents(session: Session, *, person_id: str | None = None, program: str | None = None,
                  current_at: dt.datetime | None = None) -> list[Consent]:
    """Consent records, oldest first; only those current at ``current_at`` when given."""
    q = select(Consent).order_by(Consent.id)
    if person_id is not None:
        q = q.where(Consent.person_id == person_id)
    if program is not None:
        q = q.where(Consent.program == program)
    if current_at is not None:
        q = q.where(_current(as_utc(current_at)))
    return list(session.scalars(q))


def consented_persons(session: Session, program: str, scope: str, at: dt.datetime | None = None) -> frozenset[str]:
    """The person ids with a current consent for ``program`` and ``scope`` at ``at`` (default now)."""
    _check(program, scope)
    at = as_utc(at) if at else utcnow()
    q = select(Consent.person_id).where(Consent.program == program, Consent.scope == scope, _current(at))
    return frozenset(session.scalars(q))


def has_consent(session: Session, person_id: str, program: str, scope: str, at: dt.datetime | None = None) -> bool:
    """Whether one person has a current consent for ``program`` and ``scope`` at ``at``."""
    _check(program, scope)
    at = as_utc(at) if at else utcnow()
    q = select(Consent.id).where(Consent.person_id == person_id, Consent.program == program,
                                 Consent.scope == scope, _current(at)).limit(1)
    return session.scalar(q) is not None
