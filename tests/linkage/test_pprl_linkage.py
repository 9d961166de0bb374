"""Linking a department that shares only encodings: Health uploads keyed Bloom-filter encodings of its
patients' identifiers and no cleartext; every department encodes with the shared secret. The person
index built that way must be nearly as accurate as the cleartext one (target: F1 within 0.01)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage import evaluate, explain, link_run
from justicelab.linkage.pprl import encode_extract, load_encodings
from justicelab.linkage.store import PERSON_INDEX
from justicelab.synth import generate_city
from justicelab.warehouse import Warehouse

ENCODED_ONLY = ("ed_visits", "ed_visit")
IDENTIFIERS = ("first_name", "middle_name", "last_name", "date_of_birth", "address", "zip", "source_person_id")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return generate_city(tmp_path_factory.mktemp("city"), people=1500, years=4, seed=31)


@pytest.fixture(scope="module")
def ingested(city, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clear") / "wh.duckdb"
    with Warehouse.open(str(path)) as wh:
        for source in city.sources:
            ingest_file(wh, source.path, load_mapping(source.mapping))
    return path


def _scores(wh: Warehouse, city) -> dict[str, float]:
    return evaluate(wh, city.answer_key)[0]


def test_encoded_department_links_nearly_as_well_as_cleartext(city, ingested, tmp_path):
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"shared among departments, never the platform")
    clear_path, pprl_path = tmp_path / "clear.duckdb", tmp_path / "pprl.duckdb"
    shutil.copy(ingested, clear_path)
    shutil.copy(ingested, pprl_path)
    with Warehouse.open(str(clear_path)) as clear:
        link_run(clear)
        cleartext = _scores(clear, city)
    with Warehouse.open(str(pprl_path)) as wh:
        for source in city.sources:   # every department encodes its own extract with the shared secret
            out = tmp_path / f"{source.name}.parquet"
            encode_extract(source.path, load_mapping(source.mapping), secret.read_bytes(), out)
            load_encodings(wh, out)
        # ...and Health keeps its cleartext identifiers at home
        name, entity = ENCODED_ONLY
        wh.execute(f"UPDATE {entity} SET " + ", ".join(f"{c} = NULL" for c in IDENTIFIERS))
        link_run(wh)
        encoded = _scores(wh, city)
        assert abs(encoded["pair_f1"] - cleartext["pair_f1"]) <= 0.01, (encoded, cleartext)
        assert abs(encoded["cluster_f1"] - cleartext["cluster_f1"]) <= 0.02, (encoded, cleartext)
        # an encoded ED visit joined a cleartext record, and the link is explained by its encodings
        pair = wh.execute(f"""SELECT a.record_id, b.record_id FROM {PERSON_INDEX} a JOIN {PERSON_INDEX} b
                              ON a.person_id = b.person_id AND a.source = '{name}' AND b.source <> '{name}'
                              ORDER BY 1, 2 LIMIT 1""")
        assert pair, "encoded records should join cleartext ones"
        steps = {r["step"]: r for r in explain(wh, *pair[0])}
        assert steps["name_encoded"]["level"] != "missing or not comparable"
        assert steps["name"]["level"] == "missing or not comparable"
