"""Grant composition: per field the most permissive grant wins under the agreement's cap, field lists limit,
row rules restrict to disjoint row regions (checked row by row against a hand-written evaluator), deny by
default with the reason, the agreement's minimum cell size travels with the decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from justicelab.control import Level, open_control
from justicelab.control.accounts import get_user
from justicelab.control.agreements import add_agreement
from justicelab.control.consent import record_consent, revoke_consent
from justicelab.gate import AccessDecision, AllOf, AnyOf, Compare, Not, PersonIn, compose
from justicelab.gate.decision import RowPredicate
from tests.gate.access import agreement, grant, seed_citation_access
from tests.gate.sample import ROWS, STANDARD

CITATION_FIELDS = STANDARD.entity("citation").field_names()


@pytest.fixture
def db(tmp_path):
    control = open_control(str(tmp_path / "control.sqlite"))
    seed_citation_access(control, tmp_path)
    yield control
    control.close()


def composed(db, user: str = "bob", purpose: str = "MDT case review", at: dt.datetime | None = None):
    with db.session() as s:
        return compose(s, user, "citation", purpose, at, standard=STANDARD)


def holds(predicate: RowPredicate | None, row: dict[str, Any]) -> bool:
    """An independent evaluation of a row predicate on one recorded row (a rule on a missing value fails)."""
    if predicate is None:
        return True
    if isinstance(predicate, PersonIn):
        return row["person_id"] is not None and row["person_id"] in predicate.person_ids
    if isinstance(predicate, Compare):
        value = row[predicate.field]
        assert predicate.op == "in"
        return value is not None and value in predicate.value
    if isinstance(predicate, Not):
        return not holds(predicate.part, row)
    if isinstance(predicate, AllOf):
        return all(holds(p, row) for p in predicate.parts)
    assert isinstance(predicate, AnyOf)
    return any(holds(p, row) for p in predicate.parts)


def part_of(parts: tuple[AccessDecision, ...], row: dict[str, Any]) -> AccessDecision | None:
    """The one part whose rows hold the row (None: no part), asserting the parts never overlap."""
    found = [p for p in parts if holds(p.rows, row)]
    assert len(found) <= 1, [p.rows.describe() if p.rows else "all" for p in found]
    return found[0] if found else None


def test_the_most_permissive_grant_per_field_wins_and_field_lists_limit(db):
    grant(db, principal="role:mdt_member", level="deidentified", fields=["sex", "offense_code", "date_of_birth"])
    grant(db, principal="user:bob", level="identified", fields=["date_of_birth", "last_name"])
    grant(db, principal="department:health", level="aggregate", fields=["zip"])
    (part,) = composed(db).parts
    assert part.rows is None
    assert part.access("date_of_birth").level is Level.identified
    assert "grant #2 (user:bob, agreement dsa)" in part.access("date_of_birth").reason
    assert part.access("sex").level is Level.deidentified and part.access("zip").level is Level.aggregate
    assert part.access("address").level is Level.none
    assert part.access("address").reason.startswith("no grant covers this field")
    assert part.min_cell_size == 11 and part.agreement == "dsa"


def test_never_above_the_agreements_maximum_for_the_dataset(db, tmp_path):
    grant(db, principal="user:bob", level="identified")
    with db.session() as s:  # the agreement is amended: citation at most de-identified from now on
        add_agreement(s, get_user(s, "root"), agreement(tmp_path, datasets=[
            {"dataset": "citation", "maximum_level": "deidentified"}]), replace=True)
    (part,) = composed(db).parts
    assert {part.access(f).level for f in CITATION_FIELDS} == {Level.deidentified, Level.none}
    assert "granted identified but agreement dsa allows at most deidentified" in part.access("sex").reason
    assert part.access("person_id").level is Level.deidentified  # no direct identifier is identified any more


def test_a_row_rule_gives_its_level_only_on_the_rows_it_admits(db):
    grant(db, principal="role:mdt_member", level="deidentified")
    grant(db, principal="user:bob", level="identified", fields=["last_name", "first_name"],
          row_rule="consent: {program: mdt, scope: cori}")
    with db.session() as s:
        record_consent(s, get_user(s, "pat"), "P000001", program="mdt", scope="cori")
    c = composed(db)
    assert len(c.parts) == 2
    for row in ROWS:
        part = part_of(c.parts, row)
        assert part is not None  # the unconditional grant admits every row
        consented = row["person_id"] == "P000001"
        assert part.access("last_name").level is (Level.identified if consented else Level.deidentified)
        assert part.access("person_id").level is (Level.identified if consented else Level.deidentified)
        assert part.access("date_of_birth").level is Level.deidentified


def test_rules_split_rows_into_disjoint_regions_with_exact_levels(db):
    grant(db, principal="user:bob", level="identified", fields=["last_name"],
          row_rule="consent: {program: mdt, scope: cori}")
    grant(db, principal="role:mdt_member", level="deidentified", fields=["offense_code", "last_name", "sex"],
          row_rule="field_in: {field: offense_level, values: [misdemeanor, felony]}")
    grant(db, principal="department:health", level="identified", fields=["sex"],
          row_rule="field_in: {field: agency_code, values: [ABPD]}")
    with db.session() as s:
        for person in ("P000001", "P000002", "P000004"):
            record_consent(s, get_user(s, "pat"), person, program="mdt", scope="cori")
    c = composed(db)
    seen = 0
    for row in ROWS:
        consent = row["person_id"] in {"P000001", "P000002", "P000004"}
        serious = row["offense_level"] in ("misdemeanor", "felony")
        abpd = row["agency_code"] == "ABPD"
        expected = {
            "last_name": Level.identified if consent else Level.deidentified if serious else Level.none,
            "offense_code": Level.deidentified if serious else Level.none,
            "sex": Level.identified if abpd else Level.deidentified if serious else Level.none,
        }
        part = part_of(c.parts, row)
        if not (consent or serious or abpd):
            assert part is None  # no grant admits it: not part of any answer
            continue
        assert part is not None
        seen += 1
        assert {f: part.access(f).level for f in expected} == expected, row["_record_id"]
        assert part.access("city").level is Level.none
    assert seen == 8 and len(c.parts) <= 2 ** 3  # citations 5 and 8 (RVPD infractions, no consent) in none


def test_default_deny_says_why(db):
    assert str(composed(db).denial()).endswith("no grant on citation for bob (directly or through role:mdt_member, "
                                               "department:health)")
    gid = grant(db, principal="user:bob", level="identified", purpose="research")
    denied = composed(db).denial()
    assert denied is not None and f"grant #{gid}" in str(denied) and "granted for 'research'" in str(denied)
    assert composed(db, "zed").denial() is not None and "no user 'zed'" in str(composed(db, "zed").denial())
    grant(db, principal="user:bob", level="aggregate")
    aggregate = composed(db).denial()
    assert aggregate is not None and aggregate.level == "aggregate" and "under 11" in str(aggregate)


def test_a_consent_rule_nobody_meets_denies_with_that_reason(db):
    gid = grant(db, principal="user:bob", level="identified", row_rule="consent: {program: mdt, scope: cori}")
    with db.session() as s:
        record_consent(s, get_user(s, "pat"), "P000003", program="mdt", scope="cori")
    assert composed(db).readable
    with db.session() as s:
        revoke_consent(s, get_user(s, "pat"), "P000003", program="mdt", reason="withdrew")
    c = composed(db)
    assert not c.readable
    assert (f"grant #{gid} gives rows only of persons with a current mdt consent covering cori, and nobody has one"
            in str(c.denial()))


def test_system_columns_follow_the_fields(db):
    grant(db, principal="user:bob", level="deidentified")
    (part,) = composed(db).parts
    assert part.access("_record_id").level is Level.deidentified and part.access("_source").level is Level.deidentified
    assert part.access("citation_number").level is Level.none  # one record pseudonym: _record_id
    assert part.access("_batch_id").level is Level.none and part.access("person_id").level is Level.deidentified
    grant(db, principal="user:bob", level="identified", fields=["citation_number"])
    (part,) = composed(db).parts
    assert part.access("_record_id").level is Level.identified and part.access("_source_row").level is Level.identified
    assert part.access("person_id").level is Level.identified  # the citation number is a direct identifier


def test_the_strictest_minimum_cell_size_of_the_agreements_used(db, tmp_path):
    with db.session() as s:
        add_agreement(s, get_user(s, "root"), agreement(tmp_path, "dua", minimum_cell_size=20))
    grant(db, principal="user:bob", level="deidentified", fields=["sex"])
    grant(db, principal="user:bob", level="deidentified", fields=["age"], agreement="dua")
    (part,) = composed(db).parts
    assert part.min_cell_size == 20 and part.agreement == "dsa, dua"
    assert composed(db).as_dict()["min_cell_size"] == 20
