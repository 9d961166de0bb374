"""Incremental linking on a PostgreSQL warehouse: it rewrites only what changed, and gives DuckDB's answer."""

from __future__ import annotations

import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage import link_run
from justicelab.linkage.store import PAIRS, PERSON_INDEX
from justicelab.synth import generate_city
from justicelab.warehouse import Warehouse

pytestmark = pytest.mark.integration

LATE = "prosecutor_cases"
EARLY = ("jail_bookings", "shelter_stays")


def test_incremental_run_on_postgres_matches_duckdb(pg_url, tmp_path):
    city = generate_city(tmp_path / "city", people=800, years=3, seed=11)
    results = []
    for url in (str(tmp_path / "wh.duckdb"), pg_url):
        with Warehouse.open(url) as wh:
            for name in EARLY:
                ingest_file(wh, city.source(name).path, load_mapping(city.source(name).mapping))
            first = link_run(wh)
            before = dict(wh.execute(f"SELECT record_id, run_id FROM {PERSON_INDEX}"))
            late = city.source(LATE)
            ingest_file(wh, late.path, load_mapping(late.mapping))
            summary = link_run(wh, incremental=True)
            assert summary.kind == "incremental"
            index = dict(wh.execute(f"SELECT record_id, person_id FROM {PERSON_INDEX}"))
            runs = dict(wh.execute(f"SELECT record_id, run_id FROM {PERSON_INDEX}"))
            links = sorted((a, b, round(float(p), 9), basis) for a, b, p, basis in wh.execute(
                f"SELECT record_l, record_r, match_probability, basis FROM {PAIRS}"))
            # index rows the run did not change keep the run that wrote them; the new records carry this run
            assert any(runs[r] == before[r] for r in before)
            assert {runs[r] for r in index if r.startswith(f"{LATE}:")} == {summary.run_id}
            # persons no new record joined keep their rows and their links as the first run wrote them
            joined = {index[r] for r in index if r.startswith(f"{LATE}:")}
            untouched = {r for r in before if index[r] not in joined}
            assert untouched and {runs[r] for r in untouched} == {first.run_id}
            link_runs = {run for a, b, run in wh.execute(f"SELECT record_l, record_r, run_id FROM {PAIRS}")
                         if a in untouched}
            assert link_runs == {first.run_id}
            results.append((index, links, summary.persons))
    assert results[0] == results[1]
