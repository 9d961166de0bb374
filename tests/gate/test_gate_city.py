"""The gate on a linked synthetic city: every de-identified extract of every person-bearing dataset, cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from justicelab.gate import AccessDecision, GateSecret, Treatment, plan, readable_table, reference_pseudonym, restrict
from justicelab.gate.pseudonyms import grantee_key
from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage import link_run
from justicelab.standard import PrivacyRole, load_standard
from justicelab.synth import generate_city
from justicelab.warehouse import Generaliser, Warehouse

STANDARD = load_standard()
PLACE_FIELDS = {"agency_code", "arresting_agency", "referring_agency"}
LABEL = {"month": r"\d{4}-\d{2}", "year": r"\d{4}", "band_5": r"\d{1,3}-\d{1,3}", "zip3": r"\d{3}",
         "county": "sacramento"}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gate_city")
    manifest = generate_city(root / "city", people=300, years=2, seed=5)
    with Warehouse.open(str(root / "wh.duckdb")) as wh:
        for source in manifest.sources:
            ingest_file(wh, source.path, load_mapping(source.mapping))
        link_run(wh)
    return root


def test_no_direct_identifier_reaches_a_deidentified_reader(city, tmp_path):
    secret = GateSecret.load_or_create(tmp_path)
    read = 0
    with Warehouse.open(str(city / "wh.duckdb")) as wh:
        for entity in STANDARD.entities.values():
            if not entity.person_bearing or not wh.has_table(entity.name) or wh.count(entity.name) == 0:
                continue
            table = readable_table(wh, entity)
            agencies = {v for f in PLACE_FIELDS & set(table.columns)
                        for v in table[f].to_pyarrow().to_pylist() if v is not None}
            generaliser = Generaliser(STANDARD, {"agency.county": dict.fromkeys(agencies, "sacramento")})
            decision = AccessDecision.of(entity.name, "research", "user:rita", dict.fromkeys(table.columns,
                                         "deidentified"), "grant 1")
            raw = table.to_pyarrow().to_pylist()
            out = restrict(table, decision, STANDARD, generaliser, secret).to_pyarrow().to_pylist()
            assert len(out) == len(raw) > 0
            identifying = {f.name for f in entity.fields if f.privacy_role is PrivacyRole.direct_identifier}
            # Values of 3+ characters: a middle initial "M" may equal a sex code without being a leak.
            secrets_ = {str(r[c]) for r in raw for c in (*identifying, "_record_id", "person_id")
                        if r[c] is not None and len(str(r[c])) >= 3}
            cells = {str(v) for r in out for v in r.values() if v is not None}
            assert not secrets_ & cells, (entity.name, sorted(secrets_ & cells))
            names = {v for v in secrets_ if len(v) >= 5 and not re.fullmatch(r"[0-9a-f]+", v)}
            assert not [(v, c) for v in names for c in cells if v in c], entity.name
            assert not identifying - {"source_person_id", *entity.default_key} & set(out[0]), entity.name
            for p in plan(decision, entity, table.columns):
                if p.treatment is Treatment.generalise:
                    assert p.hierarchy_level is not None
                    assert all(re.fullmatch(LABEL[p.hierarchy_level], r[p.column]) for r in out
                               if r[p.column] is not None), (entity.name, p.column)
                    # Nothing is suppressed at these levels: every recorded value gets its label.
                    present = sum(r[p.column] is not None for r in raw)
                    assert sum(r[p.column] is not None for r in out) == present, (entity.name, p.column)
            key = grantee_key(secret, "user:rita")
            assert ({r["person_id"] for r in out} - {None}
                    == {reference_pseudonym(key, "person_id", r["person_id"]) for r in raw if r["person_id"]})
            read += 1
    assert read >= 5  # citations, bookings, EMS responses, ED visits, shelter stays, prosecution cases
