"""End to end on a small synthetic city: press releases drawn from its answer key, a bookings release at full
detail and generalised, both attacked; and the external-file generator's own guarantees."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from justicelab.errors import SynthError
from justicelab.ingest import load_mapping, stage_loadable
from justicelab.ingest.sql import literal
from justicelab.privacy.attack import attack
from justicelab.standard import load_standard
from justicelab.synth import CityManifest, Noise, generate_city, generate_external

REGION = {c.code: c.attributes["region"] for c in load_standard().codelists["county"].codes}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> CityManifest:
    return generate_city(tmp_path_factory.mktemp("city"), people=4000, years=3, seed=7)


def build_releases(city: CityManifest, folder: Path) -> tuple[Path, Path]:
    """The city's bookings as a release: one at full detail, one generalised (10-year bands, years, regions)."""
    source = city.source("jail_bookings")
    con = duckdb.connect()
    stage_loadable(con, source.path, load_mapping(source.mapping))
    con.execute(f"""
        CREATE TABLE release AS
        SELECT l._record_id AS record_id, k.person_id,
               CAST(date_part('year', age(l.booking_datetime, CAST(l.date_of_birth AS TIMESTAMP))) AS INTEGER) AS age,
               l.sex, l.race_ethnicity, 'san_joaquin' AS county, CAST(l.booking_datetime AS DATE) AS booking_date,
               l.charge_level
        FROM jl_loadable l
        JOIN read_csv({literal(str(city.answer_key))}, all_varchar = true) k
          ON k.source || ':' || k.record_key = l._record_id""")
    full, coarse = folder / "bookings_full.csv", folder / "bookings_public.csv"
    con.execute(f"COPY release TO {literal(str(full))} (HEADER)")
    con.execute(f"""
        COPY (SELECT record_id, person_id,
                     CAST(age // 10 * 10 AS VARCHAR) || '-' || CAST(age // 10 * 10 + 9 AS VARCHAR) AS age,
                     sex, race_ethnicity, {literal(REGION['san_joaquin'])} AS county,
                     strftime(booking_date, '%Y') AS booking_date, charge_level
              FROM release) TO {literal(str(coarse))} (HEADER)""")
    con.close()
    return full, coarse


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_full_detail_is_re_identified_far_more_than_the_generalised_release(city, tmp_path):
    press = generate_external(city.out_dir, tmp_path / "press_releases.csv", share=0.3, seed=3)
    full_csv, coarse_csv = build_releases(city, tmp_path)
    qi = "age,sex,race,county,booking_date=date"
    full = attack(full_csv, press.path, qi=qi, truth_column="record_id")
    coarse = attack(coarse_csv, press.path, qi=qi, truth_column="record_id")
    assert [q.level for q in full.quasi_identifiers] == ["years", None, None, "county", "day"]
    assert [q.level for q in coarse.quasi_identifiers] == ["band_10", None, None, "region", "year"]
    assert full.correct is not None and full.external_in_release is not None and full.reidentified_share
    assert coarse.correct is not None and coarse.reidentified_share is not None
    for name, r in (("full detail", full), ("generalised", coarse)):
        print(f"{name}: {r.release_records} released, {r.external_records} notices "
              f"({r.external_in_release} about released bookings): {r.unique} unique matches, {r.correct} correct, "
              f"re-identified share {r.reidentified_share:.3f}, sizes {dict(r.sizes)}")
    # Full detail: nearly every notice about a released booking that is free of noise is a correct unique match.
    assert full.correct >= 0.6 * full.external_in_release
    assert full.precision is not None and full.precision >= 0.9
    # Generalised: far fewer.
    assert coarse.correct * 3 <= full.correct
    assert coarse.reidentified_share * 3 <= full.reidentified_share
    assert dict(coarse.sizes)["1"] < dict(full.sizes)["1"]
    # Person-level truth: a court calendar that hits a booking of the same person is a re-identification too.
    by_person = attack(full_csv, press.path, qi=qi, truth_column="person_id")
    assert by_person.correct is not None and by_person.correct >= full.correct


def test_the_generator_samples_serious_offences_of_adults_with_the_truth_attached(city, tmp_path):
    out = generate_external(city.out_dir, tmp_path / "p.csv", share=0.1, seed=1)
    rows = read(out.path)
    assert out.rows == len(rows) == round(0.1 * out.eligible) > 0
    assert tuple(rows[0]) == ("external_id", "kind", "name", "age", "sex", "race", "county", "city", "date",
                              "offense", "source", "record_id", "person_id")
    assert out.by_offense_level.get("felony", 0) >= 0.7 * out.rows
    assert set(out.by_kind) <= {"arrest press release", "court calendar"}
    key = {(r["source"] + ":" + r["record_key"]): r["person_id"] for r in read(city.answer_key)}
    people = {r["person_id"]: r for r in read(city.people_file)}
    for r in rows:
        assert key[r["record_id"]] == r["person_id"]
        person = people[r["person_id"]]
        assert r["name"] == f"{person['first_name']} {person['last_name']}"
        assert r["sex"] == person["sex"] and r["race"] in ("", person["race_ethnicity"])
        assert r["county"] == "san_joaquin" and r["city"] == city.city
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)


def test_noise_is_what_the_summary_says(city, tmp_path):
    out = generate_external(city.out_dir, tmp_path / "p.csv", share=0.5, seed=2, sources=["jail_bookings"],
                            noise=Noise(age_off_by_one=0.2, race_missing=0.3, date_next_day=0.1))
    full_csv, _ = build_releases(city, tmp_path)
    booked = {r["record_id"]: dt.date.fromisoformat(r["booking_date"]) for r in read(full_csv)}
    people = {r["person_id"]: r for r in read(city.people_file)}
    age_off = late = no_race = 0
    for r in read(out.path):
        event = booked[r["record_id"]]
        born = dt.date.fromisoformat(people[r["person_id"]]["date_of_birth"])
        true_age = event.year - born.year - ((event.month, event.day) < (born.month, born.day))
        assert true_age >= 18
        age_off += abs(int(r["age"]) - true_age)
        assert abs(int(r["age"]) - true_age) <= 1
        shift = (dt.date.fromisoformat(r["date"]) - event).days
        assert shift in (0, 1)
        late += shift
        no_race += r["race"] == ""
    assert out.noise == {"age_off_by_one": age_off, "race_missing": no_race, "date_next_day": late}
    assert 0 < age_off < out.rows and 0 < no_race < out.rows


def test_the_same_seed_gives_the_same_file(city, tmp_path):
    a = generate_external(city.out_dir, tmp_path / "a.csv", share=0.2, seed=9)
    b = generate_external(city.out_dir, tmp_path / "b.csv", share=0.2, seed=9)
    c = generate_external(city.out_dir, tmp_path / "c.csv", share=0.2, seed=10)
    assert a.path.read_bytes() == b.path.read_bytes() != c.path.read_bytes()


def test_generator_refuses_bad_requests(city, tmp_path):
    with pytest.raises(SynthError, match="share must be above 0"):
        generate_external(city.out_dir, tmp_path / "p.csv", share=0)
    with pytest.raises(SynthError, match="no source 'arrests'"):
        generate_external(city.out_dir, tmp_path / "p.csv", sources=["arrests"])
    with pytest.raises(SynthError, match="county 'atlantis' is not a code"):
        generate_external(city.out_dir, tmp_path / "p.csv", county="atlantis")
    with pytest.raises(SynthError, match="not a synthetic city"):
        generate_external(tmp_path, tmp_path / "p.csv")
    with pytest.raises(SynthError, match="noise race_missing must be between 0 and 1"):
        generate_external(city.out_dir, tmp_path / "p.csv", noise=Noise(race_missing=1.5))
