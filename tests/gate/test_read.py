"""read(): the one read path. Each read leaves one ledger entry; rows and columns are exactly what the grants
allow; lookups by a recorded value only where it is identified; every kind of refusal says why."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from justicelab.control import Level, NotPermitted, entries, open_control
from justicelab.control.accounts import disable_user, get_user
from justicelab.control.agreements import add_agreement
from justicelab.control.consent import record_consent, revoke_consent
from justicelab.control.grants import add_grant
from justicelab.control.periods import utcnow
from justicelab.errors import AccessDenied, GateError
from justicelab.gate import Compare, PersonIn, grantee_key, read, reference_pseudonym
from justicelab.warehouse import Warehouse
from tests.gate.access import END, TODAY, agreement, grant, seed_citation_access
from tests.gate.sample import ROWS, SECRET, STANDARD, generaliser, load_citations, month

RAW = {r["_record_id"]: r for r in ROWS}


@pytest.fixture
def env(tmp_path):
    db = open_control(str(tmp_path / "control.sqlite"))
    seed_citation_access(db, tmp_path)
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        load_citations(wh)
        yield wh, db, tmp_path
    db.close()


def gate_read(env, user: str = "bob", purpose: str = "MDT case review", **kwargs):
    wh, db, root = env
    return read(wh, db, root, user, "citation", purpose, standard=STANDARD, generaliser=generaliser(),
                secret=SECRET, **kwargs)


def ledger(env) -> list:
    with env[1].session() as s:
        return [e for e in entries(s) if e.action.startswith("read")]


def denied(env, match: str, user: str = "bob", purpose: str = "MDT case review", **kwargs) -> AccessDenied:
    """Assert the read is refused with ``match`` in the message, and that the refusal is in the ledger."""
    before = len(ledger(env))
    with pytest.raises(AccessDenied, match=match) as info:
        gate_read(env, user, purpose, **kwargs)
    after = ledger(env)
    assert len(after) == before + 1
    entry = after[-1]
    assert (entry.action, entry.actor, entry.target) == ("read.denied", user, "citation")
    assert json.loads(entry.details)["reason"] == str(info.value)
    return info.value


def test_a_deidentified_read_pseudonymises_generalises_and_is_recorded(env):
    grant(env[1], principal="role:mdt_member", level="deidentified")
    result = gate_read(env)
    key = grantee_key(SECRET, "user:bob")
    rows = {r["_record_id"]: r for r in result.table.to_pylist()}
    assert set(rows) == {reference_pseudonym(key, "_record_id", rid) for rid in RAW}
    for rid, raw in RAW.items():
        out = rows[reference_pseudonym(key, "_record_id", rid)]
        assert out["person_id"] == reference_pseudonym(key, "person_id", raw["person_id"])
        assert out["citation_date"] == month(raw["citation_date"]) and out["offense_code"] == raw["offense_code"]
        assert "last_name" not in out and "citation_number" not in out and "_batch_id" not in out
    (entry,) = ledger(env)
    body = json.loads(entry.details)
    assert (entry.action, entry.actor, body["purpose"], body["row_count"]) == ("read", "bob", "MDT case review", 10)
    assert body["fields"] == result.columns and body["level"]["citation_date"] == "deidentified"
    assert body["query_fingerprint"] == result.fingerprint and body["grants"] == [1]
    assert result.entry == entry.seq


def test_consented_persons_identified_everyone_else_deidentified_in_one_result(env):
    grant(env[1], principal="role:mdt_member", level="deidentified")
    grant(env[1], principal="user:bob", level="identified", fields=["last_name", "citation_date"],
          row_rule="consent: {program: mdt, scope: cori}")
    with env[1].session() as s:
        record_consent(s, get_user(s, "pat"), "P000002", program="mdt", scope="cori")
    out = gate_read(env).table.to_pylist()
    assert len(out) == 10
    named = [r for r in out if r["last_name"] is not None]
    assert sorted((r["person_id"], r["last_name"], r["citation_date"]) for r in named) == [
        ("P000002", "O'BRIEN", "2021-03-01"), ("P000002", "O'BRIEN", "2021-12-31")]
    others = [r for r in out if r["last_name"] is None]
    assert all(r["person_id"] is None or r["person_id"].startswith("p_") for r in others)
    assert {r["citation_date"] for r in others} <= {month(r["citation_date"]) for r in ROWS}


def test_lookups_by_a_recorded_value_only_where_it_is_identified(env):
    grant(env[1], principal="role:mdt_member", level="deidentified")
    with pytest.raises(AccessDenied, match="person_id not identified for bob, so they cannot be looked up"):
        gate_read(env, where=PersonIn(frozenset({"P000001"})))
    grant(env[1], principal="user:bob", level="identified", fields=["last_name"],
          row_rule="consent: {program: mdt, scope: cori}")
    with env[1].session() as s:
        record_consent(s, get_user(s, "pat"), "P000001", program="mdt", scope="cori")
    found = gate_read(env, where=PersonIn(frozenset({"P000001"})))
    assert [r["last_name"] for r in found.table.to_pylist()] == ["GARCIA-LOPEZ"] * 2
    assert len(found.withheld) == 1 and "cannot be looked up" in found.withheld[0]
    # a person without consent: the identified part is searched, the de-identified one is not
    assert gate_read(env, where=PersonIn(frozenset({"P000002"}))).row_count == 0
    body = json.loads(ledger(env)[-1].details)
    assert body["filter"] == {"person_in": ["P000002"]} and body["row_count"] == 0


def test_fields_limit_and_at_least(env):
    grant(env[1], principal="user:bob", level="deidentified")
    grant(env[1], principal="user:bob", level="identified", fields=["sex", "offense_code"])
    result = gate_read(env, fields=["sex", "offense_code", "date_of_birth"], limit=3)
    assert result.columns == ["date_of_birth", "sex", "offense_code"] and result.row_count == 3
    assert result.levels() == {"date_of_birth": Level.deidentified, "sex": Level.identified,
                               "offense_code": Level.identified}
    denied(env, r"may not see last_name of citation .*direct identifier: dropped", fields=["sex", "last_name"])
    denied(env, r"may not see date_of_birth, sex of citation at identified.*date_of_birth \(deidentified\)",
           fields=["date_of_birth", "sex"], at_least=Level.identified)
    assert gate_read(env, fields=["sex"], at_least=Level.identified).row_count == 10
    with pytest.raises(GateError, match="citation has no field nickname"):
        gate_read(env, fields=["nickname"])
    for limit in (-1, 2**63, 10**20):  # refused with a clear error (a database would not take the last two)
        with pytest.raises(GateError, match=r"expected 0 to 9,223,372,036,854,775,807 rows"):
            gate_read(env, limit=limit)
    assert gate_read(env, limit=2**63 - 1).row_count == 10


def test_the_fingerprint_names_what_was_asked(env):
    grant(env[1], principal="user:bob", level="identified")
    a = gate_read(env, where=Compare("_record_id", "in", ("police_citations:C000001",)))
    b = gate_read(env, where=Compare("_record_id", "in", ("police_citations:C000001",)))
    c = gate_read(env, where=Compare("_record_id", "in", ("police_citations:C000002",)))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.table.to_pylist()[0]["last_name"] == "GARCIA-LOPEZ"


def test_two_grantees_cannot_join_their_extracts(env):
    grant(env[1], principal="role:researcher", level="deidentified", purpose="research")
    rita = gate_read(env, "rita", "research").table.to_pylist()
    ray = gate_read(env, "ray", "research").table.to_pylist()
    for column in ("_record_id", "person_id", "source_person_id"):
        assert not {r[column] for r in rita} - {None} & {r[column] for r in ray} - {None}, column


# -- every refusal says why, and is recorded --------------------------------------------------------------

def test_expired_grant(env):
    grant(env[1], principal="user:bob", level="identified", expires=TODAY + dt.timedelta(days=10))
    assert gate_read(env).row_count == 10
    denied(env, f"expired on {TODAY + dt.timedelta(days=10)}", at=utcnow() + dt.timedelta(days=11))


def test_ended_agreement(env):
    grant(env[1], principal="user:bob", level="identified")
    denied(env, f"agreement dsa ended on {END}", at=utcnow() + dt.timedelta(days=401))


def test_revoked_consent(env):
    grant(env[1], principal="user:bob", level="identified", row_rule="consent: {program: mdt, scope: cori}")
    with env[1].session() as s:
        record_consent(s, get_user(s, "pat"), "P000004", program="mdt", scope="cori")
    assert [r["last_name"] for r in gate_read(env).table.to_pylist()] == ["SMITH"]
    with env[1].session() as s:
        revoke_consent(s, get_user(s, "pat"), "P000004", program="mdt", reason="withdrew")
    denied(env, "only of persons with a current mdt consent covering cori, and nobody has one")


def test_wrong_purpose(env):
    grant(env[1], principal="user:bob", level="identified", purpose="MDT case review")
    denied(env, "purpose 'research' is not covered: granted for 'MDT case review'", purpose="research")
    denied(env, r"purpose 'marketing' is not covered by agreement dsa \(MDT case review; research\)",
           purpose="marketing")


def test_steward_of_another_department(env):
    with env[1].session() as s, pytest.raises(NotPermitted, match="alice is a steward of health, but citation is "
                                                                  "owned by police"):
        add_grant(s, get_user(s, "alice"), dataset="citation", principal="user:alice", level="identified",
                  agreement="dsa")
    denied(env, r"no grant on citation for alice \(directly or through role:steward, department:health\)",
           user="alice")


def test_disabled_and_unknown_users(env):
    grant(env[1], principal="role:researcher", level="deidentified")
    assert gate_read(env, "ray", "research").row_count == 10
    with env[1].session() as s:
        disable_user(s, get_user(s, "root"), "ray", "left the department")
    denied(env, "user ray is disabled", user="ray", purpose="research")
    denied(env, "no user 'zed'", user="zed", purpose="research")


def test_aggregate_only_points_to_counts_with_the_cell_size(env, tmp_path):
    grant(env[1], principal="user:bob", level="aggregate")
    err = denied(env, r"aggregate counts only .*cells under 11 are suppressed")
    assert err.level == "aggregate"


def test_a_read_that_cannot_be_de_identified_fails_closed_and_is_recorded(env):
    wh, db, root = env
    grant(db, principal="user:bob", level="deidentified")
    before = len(ledger(env))
    with pytest.raises(Exception, match="needs the reference table agency"):  # no agency directory loaded
        read(wh, db, root, "bob", "citation", "MDT case review", standard=STANDARD, secret=SECRET)
    (entry,) = ledger(env)[before:]
    assert entry.action == "read.denied" and "reference table agency" in json.loads(entry.details)["reason"]


def test_a_second_agreement_with_another_purpose(env, tmp_path):
    with env[1].session() as s:
        add_agreement(s, get_user(s, "root"), agreement(tmp_path, "eval", purposes=["program evaluation"]))
    grant(env[1], principal="user:bob", level="deidentified", agreement="eval")
    assert gate_read(env, purpose="program evaluation").composition.parts[0].agreement == "eval"
    denied(env, "not covered by agreement eval", purpose="MDT case review")
