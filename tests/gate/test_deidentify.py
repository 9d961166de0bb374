"""The de-identification policy: one declaration that covers every hierarchy and column of the standard."""

from __future__ import annotations

import pytest

from justicelab.control.levels import Level
from justicelab.errors import GateError
from justicelab.gate import Treatment, load_policy
from justicelab.gate.deidentify import POLICY_FILE, column_plan, deidentified_plan, parse_policy
from justicelab.standard import PrivacyRole, load_standard
from justicelab.warehouse import SYSTEM_COLUMNS

STANDARD = load_standard()


def test_the_shipped_policy_fits_the_standard():
    load_policy().check(STANDARD)


def test_every_column_of_every_entity_has_a_deidentified_treatment():
    for entity in STANDARD.entities.values():
        for column in (*SYSTEM_COLUMNS, *entity.field_names(), "person_id"):
            p = deidentified_plan(entity, column)
            f = next((f for f in entity.fields if f.name == column), None)
            if column in entity.default_key or column in ("person_id", "source_person_id", "_record_id"):
                assert p.treatment is Treatment.pseudonymise, (entity.name, column)
            elif f is not None and f.privacy_role is PrivacyRole.direct_identifier:
                assert p.treatment is Treatment.drop, (entity.name, column)
            elif f is not None and f.privacy_role is PrivacyRole.quasi_identifier and f.hierarchy:
                assert p.treatment is Treatment.generalise and p.hierarchy == f.hierarchy, (entity.name, column)
                assert p.hierarchy_level != STANDARD.hierarchies[f.hierarchy].levels[0].name or f.hierarchy == "county"
            assert p.why, (entity.name, column)


def test_levels_other_than_deidentified():
    booking = STANDARD.entity("booking")
    assert column_plan(booking, "last_name", Level.identified).treatment is Treatment.keep
    for level in (Level.aggregate, Level.none):
        assert column_plan(booking, "sex", level).treatment is Treatment.drop
    with pytest.raises(GateError, match="booking has no field 'shoe_size'"):
        deidentified_plan(booking, "shoe_size")


def policy_text(**changes: str) -> str:
    text = POLICY_FILE.read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(("change", "message"), [
    ({"date: month": "date: week"}, "generalise_to.date: 'week' is not a level of date"),
    ({"  zip: zip3": "  zipcode: zip3"}, "unknown hierarchy 'zipcode'"),
    ({"  place: county    # reporting agency -> its county\n": ""}, "gives no level for hierarchies place"),
    ({"  _source_row: drop\n": ""}, "system_columns must list exactly"),
    ({"date_of_birth: year": "date_of_birth: decade"}, r"fields.date_of_birth: 'decade' is not a level of date"),
    ({"date_of_birth: year": "last_name: year"}, "fields.last_name: no entity has a quasi-identifier 'last_name'"),
])
def test_a_policy_that_does_not_fit_the_standard_is_refused(change, message):
    policy = parse_policy(policy_text(**change), "edited.yaml")
    with pytest.raises(GateError, match=message):
        policy.check(STANDARD, "edited.yaml")


def test_a_malformed_policy_is_refused_naming_the_file():
    with pytest.raises(GateError, match=r"edited.yaml: without_hierarchy\.coded"):
        parse_policy(policy_text(**{"coded: keep": "coded: show"}), "edited.yaml")
    with pytest.raises(GateError, match=r"edited\.yaml: not valid YAML"):
        parse_policy("a: [", "edited.yaml")
