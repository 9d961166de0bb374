"""``link run --incremental``: new and changed records linked against the index give exactly the index a
full run with the same model gives, persons no change can reach keep their rows and links as they were,
and nothing new means nothing changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage import LinkageError, decide, link_run, list_reviews
from justicelab.linkage.store import HISTORY, PAIRS, PERSON_INDEX, RUNS
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


def _rows(wh: Warehouse) -> dict[str, tuple[object, ...]]:
    """record -> (person, the run that wrote the row, fingerprint): what an untouched index row keeps."""
    return {r: (p, run, f) for r, p, run, f in wh.execute(
        f"SELECT record_id, person_id, run_id, fingerprint FROM {PERSON_INDEX}")}


def _link_runs(wh: Warehouse) -> dict[tuple[str, str, str], int]:
    return {(a, b, basis): run for a, b, basis, run in wh.execute(
        f"SELECT record_l, record_r, basis, run_id FROM {PAIRS}")}


def _linked_pair(grown: Path, tmp_path: Path) -> tuple[Warehouse, Warehouse]:
    """Two copies of ``grown`` with the late source linked incrementally: one to link incrementally again,
    one to rescore in full with the same model (the answer the incremental run must give)."""
    inc, full = _copy(grown, tmp_path, "inc.duckdb"), _copy(grown, tmp_path, "full.duckdb")
    for wh in (inc, full):
        link_run(wh, incremental=True)
    return inc, full


def test_a_record_joining_one_person_leaves_everyone_else_untouched(grown, tmp_path):
    inc, full = _linked_pair(grown, tmp_path)
    with inc, full:
        # a second citation of someone already cited: the same identifiers under a new record id
        original = inc.scalar("""SELECT min(_record_id) FROM citation WHERE first_name IS NOT NULL
                                 AND last_name IS NOT NULL AND date_of_birth IS NOT NULL""")
        for wh in (inc, full):
            wh.execute(f"""INSERT INTO citation SELECT * REPLACE (_record_id || '-again' AS _record_id)
                           FROM citation WHERE _record_id = '{original}'""")
        new = f"{original}-again"
        rows, link_runs = _rows(inc), _link_runs(inc)
        person = rows[original][0]

        summary = link_run(inc, incremental=True)
        reference = link_run(full, reuse_model=True)

        after = _rows(inc)
        assert after[new][0] == person and after[new][1] == summary.run_id
        # every other index row is as it was, down to the run that wrote it
        assert {r: v for r, v in after.items() if r != new} == rows
        # and so is every link outside that person
        members = {r for r, v in after.items() if v[0] == person}
        outside = {k: run for k, run in _link_runs(inc).items() if not {k[0], k[1]} & members}
        assert outside == {k: run for k, run in link_runs.items() if not {k[0], k[1]} & members}
        assert summary.events == {} and summary.persons == reference.persons
        assert _index(inc) == _index(full) and _links(inc) == _links(full)


def test_a_record_bridging_two_persons_merges_them_and_history_says_so(grown, tmp_path):
    inc, full = _linked_pair(grown, tmp_path)
    with inc, full:
        index = _index(inc)
        booked = inc.scalar("SELECT min(_record_id) FROM booking WHERE source_person_id IS NOT NULL")
        cited = inc.scalar(f"""SELECT min(c._record_id) FROM citation c JOIN {PERSON_INDEX} i
                               ON i.record_id = c._record_id
                               WHERE c.first_name IS NOT NULL AND c.last_name IS NOT NULL
                                 AND c.date_of_birth IS NOT NULL AND i.person_id <> '{index[booked]}'
                                 -- never booked: a jail number of its own would keep it apart from the first
                                 AND i.person_id NOT IN (SELECT j.person_id FROM booking b JOIN {PERSON_INDEX} j
                                                         ON j.record_id = b._record_id)""")
        kept_apart = (index[booked], index[cited])
        # a booking under the jail's number of the first person, with the identity of the second
        for wh in (inc, full):
            wh.execute(f"""INSERT INTO booking SELECT * REPLACE (_record_id || '-bridge' AS _record_id)
                           FROM booking WHERE _record_id = '{booked}'""")
            wh.execute(f"""UPDATE booking SET first_name = c.first_name, middle_name = c.middle_name,
                                  last_name = c.last_name, date_of_birth = c.date_of_birth, sex = c.sex,
                                  race_ethnicity = c.race_ethnicity, address = c.address, zip = c.zip
                           FROM (SELECT * FROM citation WHERE _record_id = '{cited}') c
                           WHERE booking._record_id = '{booked}-bridge'""")
        rows = _rows(inc)

        summary = link_run(inc, incremental=True)
        reference = link_run(full, reuse_model=True)

        after = _index(inc)
        merged = after[f"{booked}-bridge"]
        assert after[booked] == after[cited] == merged and merged in kept_apart
        (retired,) = set(kept_apart) - {merged}
        history = inc.execute(f"SELECT event, person_id, related FROM {HISTORY} WHERE run_id = {summary.run_id}")
        assert sorted(history) == [("merged", merged, retired), ("retired", retired, merged)]
        assert summary.events == reference.events == {"merged": 1, "retired": 1}
        # persons other than the two are untouched
        assert {r: v for r, v in _rows(inc).items() if v[0] != merged} == {
            r: v for r, v in rows.items() if v[0] not in kept_apart}
        assert _index(inc) == _index(full) and _links(inc) == _links(full)


def test_decisions_and_removed_records_give_the_full_run_answer(grown, tmp_path):
    """A reviewer's cannot-link splits a person no new record touched, a must-link joins two, and records
    gone from the warehouse leave their persons: incrementally as in a full run."""
    inc, full = _linked_pair(grown, tmp_path)
    with inc, full:
        a, b = inc.execute(f"""SELECT min(record_id), max(record_id) FROM {PERSON_INDEX}
                               GROUP BY person_id HAVING count(*) >= 4 ORDER BY person_id LIMIT 1""")[0]
        pending = list_reviews(inc, "pending", 1)[0]
        gone = inc.scalar("SELECT min(_record_id) FROM shelter_stay")
        for wh in (inc, full):
            wh.execute("INSERT INTO link_reviews (review_id, run_id, record_l, record_r, match_probability, "
                       f"match_weight, levels, status) VALUES (9001, 1, '{a}', '{b}', 0.6, 1.0, '', 'pending')")
            decide(wh, 9001, False, by="tester")
            decide(wh, pending["review_id"], True, by="tester")
            wh.execute(f"DELETE FROM shelter_stay WHERE _record_id = '{gone}'")
        summary = link_run(inc, incremental=True)
        reference = link_run(full, reuse_model=True)
        after = _index(inc)
        assert after[a] != after[b] and after[pending["record_l"]] == after[pending["record_r"]]
        assert gone not in after
        # the cannot-link's split, and any the sources' ids make where a removed record or the must-link
        # changed which ids are joined directly: the same in both runs
        assert summary.events.get("split", 0) >= 1 and summary.events == reference.events
        assert _index(inc) == _index(full) and _links(inc) == _links(full)


def test_scoring_in_slices_gives_the_pairs_of_one_pass(grown, tmp_path, monkeypatch):
    """A full run scores a slice of left-hand records at a time to bound its memory: every pair once, each
    with the score of a single pass."""
    from justicelab.linkage import scoring

    with _copy(grown, tmp_path, "one.duckdb") as one, _copy(grown, tmp_path, "sliced.duckdb") as sliced:
        whole = link_run(one, reuse_model=True)
        monkeypatch.setattr(scoring, "SLICE_RECORDS", 700)  # about five slices here
        parts = link_run(sliced, reuse_model=True)
        assert parts.pairs_scored == whole.pairs_scored > 0
        assert _links(sliced) == _links(one) and _index(sliced) == _index(one)
