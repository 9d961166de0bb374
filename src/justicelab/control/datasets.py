"""Datasets: standard entity tables, each owned by one department, registered one by one or from the
workspace's sources (``[[sources]]`` with a ``department``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.accounts import DEPARTMENT, get_department
from justicelab.control.authz import is_admin, is_steward_of, require_active, require_admin
from justicelab.control.errors import ControlError, NotPermitted
from justicelab.control.lookup import by_name
from justicelab.control.models import Dataset, Department, User
from justicelab.control.periods import utcnow
from justicelab.errors import StandardError
from justicelab.standard import ResolvedEntity, Standard, load_standard


def entity_of(name: str, standard: Standard | None = None) -> ResolvedEntity:
    """The standard's entity a dataset is, or a ControlError saying which ones exist."""
    try:
        return (standard or load_standard()).entity(name)
    except StandardError as exc:
        raise ControlError(f"dataset {name!r}: {exc}") from None


def add_dataset(session: Session, actor: User, name: str, owner: str, description: str | None = None,
                standard: Standard | None = None) -> Dataset:
    """Register ``name`` (an entity of the standard) as owned by department ``owner``: an admin, or a steward
    of that department."""
    require_active(actor)
    entity_of(name, standard)
    dep = get_department(session, owner)
    if not (is_admin(actor) or is_steward_of(actor, owner)):
        raise NotPermitted(f"{actor.username} may not register datasets for {owner}: only its stewards or an "
                           "admin may")
    existing = session.scalar(select(Dataset).where(Dataset.name == name))
    if existing is not None:
        raise ControlError(f"dataset {name} is already registered, owned by {existing.owner.code}")
    ds = Dataset(name=name, owner=dep, description=description, created_at=utcnow())
    session.add(ds)
    audit.record(session, actor, "dataset.add", f"dataset:{name}", {"owner": owner})
    return ds


def get_dataset(session: Session, name: str) -> Dataset:
    ds: Dataset = by_name(session, Dataset.name, name, f"dataset {name!r} is not registered (registered: {{known}}); "
                          f"register it with `justicelab dataset add {name} --owner DEPARTMENT` or "
                          "`justicelab dataset sync`")
    return ds


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.name)))


@dataclass(frozen=True)
class SourceOwner:
    """What a workspace source says: its name, the entity it fills and the department that owns it."""

    source: str
    entity: str
    department: str | None


@dataclass(frozen=True)
class SyncRow:
    dataset: str
    owner: str | None
    sources: str
    action: str


def sync_datasets(session: Session, actor: User, sources: Iterable[SourceOwner], *, dry_run: bool = False,
                  standard: Standard | None = None) -> list[SyncRow]:
    """Register every entity the workspace's sources fill, owned by the sources' department, creating
    missing departments (admin only). All or nothing: any conflict is an error before any change."""
    require_admin(actor, "sync datasets from the workspace")
    by_entity: dict[str, list[SourceOwner]] = {}
    for s in sources:
        by_entity.setdefault(s.entity, []).append(s)
    rows: list[SyncRow] = []
    plan: list[tuple[str, str]] = []
    for entity, decls in sorted(by_entity.items()):
        entity_of(entity, standard)
        names = ", ".join(s.source for s in decls)
        owners = sorted({s.department for s in decls if s.department})
        if not owners:
            rows.append(SyncRow(entity, None, names, "skipped: no source declares a department"))
            continue
        if len(owners) > 1:
            raise ControlError(f"dataset {entity} is filled by sources of several departments ({names}: "
                               f"{', '.join(owners)}); a dataset has one owner: register it with "
                               f"`justicelab dataset add {entity} --owner ...`")
        owner = owners[0]
        if not DEPARTMENT.match(owner):
            raise ControlError(f"source {decls[0].source}: department {owner!r} must be lower-case letters, "
                               "digits and _")
        existing = session.scalar(select(Dataset).where(Dataset.name == entity))
        if existing is not None:
            same = existing.owner.code == owner
            rows.append(SyncRow(entity, existing.owner.code, names, "registered already" if same else
                                f"kept: registered as owned by {existing.owner.code}, sources say {owner}"))
            continue
        plan.append((entity, owner))
        rows.append(SyncRow(entity, owner, names, "would register" if dry_run else "registered"))
    if dry_run:
        return rows
    for entity, owner in plan:
        dep = session.scalar(select(Department).where(Department.code == owner))
        if dep is None:
            dep = Department(code=owner, name=owner.replace("_", " ").title(), created_at=utcnow())
            session.add(dep)
            audit.record(session, actor, "department.add", f"department:{owner}",
                         {"name": dep.name, "from": "dataset sync"})
        session.add(Dataset(name=entity, owner=dep, created_at=utcnow()))
        audit.record(session, actor, "dataset.add", f"dataset:{entity}", {"owner": owner, "from": "dataset sync"})
    return rows
