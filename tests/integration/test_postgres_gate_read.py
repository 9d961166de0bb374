"""read() end to end on PostgreSQL: the control plane and the warehouse both on the real server. Grants with a
consent row rule compose into two row regions; the rows equal DuckDB's for the same control plane; every
read and refusal is one ledger entry on PostgreSQL, and the chain verifies."""

from __future__ import annotations

import json

import pytest

from justicelab.control import audit, entries, open_control
from justicelab.control.accounts import get_user
from justicelab.control.consent import record_consent, revoke_consent
from justicelab.errors import AccessDenied
from justicelab.gate import PersonIn, grantee_key, read, reference_pseudonym
from justicelab.warehouse import Warehouse
from tests.control.conftest import quick_argon2  # noqa: F401  (fast argon2 parameters, autouse)
from tests.gate.access import grant, seed_citation_access
from tests.gate.sample import ROWS, SECRET, STANDARD, generaliser, load_citations, rows_of

pytestmark = pytest.mark.integration


def test_read_on_postgres_end_to_end(pg_url, tmp_path):
    db = open_control(pg_url)
    assert db.kind == "postgresql"
    try:
        seed_citation_access(db, tmp_path)
        grant(db, principal="role:mdt_member", level="deidentified")
        grant(db, principal="user:bob", level="identified", fields=["last_name", "first_name", "date_of_birth"],
              row_rule="consent: {program: mdt, scope: cori}")
        with db.session() as s:
            for person in ("P000001", "P000005"):
                record_consent(s, get_user(s, "pat"), person, program="mdt", scope="cori")
        with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "wh.duckdb")) as duck:
            assert pg.kind != duck.kind
            for wh in (pg, duck):
                load_citations(wh)

            def gate(wh, user="bob", **kwargs):
                return read(wh, db, tmp_path, user, "citation", "MDT case review", standard=STANDARD,
                            generaliser=generaliser(), secret=SECRET, **kwargs)

            on_pg, on_duck = gate(pg), gate(duck)
            assert rows_of(on_pg.expression) == rows_of(on_duck.expression)  # the same rows on both engines
            assert on_pg.fingerprint == on_duck.fingerprint and on_pg.row_count == len(ROWS)
            out = on_pg.table.to_pylist()
            named = sorted((r["person_id"], r["last_name"], r["date_of_birth"]) for r in out if r["last_name"])
            assert named == [("P000001", "GARCIA-LOPEZ", "1987-04-12"), ("P000001", "GARCIA-LOPEZ", "1987-04-12"),
                             ("P000005", "WASHINGTON", "2000-01-01"), ("P000005", "WASHINGTON", "2000-01-01")]
            key = grantee_key(SECRET, "user:bob")
            others = [r for r in out if not r["last_name"]]
            assert {r["person_id"] for r in others} - {None} == {
                reference_pseudonym(key, "person_id", r["person_id"]) for r in ROWS
                if r["person_id"] and r["person_id"] not in ("P000001", "P000005")}
            assert {r["date_of_birth"] for r in others} <= {None, "1960", "2004", "1975", "1999"}

            one = gate(pg, where=PersonIn(frozenset({"P000005"})))
            assert [r["last_name"] for r in one.table.to_pylist()] == ["WASHINGTON", "WASHINGTON"]
            with pytest.raises(AccessDenied, match="no grant on citation for rita"):
                gate(pg, "rita")
            with db.session() as s:
                for person in ("P000001", "P000005"):
                    revoke_consent(s, get_user(s, "pat"), person, program="mdt")
            after = gate(pg)  # nobody consents any more: de-identified rows only, no name column at all
            assert after.row_count == len(ROWS) and "last_name" not in after.columns
        with db.session() as s:
            reads = [e for e in entries(s) if e.action.startswith("read")]
            assert [(e.action, e.actor) for e in reads] == [("read", "bob")] * 3 + [("read.denied", "rita"),
                                                                                      ("read", "bob")]
            assert json.loads(reads[0].details)["row_count"] == len(ROWS)
            assert audit.verify(s).ok
    finally:
        db.close()
