"""The published mapping JSON Schema accepts every shipped mapping and rejects a broken one,
checked with jsonschema — an implementation independent of the pydantic models that produce it."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from justicelab.ingest import mapping_json_schema

MAPPINGS = sorted((Path(__file__).resolve().parents[2] / "src/justicelab/synth/mappings").glob("*/*.yaml"))


@pytest.mark.parametrize("path", MAPPINGS, ids=[p.stem for p in MAPPINGS])
def test_shipped_mappings_validate_against_the_published_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), mapping_json_schema())


def test_the_schema_rejects_unknown_keys_and_wrong_types():
    schema = mapping_json_schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"entity": "booking", "fields": {"x": {"column": "A", "trim": "yes"}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"entity": "booking", "fields": {}, "sorce": {}}, schema)
