"""Which grants apply to a user reading a dataset for a purpose at a time, and why the others do not.

This is what the gate asks before every read. It neither composes levels per field nor applies row rules:
it returns the applicable grants with their agreements' terms, and for every other grant addressed to the
user (directly, through a role or a department) the reasons it does not apply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any

from sqlalchemy import BindParameter, CompoundSelect, Select, and_, bindparam, literal, or_, select, union_all
from sqlalchemy.orm import Session

from justicelab.control.datasets import entity_of, get_dataset
from justicelab.control.errors import ControlError
from justicelab.control.grants import same_purpose
from justicelab.control.levels import Level
from justicelab.control.models import (
    Agreement,
    AgreementDataset,
    Dataset,
    Department,
    Grant,
    Membership,
    User,
    UserRole,
)
from justicelab.control.periods import as_utc, utcnow
from justicelab.control.rules import RowRule
from justicelab.standard import Standard


@dataclasses.dataclass(frozen=True)
class AgreementTerms:
    """What an agreement says about one dataset, as the gate needs it."""

    code: str
    title: str
    purposes: tuple[str, ...]
    max_level: Level  # for this dataset (the agreement's, or the lower one it sets for the dataset)
    minimum_cell_size: int
    starts: dt.date
    ends: dt.date
    onward_sharing: bool
    legal_basis: str
    retention: str | None
    fields: tuple[str, ...]  # the dataset's fields the agreement covers


@dataclasses.dataclass(frozen=True)
class GrantInfo:
    """One grant, resolved: its fields are those granted that the agreement still covers."""

    id: int
    dataset: str
    principal: str  # user:NAME, role:NAME or department:NAME
    level: Level
    fields: tuple[str, ...]
    row_rule: RowRule | None
    purpose: str | None  # None: any of the agreement's purposes
    starts: dt.date
    expires: dt.date
    agreement: AgreementTerms
    revoked_at: dt.datetime | None = None

    @property
    def effective_level(self) -> Level:
        """The granted level, capped at the agreement's maximum for the dataset."""
        return min(self.level, self.agreement.max_level)


@dataclasses.dataclass(frozen=True)
class Refusal:
    grant: GrantInfo
    reasons: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class GrantCheck:
    """The answer to "may this user read this dataset for this purpose now?" before per-field composition."""

    user: str
    dataset: str
    purpose: str
    at: dt.datetime
    principals: tuple[str, ...]  # what the user is: user:NAME, role:..., department:...
    applicable: tuple[GrantInfo, ...]
    refused: tuple[Refusal, ...]
    user_problem: str | None = None  # e.g. the user is disabled: nothing applies

    @property
    def allowed(self) -> bool:
        return bool(self.applicable)

    def denial(self) -> str | None:
        """Why nothing applies (None when a grant does): the user's problem, each refused grant's reasons, or
        that no grant addresses the user at all."""
        if self.applicable:
            return None
        if self.user_problem:
            return self.user_problem
        if self.refused:
            return "; ".join(f"grant #{r.grant.id} ({r.grant.principal}, {r.grant.level.value}): "
                             f"{', '.join(r.reasons)}" for r in self.refused)
        return (f"no grant on {self.dataset} for {self.user} (directly or through "
                f"{', '.join(p for p in self.principals if not p.startswith('user:')) or 'any role or department'})")


@dataclasses.dataclass(frozen=True)
class Principal:
    """What a permission check needs of a user: name, whether disabled, roles and departments."""

    username: str
    disabled_at: dt.datetime | None
    roles: tuple[str, ...]
    department_codes: tuple[str, ...]


@functools.cache
def _principal_query() -> CompoundSelect:
    name: BindParameter[str] = bindparam("username")
    return union_all(  # one round trip: a check by name costs no more than one with the user in hand
        select(literal("user"), User.username, User.disabled_at).where(User.username == name),
        select(literal("role"), UserRole.role, literal(None)).join(User, User.id == UserRole.user_id)
        .where(User.username == name),
        select(literal("department"), Department.code, literal(None))
        .join(Membership, Membership.department_id == Department.id)
        .join(User, User.id == Membership.user_id).where(User.username == name))


def find_principal(session: Session, username: str) -> Principal | None:
    """The user named ``username`` as a :class:`Principal` (None if there is no such user), in one query."""
    rows = session.execute(_principal_query(), {"username": username}).all()
    user = [r for r in rows if r[0] == "user"]
    if not user:
        return None
    return Principal(username, user[0][2], tuple(sorted(r[1] for r in rows if r[0] == "role")),
                     tuple(sorted(r[1] for r in rows if r[0] == "department")))


def principals_of(user: User | Principal) -> tuple[str, ...]:
    """Everything a grant may be addressed to that includes ``user``."""
    return (f"user:{user.username}", *(f"role:{r}" for r in user.roles),
            *(f"department:{d}" for d in user.department_codes))


_COLUMNS = (
    Grant.id, Grant.principal_kind, Grant.principal_name, Grant.level, Grant.fields, Grant.row_rule, Grant.purpose,
    Grant.starts, Grant.expires, Grant.revoked_at, Grant.revoked_by, Grant.revoke_reason,
    Agreement.code, Agreement.title, Agreement.purposes, Agreement.max_level, Agreement.minimum_cell_size,
    Agreement.starts.label("ag_starts"), Agreement.ends.label("ag_ends"), Agreement.onward_sharing,
    Agreement.legal_basis, Agreement.retention, AgreementDataset.dataset_id.label("covered"),
    AgreementDataset.fields.label("cov_fields"), AgreementDataset.max_level.label("cov_max"),
)


@functools.cache
def _grants_query(principals: int) -> Select[Any]:
    """Grants on one dataset addressed to any of ``principals`` (kind, name) pairs, with their agreement and
    what it covers of the dataset. Built once per number of principals; every OR term carries the dataset,
    so each is an index lookup rather than a scan of all the dataset's grants."""
    match = or_(*(and_(Grant.dataset_id == bindparam("dataset_id"), Grant.principal_kind == bindparam(f"kind_{i}"),
                       Grant.principal_name == bindparam(f"name_{i}")) for i in range(principals)))
    return (select(*_COLUMNS).join(Agreement, Agreement.id == Grant.agreement_id)
            .outerjoin(AgreementDataset, and_(AgreementDataset.agreement_id == Grant.agreement_id,
                                              AgreementDataset.dataset_id == Grant.dataset_id))
            .where(match).order_by(Grant.id))


def _terms(row: Any, all_fields: list[str]) -> AgreementTerms:
    top = Level(row.max_level)
    covered = row.covered is not None
    return AgreementTerms(
        code=row.code, title=row.title, purposes=tuple(row.purposes),
        max_level=(min(top, Level(row.cov_max)) if row.cov_max else top) if covered else Level.none,
        minimum_cell_size=row.minimum_cell_size, starts=row.ag_starts, ends=row.ag_ends,
        onward_sharing=row.onward_sharing, legal_basis=row.legal_basis, retention=row.retention,
        fields=(tuple(row.cov_fields) if row.cov_fields is not None else tuple(all_fields)) if covered else ())


def _info(row: Any, dataset: str, all_fields: list[str]) -> GrantInfo:
    terms = _terms(row, all_fields)
    granted = row.fields if row.fields is not None else all_fields
    return GrantInfo(
        id=row.id, dataset=dataset, principal=f"{row.principal_kind}:{row.principal_name}", level=Level(row.level),
        fields=tuple(f for f in granted if f in terms.fields), purpose=row.purpose,
        row_rule=RowRule.model_validate(row.row_rule) if row.row_rule else None,
        starts=row.starts, expires=row.expires, agreement=terms, revoked_at=row.revoked_at)


def _reasons(row: Any, info: GrantInfo, dataset: str, purpose: str, day: dt.date) -> list[str]:
    code = row.code
    reasons = []
    if row.revoked_at is not None:
        why = f" ({row.revoke_reason})" if row.revoke_reason else ""
        reasons.append(f"revoked on {row.revoked_at:%Y-%m-%d} by {row.revoked_by}{why}")
    if day > row.expires:
        reasons.append(f"expired on {row.expires}")
    if day < row.starts:
        reasons.append(f"not valid before {row.starts}")
    if day > row.ag_ends:
        reasons.append(f"agreement {code} ended on {row.ag_ends}")
    if day < row.ag_starts:
        reasons.append(f"agreement {code} starts on {row.ag_starts}")
    if row.covered is None:
        reasons.append(f"agreement {code} no longer covers {dataset}")
    if not purpose.strip():
        reasons.append("no purpose given")
    elif not any(same_purpose(p, purpose) for p in row.purposes):
        reasons.append(f"purpose {purpose!r} is not covered by agreement {code} ({'; '.join(row.purposes)})")
    elif row.purpose is not None and not same_purpose(row.purpose, purpose):
        reasons.append(f"purpose {purpose!r} is not covered: granted for {row.purpose!r}")
    if row.covered is not None and not info.fields:
        reasons.append(f"none of its fields is still covered by agreement {code}")
    return reasons


def valid_grants(session: Session, user: User | Principal | str, dataset: str, purpose: str,
                 at: dt.datetime | None = None, *, standard: Standard | None = None) -> GrantCheck:
    """The grants through which ``user`` may read ``dataset`` for ``purpose`` at time ``at`` (default now),
    each with its agreement's terms, and every other grant addressed to the user with why it does not apply
    (revoked, expired, not yet valid, agreement ended or not started, dataset no longer covered, purpose not
    covered). A disabled user gets nothing, with that reason. One indexed query, whatever the number of
    grants."""
    at = as_utc(at) if at else utcnow()
    day = at.date()
    person = find_principal(session, user) if isinstance(user, str) else user
    if person is None:
        raise ControlError(f"no user {user!r}")
    dataset_id = session.scalar(select(Dataset.id).where(Dataset.name == dataset))
    if dataset_id is None:
        get_dataset(session, dataset)  # raises, naming the registered datasets
    all_fields = entity_of(dataset, standard).field_names()
    principals = principals_of(person)
    params: dict[str, Any] = {"dataset_id": dataset_id}
    for i, (kind, name) in enumerate(p.split(":", 1) for p in principals):
        params[f"kind_{i}"], params[f"name_{i}"] = kind, name
    applicable: list[GrantInfo] = []
    refused: list[Refusal] = []
    problem = None
    if person.disabled_at is not None:
        problem = f"user {person.username} is disabled (since {person.disabled_at:%Y-%m-%d})"
    for row in session.execute(_grants_query(len(principals)), params):
        info = _info(row, dataset, all_fields)
        reasons = _reasons(row, info, dataset, purpose, day)
        if problem:
            reasons.insert(0, problem)
        if reasons:
            refused.append(Refusal(info, tuple(reasons)))
        else:
            applicable.append(info)
    return GrantCheck(person.username, dataset, purpose, at, principals, tuple(applicable), tuple(refused), problem)
