"""Agreement files: the example is valid, the JSON Schema is current, and every bad file gets an error naming
the file, the line and the key, and what was expected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from justicelab.control.agreement_schema import agreement_json_schema
from justicelab.control.agreements import read_agreement
from justicelab.control.errors import AgreementError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
EXAMPLE = EXAMPLES / "dsa-2017.yaml"
ED_FIELDS = "    fields: [source_person_id, last_name, first_name, date_of_birth, sex, arrival"


def test_the_example_is_valid_for_the_loader_and_for_an_independent_json_schema_validator():
    parsed = read_agreement(EXAMPLE)
    assert parsed.code == "dsa-2017" and parsed.document.minimum_cell_size == 11
    jsonschema.validate(json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), default=str)),
                        agreement_json_schema())


def test_the_committed_json_schema_is_the_generated_one():
    committed = json.loads((EXAMPLES / "agreement.schema.json").read_text(encoding="utf-8"))
    assert committed == agreement_json_schema(), "regenerate: justicelab agreement schema -o docs/examples/..."


def _lines() -> list[str]:
    return EXAMPLE.read_text(encoding="utf-8").splitlines()


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(_lines(), 1) if line.startswith(text))


def _with(tmp_path: Path, old: str, new: str) -> Path:
    body = EXAMPLE.read_text(encoding="utf-8")
    assert old in body
    path = tmp_path / "dsa-2017.yaml"
    path.write_text(body.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "line_of", "expected"), [
    ("minimum_cell_size: 11", "minimum_cell_size: eleven", "minimum_cell_size",
     r"minimum_cell_size: Input should be a valid integer.*got 'eleven'"),
    ("start: 2017-07-01", "start: July 2017", "start", r"start: Input should be a valid date.*got 'July 2017'"),
    ("onward_sharing: false", "onward_sharng: true\nonward_sharing: false", "onward_sharing",
     r"onward_sharng: unknown key \(did you mean onward_sharing\?\); expected one of"),
    ("retention: 7y", "retention: seven years", "retention", r"retention: .*expected a positive count and a unit"),
    ("  - dataset: ed_visit", "  - dataset: ed_visits", "  - dataset: ed_visit",
     r"datasets\[3\]\.dataset: 'ed_visits' is not an entity of the standard \(did you mean ed_visit"),
    (ED_FIELDS, ED_FIELDS.replace("last_name", "lastname"), ED_FIELDS,
     r"datasets\[3\]\.fields\[1\]: 'lastname' is not a field of ed_visit \(did you mean last_name"),
    ("  - dataset: ems_response\n    maximum_level: deidentified", "  - dataset: ems_response\n    maximum_level: top",
     "    maximum_level: deidentified", r"datasets\[2\]\.maximum_level: Input should be 'none', 'aggregate'"),
    ("end: 2027-06-30", "end: 2016-06-30", "end", r"end: the agreement ends \(2016-06-30\) before it starts"),
    ("legal_basis: >-", "title: again\nlegal_basis: >-", "legal_basis",
     r"title: appears twice \(first on line 5\)"),
])
def test_bad_agreement_files_name_file_line_and_key(tmp_path, old, new, line_of, expected):
    path = _with(tmp_path, old, new)
    with pytest.raises(AgreementError) as info:
        read_agreement(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{_line_of(line_of)}: "), message
    assert re.search(expected, message), message


def test_a_missing_key_points_at_the_mapping_that_lacks_it_and_all_problems_are_reported(tmp_path):
    path = _with(tmp_path, "legal_basis: >-", "legal_basis_note: >-")
    body = path.read_text(encoding="utf-8").replace("minimum_cell_size: 11", "minimum_cell_size: 0")
    path.write_text(body, encoding="utf-8")
    with pytest.raises(AgreementError) as info:
        read_agreement(path)
    lines = str(info.value).splitlines()
    assert f"{path}:3: legal_basis: required key is missing" in lines
    cell = _line_of("minimum_cell_size")
    assert f"{path}:{cell}: minimum_cell_size: Input should be greater than or equal to 1, got 0" in lines
    assert any("legal_basis_note: unknown key" in line for line in lines)


def test_invalid_yaml_gives_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\ntitle: [unclosed\nparties: [a]\n", encoding="utf-8")
    with pytest.raises(AgreementError, match=rf"^{path}:3:\d+: not valid YAML"):
        read_agreement(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(AgreementError, match=rf"^{path}:1: \(document\): expected a YAML mapping"):
        read_agreement(path)
