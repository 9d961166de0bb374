"""The control plane: departments, users, tokens, datasets, agreements, grants, requests, consent, audit ledger.

The ledger is append-only in the database itself: triggers refuse UPDATE and DELETE on SQLite and
PostgreSQL, and TRUNCATE on PostgreSQL; its head row only ever moves forward by one entry.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LEVELS = "'none', 'aggregate', 'deidentified', 'identified'"
GENESIS = "0" * 64


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _name(column: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(column, sa.String(length=length), nullable=nullable)


def _fk(column: str, table: str, own: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{own}_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "departments", _id(), _name("code", 64), _name("name", 200), _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "users", _id(), _name("username", 64), _name("full_name", 200, True), _name("password_hash", 200, True),
        _ts("created_at"), _ts("disabled_at", True), sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "user_roles", sa.Column("user_id", sa.Integer(), nullable=False), _name("role", 16),
        sa.CheckConstraint("role IN ('steward', 'analyst', 'mdt_member', 'researcher', 'admin')",
                           name=op.f("ck_user_roles_role")),
        _fk("user_id", "users", "user_roles"),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "memberships", sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        _fk("department_id", "departments", "memberships"), _fk("user_id", "users", "memberships"),
        sa.PrimaryKeyConstraint("user_id", "department_id", name=op.f("pk_memberships")),
    )
    op.create_table(
        "api_tokens", _id(), _name("token_id", 16), sa.Column("user_id", sa.Integer(), nullable=False),
        _name("secret_hash", 64), _name("label", 200, True), _ts("created_at"), _ts("expires_at", True),
        _ts("revoked_at", True), _ts("last_used_at", True),
        _fk("user_id", "users", "api_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_tokens_secret_hash")),
        sa.UniqueConstraint("token_id", name=op.f("uq_api_tokens_token_id")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "datasets", _id(), _name("name", 64), sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True), _ts("created_at"),
        _fk("owner_id", "departments", "datasets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_index(op.f("ix_datasets_owner_id"), "datasets", ["owner_id"])
    op.create_table(
        "agreements", _id(), _name("code", 64), _name("title", 300), sa.Column("document", sa.Text(), nullable=False),
        _name("sha256", 64), _name("source_file", 500),
        sa.Column("parties", sa.JSON(), nullable=False), sa.Column("purposes", sa.JSON(), nullable=False),
        _name("max_level", 16), sa.Column("minimum_cell_size", sa.Integer(), nullable=False),
        _name("retention", 16, True), sa.Column("onward_sharing", sa.Boolean(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False), sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False), _ts("created_at"), _name("created_by", 64),
        sa.CheckConstraint(f"max_level IN ({LEVELS})", name=op.f("ck_agreements_max_level")),
        sa.CheckConstraint("starts <= ends", name=op.f("ck_agreements_term")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("code", name=op.f("uq_agreements_code")),
    )
    op.create_table(
        "agreement_datasets", sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False), sa.Column("fields", sa.JSON(), nullable=True),
        _name("max_level", 16, True),
        sa.CheckConstraint(f"max_level IS NULL OR max_level IN ({LEVELS})",
                           name=op.f("ck_agreement_datasets_max_level")),
        _fk("agreement_id", "agreements", "agreement_datasets"), _fk("dataset_id", "datasets", "agreement_datasets"),
        sa.PrimaryKeyConstraint("agreement_id", "dataset_id", name=op.f("pk_agreement_datasets")),
    )
    op.create_table(
        "grants", _id(), sa.Column("dataset_id", sa.Integer(), nullable=False), _name("principal_kind", 16),
        _name("principal_name", 64), _name("level", 16), sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("row_rule", sa.JSON(), nullable=True), sa.Column("agreement_id", sa.Integer(), nullable=False),
        _name("purpose", 300, True), sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False), _ts("created_at"), _name("created_by", 64),
        _ts("revoked_at", True), _name("revoked_by", 64, True), sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(f"level IN ({LEVELS})", name=op.f("ck_grants_level")),
        sa.CheckConstraint("principal_kind IN ('user', 'role', 'department')", name=op.f("ck_grants_principal_kind")),
        sa.CheckConstraint("starts <= expires", name=op.f("ck_grants_term")),
        _fk("agreement_id", "agreements", "grants"), _fk("dataset_id", "datasets", "grants"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    op.create_index(op.f("ix_grants_agreement_id"), "grants", ["agreement_id"])
    op.create_index(op.f("ix_grants_dataset_id_principal_kind_principal_name"), "grants",
                    ["dataset_id", "principal_kind", "principal_name"])
    op.create_table(
        "access_requests", _id(), sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False), _name("level", 16),
        sa.Column("fields", sa.JSON(), nullable=True), _name("purpose", 300), _name("status", 16),
        _ts("created_at"), _ts("decided_at", True), _name("decided_by", 64, True),
        sa.Column("reason", sa.Text(), nullable=True), sa.Column("agreement_id", sa.Integer(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"level IN ({LEVELS})", name=op.f("ck_access_requests_level")),
        sa.CheckConstraint("status IN ('pending', 'approved', 'declined')", name=op.f("ck_access_requests_status")),
        _fk("agreement_id", "agreements", "access_requests"), _fk("dataset_id", "datasets", "access_requests"),
        _fk("grant_id", "grants", "access_requests"), _fk("requester_id", "users", "access_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    op.create_index(op.f("ix_access_requests_dataset_id"), "access_requests", ["dataset_id"])
    op.create_index(op.f("ix_access_requests_requester_id"), "access_requests", ["requester_id"])
    op.create_table(
        "consents", _id(), _name("person_id", 64), _name("program", 64), _name("scope", 16), _ts("recorded_at"),
        _name("recorded_by", 64), sa.Column("expires", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True), _ts("revoked_at", True), _name("revoked_by", 64, True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_program_scope_person_id"), "consents", ["program", "scope", "person_id"])
    _audit_ledger()


def _audit_ledger() -> None:
    op.create_table(
        "audit_ledger", sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False), _ts("at"),
        _name("actor", 64, True), _name("action", 64), _name("target", 300),
        sa.Column("details", sa.Text(), nullable=False), _name("prev_hash", 64), _name("hash", 64),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_ledger")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_ledger_hash")),
    )
    op.create_index(op.f("ix_audit_ledger_action_at"), "audit_ledger", ["action", "at"])
    op.create_index(op.f("ix_audit_ledger_actor_at"), "audit_ledger", ["actor", "at"])
    op.create_index(op.f("ix_audit_ledger_at"), "audit_ledger", ["at"])
    op.create_table(
        "audit_head", sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False), _name("hash", 64),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("""
            CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 THEN
                    RAISE EXCEPTION 'audit_head only moves forward by one entry: % refused', TG_OP
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END $$""")
        op.execute("CREATE TRIGGER audit_ledger_append_only BEFORE UPDATE OR DELETE ON audit_ledger "
                   "FOR EACH ROW EXECUTE FUNCTION audit_ledger_refuse()")
        op.execute("CREATE TRIGGER audit_ledger_no_truncate BEFORE TRUNCATE ON audit_ledger "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_refuse()")
        op.execute("CREATE TRIGGER audit_head_forward_only BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()")
        op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_refuse()")
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_ledger FROM PUBLIC")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_ledger_no_{verb.lower()} BEFORE {verb} ON audit_ledger "
                       f"BEGIN SELECT RAISE(ABORT, 'audit_ledger is append-only: {verb} refused'); END")
        op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward by one entry: DELETE refused'); END")
        op.execute("CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward by one entry: INSERT refused'); END")
        op.execute("CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
                   "WHEN NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward by one entry: UPDATE refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_head")
        op.execute("DROP TABLE audit_ledger")
        op.execute("DROP FUNCTION audit_head_forward()")
        op.execute("DROP FUNCTION audit_ledger_refuse()")
    else:
        op.drop_table("audit_head")
        op.drop_table("audit_ledger")
    for table in ("access_requests", "grants", "agreement_datasets", "agreements", "datasets", "api_tokens",
                  "memberships", "user_roles", "users", "departments", "consents"):
        op.drop_table(table)
