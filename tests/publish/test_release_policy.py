"""Release policies: the example validates; every mistake is named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from justicelab.privacy.anonymize import PolicyError
from justicelab.publish.tiers import load_release_policy, parse_release_policy, release_policy_json_schema

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "releases" / "custody_death.yaml"

GOOD = """dataset: custody_death
title: T
publisher: P
description: D
risk: {qi: [county]}
tiers:
  public:
    description: Anyone.
    tables:
      - {name: county_year, by: [county, year]}
"""


def test_the_example_policy_and_its_anonymisation_policies_load():
    policy = load_release_policy(EXAMPLE)
    assert set(policy.document.tiers) == {"public", "researcher", "internal"}
    assert policy.anonymization("public").document.targets.k == 11
    assert policy.anonymization("researcher").document.tier == "researcher"
    assert policy.anonymization("internal") is None and len(policy.sha256) == 64
    assert release_policy_json_schema()["$id"].endswith("release-policy.schema.json")


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("title: T\n", ""), r"policy:1: title: required key is missing"),
    (GOOD.replace("threshold", "x").replace("by: [county, year]", "by: [county, year], treshold: 5"),
     r":10: tiers.public.tables\[0\].treshold: unknown key \(did you mean threshold\?\)"),
    (GOOD.replace("  public:", "  everyone:"),
     r":8: tiers.everyone.*'public', 'researcher' or 'internal', got 'everyone'"),
    (GOOD.replace("    tables:\n      - {name: county_year, by: [county, year]}\n", ""),
     r"give records or tables"),
    (GOOD.replace("by: [county, year]}", "by: [county, year], threshold: 0}"), r"threshold 0 is for the internal"),
    (GOOD.replace("    tables:", "    records: {as_read: true}\n    tables:"), r"as_read is for the internal"),
    (GOOD.replace("    tables:", "    pseudonyms: true\n    tables:"), r"pseudonyms are for the researcher"),
    (GOOD + "      - {name: county_year, by: [county]}\n", r"table names repeat: county_year"),
    ("dataset: [", r"policy:1:\d+: not valid YAML"),
])
def test_mistakes_are_named_by_line_and_key(text, message):
    with pytest.raises(PolicyError, match=message):
        parse_release_policy(text)


def test_a_tier_the_policy_lacks_and_a_policy_for_another_dataset(tmp_path):
    policy = parse_release_policy(GOOD, tmp_path / "r.yaml")
    with pytest.raises(PolicyError, match="no researcher tier"):
        policy.tier("researcher")
    with pytest.raises(PolicyError, match="unknown tier 'everyone'"):
        policy.tier("everyone")
    (tmp_path / "arrest.yaml").write_text("dataset: arrest\ntier: public\nquasi_identifiers: [sex]\n"
                                          "targets: {k: 5}\n")
    other = parse_release_policy(GOOD.replace("    tables:", "    records: {policy: arrest.yaml}\n    tables:"),
                                 tmp_path / "r.yaml")
    with pytest.raises(PolicyError, match=r"r.yaml:\d+: tiers.public.records.policy: arrest.yaml is a policy for "
                                          "arrest, not custody_death"):
        other.anonymization("public")
    with pytest.raises(PolicyError, match="release policy file not found"):
        load_release_policy(tmp_path / "missing.yaml")
