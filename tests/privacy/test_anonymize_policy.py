"""Anonymisation policies: what validates, and errors that name the file, the line and the key, whether the schema
rejects the document or the dataset does not fit it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justicelab.privacy.anonymize import PolicyError, load_policy, parse_policy, policy_json_schema, resolve
from justicelab.privacy.risk import open_table
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser, Warehouse
from tests.privacy.test_anonymize_engine import build_deaths

STANDARD = load_standard()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy(write(tmp_path, text))
    return str(err.value).splitlines()


@pytest.fixture(scope="module")
def deaths(tmp_path_factory):
    wh = Warehouse.open(str(tmp_path_factory.mktemp("policy") / "wh.duckdb"))
    build_deaths(wh, rows=50)
    yield wh
    wh.close()


def resolved(wh: Warehouse, path: Path):
    with open_table(wh, "custody_death", STANDARD) as ds:
        return resolve(load_policy(path), ds, Generaliser.for_warehouse(STANDARD, wh))


def test_the_example_public_policy_validates_and_fits_custody_death(deaths):
    plan = resolved(deaths, EXAMPLES / "custody_death_public.yaml")
    assert [q.label for q in plan.qi] == ["county", "date_of_death", "age", "sex", "race"]
    assert plan.qi[1].levels == ("month", "quarter", "year")
    assert plan.qi[2].levels == ("band_5", "band_10", "suppressed")
    assert plan.qi[3].levels == ("recorded",) and plan.qi[4].column == "race_ethnicity"
    assert plan.targets.k == 11 and plan.targets.l == 2 and plan.merge is not None
    assert "death_id" in plan.dropped and plan.output_columns[-1] == "manner_of_death"


def test_the_committed_json_schema_is_the_models(tmp_path):
    committed = json.loads((EXAMPLES / "anonymization-policy.schema.json").read_text(encoding="utf-8"))
    assert committed == policy_json_schema()
    short = parse_policy("dataset: t\ntier: internal\nquasi_identifiers: [age]\ntargets: {k: 2}\n")
    assert short.document.quasi_identifiers[0].attribute == "age" and short.document.metric == "ncp"


def test_schema_errors_name_file_line_and_key(tmp_path):
    lines = problems(tmp_path, """dataset: custody_death
tier: everyone
quasi_identifiers:
  - county
  - attribute: age:band_5
    max_levle: band_10
sensitive: [manner_of_death]
targets:
  k: 0
  l: 2.5
""")
    where = str(tmp_path / "policy.yaml")
    assert f"{where}:2: tier: Input should be 'public', 'researcher' or 'internal', got 'everyone'" in lines
    assert (f"{where}:6: quasi_identifiers[1].max_levle: unknown key (did you mean max_level?); expected one of: "
            "attribute, max_level, weight") in lines
    assert f"{where}:9: targets.k: Input should be greater than or equal to 1, got 0" in lines
    assert f"{where}:10: targets.l: distinct l-diversity counts values: give a whole number, got 2.5" in lines


def test_a_missing_key_points_at_its_mapping_and_duplicates_and_bad_yaml_are_located(tmp_path):
    where = str(tmp_path / "policy.yaml")
    assert problems(tmp_path, "dataset: custody_death\ntier: public\nquasi_identifiers: [county]\n") == [
        f"{where}:1: targets: required key is missing"]
    assert problems(tmp_path, "dataset: a\ntier: public\nquasi_identifiers: [county]\ntargets:\n  k: 5\n  k: 6\n") \
        == [f"{where}:6: targets.k: appears twice (first on line 5); each key may appear once"]
    (line,) = problems(tmp_path, "dataset: a\ntier: [public\n")
    assert line.startswith(f"{where}:3:1: not valid YAML")
    assert problems(tmp_path, "- just a list\n") == [
        f"{where}:1: (document): expected a mapping with dataset, tier, quasi_identifiers, sensitive and targets"]
    with pytest.raises(PolicyError, match=r"nowhere\.yaml: policy file not found"):
        load_policy(tmp_path / "nowhere.yaml")


BAD_FIT = """dataset: custody_death
tier: public
quasi_identifiers:
  - countee
  - attribute: age:band_5
    max_level: band_20
  - last_name
  - month
  - year
sensitive: []
targets: {k: 11, l: 2}
keep: [agency_code, first_name, no_such_column]
drop: [nothing_here]
jurisdiction: {attribute: age, min_population: 1000}
"""


def test_a_policy_that_does_not_fit_its_dataset_gets_every_problem_with_its_line(deaths, tmp_path):
    with pytest.raises(PolicyError) as err:
        resolved(deaths, write(tmp_path, BAD_FIT))
    where = str(tmp_path / "policy.yaml")
    text = str(err.value)
    expected = [
        f"{where}:4: quasi_identifiers[0]: custody_death has no column 'countee' (quasi-identifier); it has: ",
        f"{where}:6: quasi_identifiers[1].max_level: 'band_20' is not a level of age at or above band_5; choose "
        "one of: band_5, band_10, suppressed",
        f"{where}:7: quasi_identifiers[2]: last_name is a direct identifier in the standard: it is never released",
        f"{where}:9: quasi_identifiers[4]: date_of_death is read twice (quasi-identifier and quasi-identifier); list "
        "it once, with the finest level the release may show",
        f"{where}:12: keep[0]: agency_code is a quasi-identifier in the standard",
        f"{where}:12: keep[1]: first_name is a direct-identifier in the standard",
        f"{where}:12: keep[2]: custody_death has no column 'no_such_column'",
        f"{where}:13: drop[0]: custody_death has no column 'nothing_here'",
        f"{where}:11: targets.l: l-diversity needs at least one sensitive attribute",
    ]
    for line in expected:
        assert line in text, f"missing: {line}\nin:\n{text}"
    assert "jurisdiction" not in text  # age's own error is enough
    age_rule = BAD_FIT.replace("    max_level: band_20\n", "")
    with pytest.raises(PolicyError, match=r"policy.yaml:13: jurisdiction.attribute: age has no county level with a "
                                          "region above it"):
        resolved(deaths, write(tmp_path, age_rule))


def test_the_policy_must_be_for_this_dataset_and_the_rule_for_a_county(deaths, tmp_path):
    text = "dataset: arrest\ntier: public\nquasi_identifiers: [county]\ntargets: {k: 2}\n"
    with pytest.raises(PolicyError, match=r"policy.yaml:1: dataset: the policy is for 'arrest' but the data is "
                                          "'custody_death'"):
        resolved(deaths, write(tmp_path, text))
    agency = ("dataset: custody_death\ntier: public\nquasi_identifiers: [agency_code]\ntargets: {k: 2}\n"
              "jurisdiction: {attribute: agency_code, min_population: 5000}\n")
    with pytest.raises(PolicyError, match=r"policy.yaml:5: jurisdiction.attribute: agency_code starts at agency, "
                                          "finer than the county the rule merges: write agency_code:county"):
        resolved(deaths, write(tmp_path, agency))
    suppressed = "dataset: custody_death\ntier: public\nquasi_identifiers: [age:suppressed]\ntargets: {k: 2}\n"
    with pytest.raises(PolicyError, match="would always be blank: leave it out"):
        resolved(deaths, write(tmp_path, suppressed))
