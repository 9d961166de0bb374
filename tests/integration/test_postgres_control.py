"""The control plane on the real PostgreSQL server: migrations, the core scenarios, the ledger's append-only
triggers (for the application's own connection and for a separate application role), tampering detection,
concurrent appends from two processes, and the CLI on a workspace whose control database is PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from justicelab.control import ControlDB, audit, open_control
from justicelab.control.database import current_revision, head_revision
from justicelab.workspace import Workspace
from tests.cli.test_cli import run
from tests.control import scenarios
from tests.control.conftest import quick_argon2  # noqa: F401  (fast argon2 parameters, autouse)
from tests.control.test_migrations import schema_differences

pytestmark = pytest.mark.integration


@pytest.fixture
def pgdb(pg_url: str, tmp_path) -> Iterator[ControlDB]:
    db = open_control(pg_url)
    scenarios.seed(db, tmp_path)
    yield db
    db.close()


def _schema(pg_url: str) -> str:
    return pg_url.rsplit("schema=", 1)[1]


def _superuser(pg_url: str) -> psycopg.Connection:
    con = psycopg.connect(pg_url.split("?")[0], autocommit=True)
    con.execute(f'SET search_path TO "{_schema(pg_url)}"')
    return con


def test_migrations_upgrade_an_empty_schema_to_head_matching_the_models(pg_url):
    db = open_control(pg_url, upgrade=False)
    assert current_revision(db) is None
    db.close()
    db = open_control(pg_url)
    assert current_revision(db) == head_revision()
    assert schema_differences(db) == []
    db.close()


def test_core_scenarios(pgdb, tmp_path):
    scenarios.grant_decisions(pgdb)
    scenarios.request_workflow(pgdb, tmp_path)
    scenarios.consent_rules(pgdb)
    scenarios.ledger_records_everything(pgdb)


def test_permission_rules(pgdb):
    scenarios.permission_rules(pgdb)


def test_the_applications_connection_cannot_update_delete_or_truncate_the_ledger(pgdb):
    scenarios.ledger_is_append_only(pgdb)
    with pytest.raises(DBAPIError, match="audit_ledger is append-only: TRUNCATE refused"), pgdb.engine.begin() as c:
        c.execute(text("TRUNCATE audit_ledger"))
    with pytest.raises(DBAPIError, match="audit_head is append-only: TRUNCATE refused"), pgdb.engine.begin() as c:
        c.execute(text("TRUNCATE audit_head"))


def test_an_application_role_with_table_privileges_still_cannot_rewrite_the_ledger(pgdb, pg_url):
    role, schema = f"jl_app_{uuid.uuid4().hex[:8]}", _schema(pg_url)
    with _superuser(pg_url) as su:
        su.execute(f'CREATE ROLE "{role}" LOGIN')
        su.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        su.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    app_url = make_url(pg_url.split("?")[0]).set(username=role).render_as_string(hide_password=False)
    app = None
    try:
        app = open_control(f"{app_url}?schema={schema}")
        with app.session() as s:
            entry = audit.record(s, role, "test.append", "ledger", {"by": "application role"})
        for sql in ("UPDATE audit_ledger SET actor = 'mallory'", "DELETE FROM audit_ledger",
                    "TRUNCATE audit_ledger", "ALTER TABLE audit_ledger DISABLE TRIGGER ALL",
                    "DROP TRIGGER audit_ledger_append_only ON audit_ledger",
                    "SET session_replication_role = replica"):
            with pytest.raises(DBAPIError, match=r"append-only|must be owner|permission denied"), \
                    app.engine.begin() as conn:
                conn.execute(text(sql))
        with app.session() as s:
            verdict = audit.verify(s)
        assert verdict.ok and verdict.head_hash == entry.hash
    finally:
        if app is not None:
            app.close()
        with _superuser(pg_url) as su:
            su.execute(f'DROP OWNED BY "{role}"')
            su.execute(f'DROP ROLE "{role}"')


@pytest.mark.parametrize(("statement", "problem"), [
    ("UPDATE audit_ledger SET details = '{}' WHERE seq = 3", "entry #3 was edited"),
    ("DELETE FROM audit_ledger WHERE seq = 3", "entry #3 is missing: deleted"),
    ("DELETE FROM audit_ledger WHERE seq = (SELECT max(seq) FROM audit_ledger)", "deleted from the end"),
])
def test_tampering_by_a_superuser_is_detected(pgdb, pg_url, statement, problem):
    with _superuser(pg_url) as su:  # a superuser can switch triggers off; the chain still tells
        su.execute("SET session_replication_role = replica")
        su.execute(statement)
    with pgdb.session() as s:
        verdict = audit.verify(s)
    assert not verdict.ok and problem in (verdict.problem or "")


def test_two_processes_appending_never_fork_the_chain(pgdb, pg_url):
    scenarios.concurrent_appends(pg_url)


def test_cli_on_a_postgres_control_plane(tmp_path, monkeypatch, pg_url):
    monkeypatch.setenv("JUSTICELAB_CONTROL_URL", pg_url)
    from tests.control.test_cli_walkthrough import bootstrap

    root = bootstrap(tmp_path, monkeypatch)
    assert not (root / "control.sqlite").exists()
    run("grant", "add", "--dataset", "ed_visit", "--to", "role:mdt_member", "--level", "deidentified",
        "--agreement", "dsa", "--as", "alice")
    grants = json.loads(run("grant", "list", "--format", "json").stdout)
    assert [(g["dataset"], g["to"]) for g in grants] == [("ed_visit", "role:mdt_member")]
    verdict = json.loads(run("audit", "verify", "--format", "json").stdout)[0]
    entries = json.loads(run("audit", "list", "--format", "json", "--as", "root").stdout)
    assert verdict["ok"] and verdict["count"] == len(entries) and entries[-1]["action"] == "grant.add"
    assert Workspace.load(root).config.control == "control.sqlite"  # the environment overrides, config untouched
    assert os.environ["JUSTICELAB_CONTROL_URL"] == pg_url
