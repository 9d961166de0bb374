"""restrict(): what a grantee receives at each level, scanned cell by cell against the recorded values."""

from __future__ import annotations

import re
from collections import Counter

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from justicelab.control.levels import Level
from justicelab.errors import AccessDenied, GateError
from justicelab.gate import (
    AccessDecision,
    AllOf,
    AnyOf,
    Compare,
    FieldAccess,
    PersonIn,
    Treatment,
    grantee_key,
    plan,
    readable_table,
    reference_pseudonym,
    restrict,
)
from justicelab.warehouse import Warehouse
from tests.gate.sample import (
    CITATION,
    DIRECT,
    DROPPED_AT_DEIDENTIFIED,
    EXPECTED_LABEL,
    KEPT_AT_DEIDENTIFIED,
    KEYS,
    ROWS,
    SECRET,
    STANDARD,
    generaliser,
    load_citations,
    rows_of,
)

PSEUDONYM = re.compile(r"^p_[0-9a-f]{20}$")


@pytest.fixture
def citations(warehouse: Warehouse) -> ibis.Table:
    load_citations(warehouse)
    return readable_table(warehouse, CITATION)


def read(table: ibis.Table, levels: dict[str, Level | str], grantee: str = "user:alice", **kwargs) -> list[dict]:
    decision = AccessDecision.of("citation", "research", grantee, levels, "grant 7 (agreement dsa-2017)", **kwargs)
    return rows_of(restrict(table, decision, STANDARD, generaliser(), SECRET))


def all_at(table: ibis.Table, level: str) -> dict[str, str]:
    return dict.fromkeys(table.columns, level)


def test_deidentified_result_holds_no_direct_identifier_or_key_value(citations):
    out = read(citations, all_at(citations, "deidentified"))
    assert len(out) == len(ROWS)
    cells = [str(v) for r in out for v in r.values() if v is not None]
    secret_values = {str(r[c]) for r in ROWS for c in (*DIRECT, *KEYS) if r[c] is not None}
    assert not secret_values & set(cells)
    # Names, addresses and record numbers do not hide inside a longer cell either.
    long_values = {v for v in secret_values if len(v) >= 5}
    assert not [(v, c) for v in long_values for c in cells if v in c]
    assert not set(DROPPED_AT_DEIDENTIFIED) & set(out[0])
    for key in KEYS:
        assert all(r[key] is None or PSEUDONYM.match(r[key]) for r in out), key


def test_quasi_identifiers_appear_only_as_their_hierarchy_labels(citations):
    out = read(citations, all_at(citations, "deidentified"))
    for column, label in EXPECTED_LABEL.items():
        assert Counter(r[column] for r in out) == Counter(label(r[column]) for r in ROWS), column
    for column in KEPT_AT_DEIDENTIFIED:
        assert Counter(r[column] for r in out) == Counter(r[column] for r in ROWS), column


def test_keys_are_the_grantees_pseudonyms_of_the_recorded_values(citations):
    out = read(citations, {"_record_id": "deidentified", "person_id": "deidentified", "citation_number": "identified"})
    key = grantee_key(SECRET, "user:alice")
    by_number = {r["citation_number"]: r for r in ROWS}
    for r in out:
        raw = by_number[r["citation_number"]]
        assert r["_record_id"] == reference_pseudonym(key, "_record_id", raw["_record_id"])
        assert r["person_id"] == reference_pseudonym(key, "person_id", raw["person_id"])
    unlinked = [r for r in out if r["person_id"] is None]
    assert [r["citation_number"] for r in unlinked] == ["C000009"]


def test_pseudonyms_differ_between_grantees_and_stay_stable_for_one(citations):
    levels = {"citation_number": "identified", "person_id": "deidentified", "source_person_id": "deidentified"}
    alice = {r["citation_number"]: r for r in read(citations, levels, "user:alice")}
    again = {r["citation_number"]: r for r in read(citations, levels, "user:alice")}
    bob = {r["citation_number"]: r for r in read(citations, levels, "user:bob")}
    assert alice == again
    for column in ("person_id", "source_person_id"):
        mine = {r[column] for r in alice.values()} - {None}
        theirs = {r[column] for r in bob.values()} - {None}
        assert mine and theirs and not mine & theirs, column
    # One person, one pseudonym per grantee: Maria's two citations share it, so alice can count her records.
    assert alice["C000001"]["person_id"] == alice["C000002"]["person_id"] != bob["C000001"]["person_id"]


def test_each_field_at_its_own_level(citations):
    out = read(citations, {"last_name": "identified", "date_of_birth": "deidentified", "citation_date": "identified",
                           "first_name": "deidentified", "sex": "aggregate", "zip": "none"})
    assert set(out[0]) == {"last_name", "date_of_birth", "citation_date"}
    assert Counter(r["last_name"] for r in out) == Counter(r["last_name"] for r in ROWS)
    assert Counter(r["citation_date"] for r in out) == Counter(r["citation_date"] for r in ROWS)
    assert Counter(r["date_of_birth"] for r in out) == Counter(EXPECTED_LABEL["date_of_birth"](r["date_of_birth"])
                                                                for r in ROWS)


def test_identified_gives_the_granted_fields_as_recorded_and_nothing_else(citations):
    out = read(citations, {"last_name": "identified", "address": "identified", "person_id": "identified"})
    assert set(out[0]) == {"last_name", "address", "person_id"}
    assert sorted(map(str, (r["person_id"] for r in out))) == sorted(map(str, (r["person_id"] for r in ROWS)))


def test_consent_filters_on_the_real_person_id_before_pseudonymising(citations):
    consent = PersonIn(frozenset({"P000001", "P000005", "P999999"}), "consent: MDT, scope part2, current")
    out = read(citations, {"citation_number": "identified", "person_id": "deidentified"}, rows=consent)
    assert sorted(r["citation_number"] for r in out) == ["C000001", "C000002", "C000007", "C000008"]
    key = grantee_key(SECRET, "user:alice")
    assert {r["person_id"] for r in out} == {reference_pseudonym(key, "person_id", p) for p in ("P000001", "P000005")}
    # person_id need not be granted for the consent filter to apply, and nobody's consent means no rows.
    assert len(read(citations, {"citation_number": "identified"}, rows=consent)) == 4
    assert read(citations, {"citation_number": "identified"}, rows=PersonIn(frozenset())) == []


def test_row_rules_compose_and_never_keep_a_missing_value(citations):
    rule = AllOf((Compare("offense_level", "in", ("misdemeanor", "felony"), "grant 3"),
                  AnyOf((Compare("agency_code", "=", "ABPD"), Compare("zip", "!=", "95814")))))
    out = read(citations, {"citation_number": "identified"}, rows=rule)
    expected = [r["citation_number"] for r in ROWS if r["offense_level"] in ("misdemeanor", "felony")
                and (r["agency_code"] == "ABPD" or (r["zip"] is not None and r["zip"] != "95814"))]
    assert sorted(r["citation_number"] for r in out) == sorted(expected)
    assert "C000004" not in expected  # zip missing: the != rule cannot be confirmed, the row stays out
    nulls = read(citations, {"citation_number": "identified"}, rows=Compare("zip", "is null"))
    assert [r["citation_number"] for r in nulls] == ["C000004"]
    assert read(citations, {"citation_number": "identified"}, rows=AnyOf(())) == []


def test_aggregate_only_is_denied_and_points_to_the_indicator_engine(citations):
    decision = AccessDecision.of("citation", "statistics", "user:carol", {"sex": "aggregate", "age": "aggregate"},
                                 "grant 9 (agreement state-dua)", min_cell_size=11, agreement="state-dua")
    with pytest.raises(AccessDenied) as caught:
        restrict(citations, decision, STANDARD, generaliser(), SECRET)
    message = str(caught.value)
    assert "aggregate counts only" in message and "indicator" in message and "under 11" in message
    assert "state-dua" in message and caught.value.exit_code == 3 and caught.value.level == "aggregate"


def test_no_grant_is_denied_with_each_reason(citations):
    decision = AccessDecision("citation", "curiosity", "user:dave", (
        FieldAccess("last_name", Level.none, "grant 4 expired on 2025-06-30"),
        FieldAccess("sex", Level.none, "purpose 'curiosity' is not covered by agreement dsa-2017"),
    ))
    with pytest.raises(AccessDenied, match=r"expired on 2025-06-30.*not covered by agreement dsa-2017"):
        restrict(citations, decision, STANDARD, generaliser(), SECRET)
    with pytest.raises(AccessDenied, match="no grant covers this dataset"):
        restrict(citations, AccessDecision("citation", "x", "user:dave", ()), STANDARD, generaliser(), SECRET)


def test_deidentified_direct_identifiers_alone_leave_nothing_to_show(citations):
    with pytest.raises(AccessDenied, match="no field granted at deidentified remains"):
        read(citations, {"last_name": "deidentified", "address": "deidentified"})


def test_a_decision_naming_a_column_the_table_lacks_is_refused(citations):
    with pytest.raises(GateError, match="grants shoe_size, which the table does not have"):
        read(citations, {"shoe_size": "identified", "sex": "identified"})


def test_a_consent_rule_on_a_table_without_person_ids_shows_no_row(citations):
    bare = citations.drop("person_id")
    with pytest.raises(AccessDenied, match=r"reads person_id.*link run"):
        read(bare, {"sex": "identified"}, rows=PersonIn(frozenset({"P000001"})))


def test_without_a_person_index_every_person_id_is_missing(warehouse):
    load_citations(warehouse)
    warehouse.execute("DROP TABLE person_index")
    table = readable_table(warehouse, CITATION)
    assert table.person_id.isnull().all().to_pyarrow().as_py()
    assert read(table, {"sex": "identified"}, rows=PersonIn(frozenset({"P000001"}))) == []


def test_the_sql_of_a_gated_read_carries_no_key_material(citations):
    decision = AccessDecision.of("citation", "research", "user:alice", all_at(citations, "deidentified"), "g")
    sql = ibis.to_sql(restrict(citations, decision, STANDARD, generaliser(), SECRET))
    key = grantee_key(SECRET, "user:alice")
    inner, outer = key.padded()
    for material in (key.key.hex(), inner, outer, bytes(range(32)).hex()):
        assert material not in sql.lower()
    assert "sha256" in sql.lower()


def test_plan_explains_every_column(citations):
    decision = AccessDecision.of("citation", "research", "user:alice", all_at(citations, "deidentified"), "g")
    plans = {p.column: p for p in plan(decision, CITATION, citations.columns)}
    assert plans["last_name"].treatment is Treatment.drop and "direct identifier" in plans["last_name"].why
    assert plans["citation_number"].treatment is Treatment.pseudonymise and "record key" in plans["citation_number"].why
    assert plans["person_id"].treatment is Treatment.pseudonymise
    assert (plans["agency_code"].hierarchy, plans["agency_code"].hierarchy_level) == ("place", "county")
    assert plans["location"].treatment is Treatment.drop and "free text" in plans["location"].why
    assert plans["sex"].treatment is Treatment.keep and "code list sex" in plans["sex"].why
    assert plans["_source_row"].treatment is Treatment.drop


LEVELS = st.sampled_from(list(Level))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.fixed_dictionaries({c: LEVELS for c in (*CITATION.field_names(), "_record_id", "_source",
                                                           "_batch_id", "_source_row", "person_id")}))
def test_no_field_is_finer_than_its_level_allows(citations, levels):
    decision = AccessDecision.of("citation", "research", "user:erin", levels, "random grant")
    if decision.level < Level.deidentified:
        with pytest.raises(AccessDenied):
            restrict(citations, decision, STANDARD, generaliser(), SECRET)
        return
    plans = {p.column: p for p in plan(decision, CITATION, citations.columns)}
    if not any(p.shown for p in plans.values()):
        with pytest.raises(AccessDenied):
            restrict(citations, decision, STANDARD, generaliser(), SECRET)
        return
    out = rows_of(restrict(citations, decision, STANDARD, generaliser(), SECRET))
    assert len(out) == len(ROWS)
    key = grantee_key(SECRET, "user:erin")
    shown = {c for c, p in plans.items() if p.shown}
    assert set(out[0]) == shown
    for column, level in levels.items():
        got = Counter(r[column] for r in out) if column in shown else None
        raw = [r[column] for r in ROWS]
        if level in (Level.none, Level.aggregate):
            assert got is None, column
        elif level is Level.identified:
            assert got == Counter(raw), column
        elif column in KEYS:
            assert got == Counter(reference_pseudonym(key, column, v) for v in raw), column
            assert not (set(got) & set(raw)) - {None}, column
        elif column in EXPECTED_LABEL:
            assert got == Counter(EXPECTED_LABEL[column](v) for v in raw), column
        elif column in KEPT_AT_DEIDENTIFIED:
            assert got == Counter(raw), column
        else:
            assert column in DROPPED_AT_DEIDENTIFIED and got is None, column
