"""The control plane's tables as SQLAlchemy 2 typed models (one schema on SQLite and PostgreSQL).

Migrations under ``migrations/versions`` create exactly these tables; a test runs Alembic's autogenerate
against a migrated database and expects no difference.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from justicelab.control.levels import Level
from justicelab.control.periods import as_utc

ROLES = ("steward", "analyst", "mdt_member", "researcher", "admin")
PRINCIPAL_KINDS = ("user", "role", "department")
REQUEST_STATUSES = ("pending", "approved", "declined")
LEVELS = tuple(level.value for level in Level)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on both engines (SQLite keeps no time zone: store UTC, read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(), dt.date: Date(), dict[str, Any]: JSON(), list[str]: JSON()}


class Department(Base):
    """An organisation that owns data (police, health, ...)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class User(Base):
    """A person who uses the platform; never deleted (the ledger names them), only disabled."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)

    role_rows: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    departments: Mapped[list[Department]] = relationship(secondary="memberships", lazy="selectin",
                                                         order_by=Department.code)

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)

    @property
    def department_codes(self) -> list[str]:
        return [d.code for d in self.departments]

    def has_role(self, role: str) -> bool:
        return role in self.roles


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)


class ApiToken(Base):
    """An API token: only its SHA-256 is kept; ``token_id`` is the public part shown in listings."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Dataset(Base):
    """A standard entity table a department owns and shares."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]

    owner: Mapped[Department] = relationship(lazy="joined")


class Agreement(Base):
    """A data-sharing agreement: the YAML document as given and its parsed terms."""

    __tablename__ = "agreements"
    __table_args__ = (CheckConstraint(_in("max_level", LEVELS), name="max_level"),
                      CheckConstraint("starts <= ends", name="term"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    document: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(500))
    parties: Mapped[list[str]]
    purposes: Mapped[list[str]]
    max_level: Mapped[str] = mapped_column(String(16))
    minimum_cell_size: Mapped[int] = mapped_column(Integer)
    retention: Mapped[str | None] = mapped_column(String(16))
    onward_sharing: Mapped[bool]
    legal_basis: Mapped[str] = mapped_column(Text)
    starts: Mapped[dt.date]
    ends: Mapped[dt.date]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(64))

    coverage: Mapped[list[AgreementDataset]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                                           back_populates="agreement")


class AgreementDataset(Base):
    """One dataset an agreement covers: which fields (null: all) and, optionally, a lower maximum level."""

    __tablename__ = "agreement_datasets"
    __table_args__ = (CheckConstraint(f"max_level IS NULL OR {_in('max_level', LEVELS)}", name="max_level"),)

    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    fields: Mapped[list[str] | None]
    max_level: Mapped[str | None] = mapped_column(String(16))

    agreement: Mapped[Agreement] = relationship(back_populates="coverage")
    dataset: Mapped[Dataset] = relationship(lazy="joined")


class Grant(Base):
    """Dataset × principal × level × fields × row rule × agreement × purpose × term."""

    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint(_in("principal_kind", PRINCIPAL_KINDS), name="principal_kind"),
        CheckConstraint("starts <= expires", name="term"),
        Index(None, "dataset_id", "principal_kind", "principal_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    principal_kind: Mapped[str] = mapped_column(String(16))
    principal_name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str] | None]
    row_rule: Mapped[dict[str, Any] | None]
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    purpose: Mapped[str | None] = mapped_column(String(300))
    starts: Mapped[dt.date]
    expires: Mapped[dt.date]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    dataset: Mapped[Dataset] = relationship(lazy="joined")
    agreement: Mapped[Agreement] = relationship(lazy="joined")

    @property
    def principal(self) -> str:
        return f"{self.principal_kind}:{self.principal_name}"


class AccessRequest(Base):
    """A user's request for access; a steward of the owning department approves (making a grant) or declines."""

    __tablename__ = "access_requests"
    __table_args__ = (CheckConstraint(_in("level", LEVELS), name="level"),
                      CheckConstraint(_in("status", REQUEST_STATUSES), name="status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str] | None]
    purpose: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"))

    requester: Mapped[User] = relationship(lazy="joined")
    dataset: Mapped[Dataset] = relationship(lazy="joined")


class Consent(Base):
    """A person's consent to a program using their records of one legal class (e.g. 42 CFR Part 2)."""

    __tablename__ = "consents"
    __table_args__ = (Index(None, "program", "scope", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(String(64))
    program: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))
    expires: Mapped[dt.date | None]
    note: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """One ledger entry. Append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""

    __tablename__ = "audit_ledger"
    __table_args__ = (Index(None, "actor", "at"), Index(None, "action", "at"), Index(None, "at"))

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The ledger's one head row: the last entry's number and hash. Appenders lock it; it only moves forward."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
