"""``access check``: what a user may see of a dataset, field by field and row region by row region, and why.

Nothing is read: the answer comes from the grants, the agreements and consent, composed exactly as a read
would compose them (:func:`justicelab.gate.compose`). A user may check themself; an admin or a steward of
the dataset's owner may check anyone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from justicelab.control import Level, NotPermitted, valid_grants
from justicelab.control.authz import is_admin, is_steward_of, require_active
from justicelab.control.grants import same_purpose
from justicelab.control.models import Dataset, User
from justicelab.gate.compose import Composition, compose
from justicelab.gate.deidentify import DeidentificationPolicy, column_plan, load_policy
from justicelab.standard import Standard, load_standard


@dataclass(frozen=True)
class AccessReport:
    """One composition per purpose checked, with each column's treatment per row region."""

    compositions: tuple[Composition, ...]
    rows: tuple[dict[str, Any], ...]  # purpose, rows, field, level, shown_as, why

    def as_dict(self) -> list[dict[str, Any]]:
        return [{**c.as_dict(), "columns": [r for r in self.rows if r["purpose"] == c.purpose]}
                for c in self.compositions]


def require_may_check(session: Session, actor: User, user: str, dataset: str) -> None:
    """A user may check their own access; an admin or a steward of the dataset's owner anyone's."""
    require_active(actor)
    if actor.username == user or is_admin(actor):
        return
    owner = session.scalar(select(Dataset).where(Dataset.name == dataset))
    if owner is not None and is_steward_of(actor, owner.owner.code):
        return
    raise NotPermitted(f"{actor.username} may not check {user}'s access to {dataset}: only {user}, an admin or a "
                       f"steward of the department that owns {dataset} may")


def purposes_for(session: Session, user: str, dataset: str, at: dt.datetime | None,
                 standard: Standard | None = None) -> list[str]:
    """Every purpose some grant addressed to ``user`` on ``dataset`` names (its own, or its agreement's)."""
    check = valid_grants(session, user, dataset, "", at, standard=standard)
    found: list[str] = []
    for r in check.refused:
        for p in ((r.grant.purpose,) if r.grant.purpose else r.grant.agreement.purposes):
            if not any(same_purpose(p, q) for q in found):
                found.append(p)
    return found


def access_report(session: Session, actor: User, user: str, dataset: str, purpose: str | None = None,
                  at: dt.datetime | None = None, *, standard: Standard | None = None,
                  policy: DeidentificationPolicy | None = None) -> AccessReport:
    """What ``user`` may see of ``dataset`` for ``purpose`` (every purpose their grants name when None)."""
    standard = standard or load_standard()
    policy = policy or load_policy()
    entity = standard.entity(dataset)
    require_may_check(session, actor, user, dataset)
    purposes = [purpose] if purpose else (purposes_for(session, user, dataset, at, standard) or [""])
    compositions = tuple(compose(session, user, dataset, p, at, standard=standard) for p in purposes)
    rows: list[dict[str, Any]] = []
    for c in compositions:
        for part in c.parts:
            where = part.rows.describe() if part.rows is not None else "all rows"
            for access in part.fields:
                p = column_plan(entity, access.field, access.level, policy)
                shown = p.treatment.value + (f" to {p.hierarchy_level}" if p.hierarchy_level else "")
                if access.level is Level.aggregate:
                    shown = f"counts only (cells under {part.min_cell_size} suppressed)"
                how = p.why if access.level is Level.deidentified else ""
                rows.append({"purpose": c.purpose, "rows": where, "field": access.field,
                             "level": access.level.value, "shown_as": shown,
                             "why": "; ".join(x for x in (access.reason, how) if x)})
    return AccessReport(compositions, tuple(rows))
