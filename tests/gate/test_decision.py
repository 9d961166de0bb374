"""Access decisions: immutable, deny by default, a dataset level that is the highest field level, clear refusals."""

from __future__ import annotations

import dataclasses

import pytest

from justicelab.control.levels import Level
from justicelab.errors import AccessDenied, GateError
from justicelab.gate import AccessDecision, AllOf, AnyOf, Compare, FieldAccess, PersonIn

DECISION = AccessDecision(
    "ed_visit", "MDT case review", "user:bob",
    (FieldAccess("last_name", Level.identified, "grant 2 (agreement dsa-2017)"),
     FieldAccess("date_of_birth", "deidentified", "grant 5 (role mdt_member)"),
     FieldAccess("diagnosis_code", Level.none, "agreement dsa-2017 does not cover diagnosis_code")),
    rows=AllOf((PersonIn(frozenset({"P1", "P2"}), "consent part2"), Compare("facility", "=", "Mercy", "grant 5"))),
    min_cell_size=11, agreement="dsa-2017",
)


def test_levels_per_field_and_for_the_dataset():
    assert DECISION.level is Level.identified
    assert DECISION.access("date_of_birth").level is Level.deidentified  # a string level is read as a Level
    assert DECISION.access("address") == FieldAccess("address", Level.none, "no grant covers this field")
    assert DECISION.fields_at(Level.identified, Level.deidentified) == ["last_name", "date_of_birth"]
    assert AccessDecision("x", "p", "user:a", ()).level is Level.none


def test_immutable_and_comparable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DECISION.purpose = "anything"  # type: ignore[misc]
    same = dataclasses.replace(DECISION)
    assert same == DECISION and hash(same) == hash(DECISION)


def test_explains_itself():
    d = DECISION.as_dict()
    assert d["level"] == "identified" and d["min_cell_size"] == 11
    assert d["fields"][2] == {"field": "diagnosis_code", "level": "none",
                              "reason": "agreement dsa-2017 does not cover diagnosis_code"}
    assert d["rows"] == "(person_id in a set of 2 persons [consent part2] AND facility = Mercy [grant 5])"


def test_aggregate_decision_refuses_rows_with_the_minimum_cell_size():
    d = AccessDecision.of("booking", "statistics", "department:doj", {"sex": "aggregate", "last_name": "none"},
                          "grant 1", min_cell_size=5)
    with pytest.raises(AccessDenied, match=r"aggregate counts only \(grant 1\).*indicators compute.*under 5"):
        d.require_rows()
    AccessDecision.of("booking", "research", "user:a", {"sex": "deidentified"}, "grant 2").require_rows()  # rows


@pytest.mark.parametrize(("build", "message"), [
    (lambda: AccessDecision("x", "p", "user:a", (FieldAccess("a", Level.none, "r"),) * 2), "listed twice: a"),
    (lambda: AccessDecision("x", "p", "", ()), "no grantee"),
    (lambda: AccessDecision("x", "p", "user:a", (), min_cell_size=0), "minimum cell size 0"),
    (lambda: FieldAccess("a", "secret", "r"), "unknown level 'secret'"),
    (lambda: Compare("a", "like", "x"), "unknown operator 'like'"),  # type: ignore[arg-type]
    (lambda: Compare("a", "in", "x"), "needs a list of values"),
    (lambda: Compare("a", "=", None), "needs one value"),
    (lambda: Compare("a", "is null", 3), "takes no value"),
])
def test_malformed_decisions_are_refused(build, message):
    with pytest.raises(GateError, match=message):
        build()


def test_row_predicates_describe_themselves():
    assert AnyOf(()).describe() == "no rows" and AllOf(()).describe() == "all rows"
    assert Compare("zip", "in", ["95814", "95816"]).describe() == "zip in (95814, 95816)"
    assert Compare("zip", "is null").describe() == "zip is null"
