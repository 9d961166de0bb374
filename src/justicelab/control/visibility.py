"""Who may see which control-plane records: consents, access requests, API tokens and ledger entries.

These records say things about people (a Part 2 consent says a person is in substance-use treatment) and
about other departments' work, so listing them follows the same idea as the data: departments see their
own. An admin sees everything. Otherwise:

* a consent, by the users with a consent role in a department that shares records of the legal class it
  covers (those who may record and revoke it; see :func:`justicelab.control.consent.scopes_held`);
* an access request by its requester and by the stewards of the department that owns its dataset;
* an API token by its owner;
* a ledger entry by a steward when it concerns their department: done by one of its members, about one of
  its members (a grant to them included), about one of its datasets, or about a consent covering records
  it shares.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from justicelab.control.authz import is_admin, is_steward_of, require_active, require_any_role
from justicelab.control.chain import Entry
from justicelab.control.consent import CONSENT_ROLES, scopes_held
from justicelab.control.models import AccessRequest, ApiToken, Consent, Dataset, Department, Membership, User


def colleagues(session: Session, user: User) -> frozenset[str]:
    """The user names of everyone sharing a department with ``user`` (and ``user``)."""
    rows = session.scalars(
        select(User.username).join(Membership, Membership.user_id == User.id)
        .join(Department, Department.id == Membership.department_id)
        .where(Department.code.in_(user.department_codes)))
    return frozenset(rows) | {user.username}


def visible_consents(session: Session, actor: User, consents: Iterable[Consent]) -> list[Consent]:
    require_any_role(actor, CONSENT_ROLES, "list consent records")
    if is_admin(actor):
        return list(consents)
    held = scopes_held(session, actor.department_codes)
    return [c for c in consents if c.scope in held or c.recorded_by == actor.username]


def may_see_request(actor: User, request: AccessRequest) -> bool:
    return is_admin(actor) or request.requester_id == actor.id or is_steward_of(actor, request.dataset.owner.code)


def visible_requests(actor: User, requests: Iterable[AccessRequest]) -> list[AccessRequest]:
    require_active(actor)
    return [r for r in requests if may_see_request(actor, r)]


def visible_tokens(actor: User, tokens: Iterable[ApiToken]) -> list[ApiToken]:
    require_active(actor)
    return [t for t in tokens if is_admin(actor) or t.user_id == actor.id]


def visible_entries(session: Session, actor: User, entries: Iterable[Entry]) -> list[Entry]:
    require_any_role(actor, ("admin", "steward"), "read the audit ledger")
    if is_admin(actor):
        return list(entries)
    stewarded = [d for d in actor.department_codes if is_steward_of(actor, d)]
    people = colleagues(session, actor) if stewarded else frozenset()
    datasets = frozenset(session.scalars(
        select(Dataset.name).join(Department, Department.id == Dataset.owner_id).where(Department.code.in_(stewarded))))
    held = scopes_held(session, stewarded)

    def concerns_us(e: Entry) -> bool:
        consent = e.action.startswith("consent.") and e.details_dict.get("scope") in held
        return consent or e.actor in people or e.target in datasets or concerns_user(e, people) or \
            e.details_dict.get("dataset") in datasets
    return [e for e in entries if concerns_us(e)]


def concerns_user(entry: Entry, usernames: Iterable[str]) -> bool:
    """Whether ``entry`` concerns one of ``usernames``: done to them (``user:NAME``), a grant to them, or a
    decision on their request."""
    names = set(usernames)
    details = entry.details_dict
    principals = (entry.target, str(details.get("principal")))
    return any(p.startswith("user:") and p.removeprefix("user:") in names for p in principals) or \
        details.get("requester") in names
