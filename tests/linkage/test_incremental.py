"""``link run --incremental``: new and changed records linked against the index give exactly the index a
full run with the same model gives, and nothing new means nothing changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage import LinkageError, link_run
from justicelab.linkage.store import PAIRS, PERSON_INDEX, RUNS
from justicelab.synth import generate_city
from justicelab.warehouse import Warehouse

LATE_SOURCE = "ed_visits"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return generate_city(tmp_path_factory.mktemp("city"), people=2000, years=4, seed=23)


@pytest.fixture(scope="module")
def grown(city, tmp_path_factory) -> Path:
    """Every source but one linked in a full run, then the last one ingested (not yet linked)."""
    path = tmp_path_factory.mktemp("grown") / "wh.duckdb"
    with Warehouse.open(str(path)) as wh:
        for source in city.sources:
            if source.name != LATE_SOURCE:
                ingest_file(wh, source.path, load_mapping(source.mapping))
        link_run(wh)
        late = city.source(LATE_SOURCE)
        ingest_file(wh, late.path, load_mapping(late.mapping))
    return path


def _copy(path: Path, tmp_path: Path, name: str) -> Warehouse:
    copy = tmp_path / name
    shutil.copy(path, copy)
    return Warehouse.open(str(copy))


def _index(wh: Warehouse) -> dict[str, str]:
    return dict(wh.execute(f"SELECT record_id, person_id FROM {PERSON_INDEX}"))


def _links(wh: Warehouse) -> list[tuple[object, ...]]:
    return sorted(wh.execute(f"SELECT record_l, record_r, round(match_probability, 9), basis FROM {PAIRS}"))


def test_incremental_gives_the_full_run_answer(grown, city, tmp_path):
    with _copy(grown, tmp_path, "inc.duckdb") as inc, _copy(grown, tmp_path, "full.duckdb") as full:
        before = inc.count(PERSON_INDEX)
        summary = link_run(inc, incremental=True)
        reference = link_run(full, reuse_model=True)
        assert summary.kind == "incremental" and reference.kind == "full, saved model"
        assert inc.count(PERSON_INDEX) == before + inc.count("ed_visit")
        # same persons, same ids, same links with the same scores
        assert _index(inc) == _index(full)
        assert _links(inc) == _links(full)
        assert summary.persons == reference.persons and summary.links == reference.links
        # only pairs touching the new records were scored
        assert 0 < summary.pairs_scored < reference.pairs_scored
        # new records did join existing persons (the city's ED patients are also booked and cited)
        new_ids = {p for r, p in _index(inc).items() if r.startswith(f"{LATE_SOURCE}:")}
        old_ids = {p for r, p in _index(inc).items() if not r.startswith(f"{LATE_SOURCE}:")}
        assert new_ids & old_ids
        kinds = [k for (k,) in inc.execute(f"SELECT kind FROM {RUNS} ORDER BY run_id")]
        assert kinds == ["full", "incremental"]


def test_changed_record_is_rescored(grown, tmp_path):
    """A record whose identifiers were corrected moves to the person its new identifiers point to."""
    with _copy(grown, tmp_path, "inc.duckdb") as inc, _copy(grown, tmp_path, "full.duckdb") as full:
        for wh in (inc, full):
            link_run(wh, incremental=True)
            # take a booking and give it the identity of a citation's person
            wh.execute("""UPDATE booking SET first_name = c.first_name, last_name = c.last_name,
                                             date_of_birth = c.date_of_birth, source_person_id = NULL
                          FROM (SELECT first_name, last_name, date_of_birth FROM citation
                                WHERE first_name IS NOT NULL AND date_of_birth IS NOT NULL
                                ORDER BY _record_id LIMIT 1) c
                          WHERE booking._record_id = (SELECT min(_record_id) FROM booking)""")
        summary = link_run(inc, incremental=True)
        link_run(full, reuse_model=True)
        assert summary.pairs_scored > 0
        assert _index(inc) == _index(full)
        assert _links(inc) == _links(full)


def test_nothing_new_changes_nothing(grown, tmp_path):
    with _copy(grown, tmp_path, "inc.duckdb") as wh:
        link_run(wh, incremental=True)
        before, links = _index(wh), _links(wh)
        summary = link_run(wh, incremental=True)
        assert summary.pairs_scored == 0 and summary.events == {}
        assert _index(wh) == before and _links(wh) == links


def test_incremental_needs_an_earlier_run(city, tmp_path):
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        source = city.sources[0]
        ingest_file(wh, source.path, load_mapping(source.mapping))
        with pytest.raises(LinkageError, match="run a full `justicelab link run` first"):
            link_run(wh, incremental=True)
