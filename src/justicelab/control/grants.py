"""Grants: dataset × principal (user, role or department) × level × fields × row rule × agreement × purpose
× term. Only a steward of the owning department (or an admin) may grant, and only within the agreement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.accounts import get_department, get_user
from justicelab.control.agreements import coverage_of, get_agreement, max_level_for
from justicelab.control.authz import require_steward
from justicelab.control.datasets import entity_of, get_dataset
from justicelab.control.errors import ControlError
from justicelab.control.levels import Level
from justicelab.control.lookup import by_id
from justicelab.control.models import PRINCIPAL_KINDS, ROLES, Agreement, Grant, User
from justicelab.control.periods import utcnow
from justicelab.control.rules import RowRule, parse_row_rule
from justicelab.standard import Standard


def some_level(value: Level | str, if_none: str) -> Level:
    """``value`` as a Level above ``none`` (which grants and requests never are), or a clear error."""
    try:
        level = Level(value)
    except ValueError:
        raise ControlError(f"level {value!r}: expected one of {', '.join(lv.value for lv in Level)}") from None
    if level is Level.none:
        raise ControlError(if_none)
    return level


def same_purpose(a: str, b: str) -> bool:
    """Purposes match regardless of case and spacing ("MDT case review" == "mdt  case review")."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def agreement_purpose(agreement: Agreement, purpose: str) -> str | None:
    """The agreement's own spelling of ``purpose``, or None when it does not list it."""
    return next((p for p in agreement.purposes if same_purpose(p, purpose)), None)


def parse_principal(session: Session, text: str) -> tuple[str, str]:
    """``user:NAME``, ``role:NAME`` or ``department:NAME``, checked to exist."""
    kind, sep, name = text.partition(":")
    if not sep or kind not in PRINCIPAL_KINDS or not name:
        raise ControlError(f"grantee {text!r}: expected user:NAME, role:NAME or department:NAME")
    if kind == "user":
        get_user(session, name)
    elif kind == "department":
        get_department(session, name)
    elif name not in ROLES:
        raise ControlError(f"grantee {text!r}: no role {name!r} (roles: {', '.join(ROLES)})")
    return kind, name


def add_grant(session: Session, actor: User, *, dataset: str, principal: str, level: Level | str, agreement: str,
              fields: Sequence[str] | None = None, row_rule: str | dict | RowRule | None = None,
              purpose: str | None = None, starts: dt.date | None = None, expires: dt.date | None = None,
              today: dt.date | None = None, standard: Standard | None = None,
              details: dict | None = None) -> Grant:
    """Grant ``principal`` access to ``dataset`` at ``level`` under ``agreement``.

    Refused unless the actor is a steward of the dataset's owner (or an admin), the agreement covers the
    dataset and fields, the level is at most the agreement's maximum for the dataset, the purpose (if any)
    is one of the agreement's, and the grant's term lies inside the agreement's."""
    ds = get_dataset(session, dataset)
    require_steward(actor, ds, f"grant access to {dataset}")
    entity = entity_of(dataset, standard)
    level = some_level(level, "a grant at level none gives nothing: access is denied by default (revoke grants "
                              "instead)")
    kind, name = parse_principal(session, principal)
    ag = get_agreement(session, agreement)
    cov = coverage_of(ag, dataset)
    if cov is None:
        covered = ", ".join(c.dataset.name for c in ag.coverage)
        raise ControlError(f"agreement {ag.code} does not cover {dataset} (it covers {covered})")
    top = max_level_for(ag, cov)
    if level > top:
        raise ControlError(f"level {level.value} is above agreement {ag.code}'s maximum for {dataset} "
                           f"({top.value})")
    names = entity.field_names()
    if fields is not None:
        fields = list(dict.fromkeys(fields))
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise ControlError(f"{', '.join(unknown)}: not field(s) of {dataset} (fields: {', '.join(names)})")
        if cov.fields is not None:
            outside = [f for f in fields if f not in cov.fields]
            if outside:
                raise ControlError(f"agreement {ag.code} does not cover {dataset}.{', '.join(outside)} (it covers "
                                   f"{', '.join(cov.fields)})")
        if not fields:
            raise ControlError("an empty field list grants nothing")
    rule = row_rule if isinstance(row_rule, RowRule) or row_rule is None else parse_row_rule(row_rule, entity)
    if purpose is not None:
        spelled = agreement_purpose(ag, purpose)
        if spelled is None:
            raise ControlError(f"purpose {purpose!r} is not among agreement {ag.code}'s purposes: "
                               f"{'; '.join(ag.purposes)}")
        purpose = spelled
    today = today or utcnow().date()
    starts = starts or max(today, ag.starts)
    expires = expires or ag.ends
    if ag.ends < today:
        raise ControlError(f"agreement {ag.code} ended on {ag.ends}: no new grants under it")
    if starts < ag.starts or expires > ag.ends:
        raise ControlError(f"grant term {starts}..{expires} is outside agreement {ag.code}'s term "
                           f"{ag.starts}..{ag.ends}")
    if expires < starts:
        raise ControlError(f"grant expires ({expires}) before it starts ({starts})")
    if expires < today:
        raise ControlError(f"grant expiry {expires} is in the past")
    grant = Grant(dataset=ds, principal_kind=kind, principal_name=name, level=level.value, fields=fields,
                  row_rule=rule.as_dict() if rule else None, agreement=ag, purpose=purpose, starts=starts,
                  expires=expires, created_at=utcnow(), created_by=actor.username)
    session.add(grant)
    session.flush()
    audit.record(session, actor, "grant.add", f"grant:{grant.id}", {
        "dataset": dataset, "principal": grant.principal, "level": level.value, "fields": fields,
        "row_rule": grant.row_rule, "agreement": ag.code, "purpose": purpose, "starts": starts,
        "expires": expires, **(details or {})})
    return grant


def get_grant(session: Session, grant_id: int) -> Grant:
    return by_id(session, Grant, grant_id, f"no grant #{grant_id} (see `justicelab grant list`)")


def revoke_grant(session: Session, actor: User, grant_id: int, reason: str | None = None) -> Grant:
    """Revoke a grant (a steward of the dataset's owner or an admin); it stays listed, marked revoked."""
    grant = get_grant(session, grant_id)
    require_steward(actor, grant.dataset, f"revoke grants on {grant.dataset.name}")
    if grant.revoked_at is not None:
        raise ControlError(f"grant #{grant_id} was already revoked on {grant.revoked_at:%Y-%m-%d}")
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = utcnow(), actor.username, reason
    audit.record(session, actor, "grant.revoke", f"grant:{grant.id}",
                 {"dataset": grant.dataset.name, "principal": grant.principal, "reason": reason})
    return grant


def list_grants(session: Session, *, dataset: str | None = None, principal: str | None = None,
                include_revoked: bool = False) -> list[Grant]:
    """Grants, newest last; by dataset and/or grantee (``role:mdt_member``); revoked ones only if asked."""
    q = select(Grant).order_by(Grant.id)
    if dataset is not None:
        q = q.where(Grant.dataset_id == get_dataset(session, dataset).id)
    if principal is not None:
        kind, name = parse_principal(session, principal)
        q = q.where(Grant.principal_kind == kind, Grant.principal_name == name)
    if not include_revoked:
        q = q.where(Grant.revoked_at.is_(None))
    return list(session.scalars(q))
