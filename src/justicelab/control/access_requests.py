"""Access requests: a user asks for a level of a dataset for a purpose; a steward of the owning department
approves (which makes the grant, under an agreement given or inferred) or declines with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.agreements import coverage_of, get_agreement, list_agreements, max_level_for
from justicelab.control.authz import require_active, require_steward
from justicelab.control.datasets import entity_of, get_dataset
from justicelab.control.errors import ControlError, NotPermitted
from justicelab.control.grants import add_grant, agreement_purpose, some_level
from justicelab.control.levels import Level
from justicelab.control.lookup import by_id
from justicelab.control.models import AccessRequest, Agreement, Grant, User
from justicelab.control.periods import utcnow
from justicelab.control.rules import RowRule


def request_access(session: Session, actor: User, *, dataset: str, level: Level | str, purpose: str,
                   fields: Sequence[str] | None = None) -> AccessRequest:
    """File a request (any active user) for ``level`` access to ``dataset`` (optionally some fields)."""
    require_active(actor)
    ds = get_dataset(session, dataset)
    level = some_level(level, "requesting level none asks for nothing")
    if not purpose.strip():
        raise ControlError("a request needs a purpose (--purpose)")
    if fields is not None:
        names = entity_of(dataset).field_names()
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise ControlError(f"{', '.join(unknown)}: not field(s) of {dataset} (fields: {', '.join(names)})")
    req = AccessRequest(requester=actor, dataset=ds, level=level.value, fields=list(fields) if fields else None,
                        purpose=purpose.strip(), status="pending", created_at=utcnow())
    session.add(req)
    session.flush()
    audit.record(session, actor, "request.add", f"request:{req.id}",
                 {"dataset": dataset, "level": level.value, "fields": req.fields, "purpose": req.purpose})
    return req


def get_request(session: Session, request_id: int) -> AccessRequest:
    return by_id(session, AccessRequest, request_id, f"no access request #{request_id} (see `justicelab request list`)")


def list_requests(session: Session, *, status: str | None = None, dataset: str | None = None) -> list[AccessRequest]:
    q = select(AccessRequest).order_by(AccessRequest.id)
    if status is not None:
        q = q.where(AccessRequest.status == status)
    if dataset is not None:
        q = q.where(AccessRequest.dataset_id == get_dataset(session, dataset).id)
    return list(session.scalars(q))


def _pending(session: Session, actor: User, request_id: int, doing: str) -> AccessRequest:
    req = get_request(session, request_id)
    require_steward(actor, req.dataset, f"{doing} requests for {req.dataset.name}")
    if req.status != "pending":
        raise ControlError(f"request #{req.id} was already {req.status} by {req.decided_by} on "
                           f"{req.decided_at:%Y-%m-%d}" if req.decided_at else f"request #{req.id} is {req.status}")
    return req


def _why_not(ag: Agreement, req: AccessRequest, today: dt.date) -> str | None:
    cov = coverage_of(ag, req.dataset.name)
    if cov is None:
        return f"does not cover {req.dataset.name}"
    if not ag.starts <= today <= ag.ends:
        return f"is not in force today (term {ag.starts}..{ag.ends})"
    if agreement_purpose(ag, req.purpose) is None:
        return f"does not list the purpose {req.purpose!r}"
    if Level(req.level) > max_level_for(ag, cov):
        return f"allows at most {max_level_for(ag, cov).value}"
    if req.fields and cov.fields is not None and not set(req.fields) <= set(cov.fields):
        return f"does not cover the fields {', '.join(sorted(set(req.fields) - set(cov.fields)))}"
    return None


def who_decides(session: Session, req: AccessRequest) -> str:
    """Who may decide ``req``, in words: the enabled stewards of the department owning its dataset, or the
    admins when it has none."""
    users = [u for u in session.scalars(select(User).where(User.disabled_at.is_(None)).order_by(User.username))
             if u.id != req.requester_id]
    owner = req.dataset.owner.code
    stewards = [u.username for u in users if u.has_role("steward") and owner in u.department_codes]
    if stewards:
        return f"a steward of {owner} ({', '.join(stewards)})"
    admins = [u.username for u in users if u.has_role("admin")]
    return f"an admin ({', '.join(admins)}), as {owner} has no steward" if admins else "nobody yet: no steward or admin"


def unapprovable(session: Session, req: AccessRequest, today: dt.date | None = None) -> str | None:
    """Why no agreement in force would let ``req`` be approved as asked (None if one would)."""
    try:
        infer_agreement(session, req, today)
    except ControlError as exc:
        return None if "several agreements fit" in str(exc) else str(exc)
    return None


def infer_agreement(session: Session, req: AccessRequest, today: dt.date | None = None) -> Agreement:
    """The one agreement in force that covers the request (dataset, fields, level, purpose); an error
    listing why each falls short when none does, or the candidates when several do."""
    today = today or utcnow().date()
    fits, why = [], []
    for ag in list_agreements(session):
        problem = _why_not(ag, req, today)
        if problem is None:
            fits.append(ag)
        elif coverage_of(ag, req.dataset.name) is not None:
            why.append(f"{ag.code} {problem}")
    if len(fits) == 1:
        return fits[0]
    if not fits:
        detail = "; ".join(why) or f"no agreement covers {req.dataset.name}"
        raise ControlError(f"no agreement fits request #{req.id}: {detail}")
    raise ControlError(f"several agreements fit request #{req.id} ({', '.join(a.code for a in fits)}): "
                       "choose one with --agreement")


def approve_request(session: Session, actor: User, request_id: int, *, agreement: str | None = None,
                    expires: dt.date | None = None, fields: Sequence[str] | None = None,
                    row_rule: str | dict | RowRule | None = None,
                    today: dt.date | None = None) -> tuple[AccessRequest, Grant]:
    """Approve a pending request: grant the requester what they asked for under ``agreement`` (inferred when
    not given). A steward of the owning department or an admin may, never the requester themself. The
    steward may approve less than was asked: only some of the ``fields`` asked for, or only the rows a
    ``row_rule`` admits (e.g. persons with a current consent), so that approving never has to widen what
    a consent-restricted grant already gives."""
    req = _pending(session, actor, request_id, "approve")
    if req.requester_id == actor.id:
        raise NotPermitted(f"{actor.username} may not approve their own request #{req.id}")
    ag = get_agreement(session, agreement) if agreement else infer_agreement(session, req, today)
    problem = _why_not(ag, req, today or utcnow().date())
    if problem:
        raise ControlError(f"agreement {ag.code} {problem}: cannot approve request #{req.id} under it")
    if fields is not None:
        beyond = sorted(set(fields) - set(req.fields or fields))
        if beyond:
            raise ControlError(f"request #{req.id} did not ask for {', '.join(beyond)} (it asked for "
                               f"{', '.join(req.fields or [])}): approve the fields asked for or fewer")
    grant = add_grant(session, actor, dataset=req.dataset.name, principal=f"user:{req.requester.username}",
                      level=req.level, agreement=ag.code, fields=fields if fields is not None else req.fields,
                      row_rule=row_rule, purpose=req.purpose, expires=expires, today=today,
                      details={"request": req.id})
    req.status, req.decided_at, req.decided_by = "approved", utcnow(), actor.username
    req.agreement_id, req.grant_id = ag.id, grant.id
    audit.record(session, actor, "request.approve", f"request:{req.id}",
                 {"grant": grant.id, "agreement": ag.code, "requester": req.requester.username,
                  "fields": grant.fields, "row_rule": grant.row_rule})
    return req, grant


def decline_request(session: Session, actor: User, request_id: int, reason: str) -> AccessRequest:
    """Decline a pending request with a reason the requester will see."""
    if not reason.strip():
        raise ControlError("declining needs a reason (--reason)")
    req = _pending(session, actor, request_id, "decline")
    req.status, req.decided_at, req.decided_by, req.reason = "declined", utcnow(), actor.username, reason.strip()
    audit.record(session, actor, "request.decline", f"request:{req.id}",
                 {"reason": req.reason, "requester": req.requester.username})
    return req
