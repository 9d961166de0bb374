"""The indicator engine on the synthetic state, checked against independent SQL over the same tables."""

from __future__ import annotations

import itertools

import pytest

from justicelab.indicators import IndicatorError, compute


def rows(expr):
    return expr.to_pyarrow().to_pylist()


def test_arrest_rate_is_summed_arrests_over_summed_population(state_wh):
    got = {(r["year"], r["sex"]): r for r in rows(compute(state_wh, "arrest_rate", ["year", "sex"]))}
    oracle = state_wh.execute("""
        WITH a AS (SELECT year(arrest_date) y, sex, count(*) n FROM arrest GROUP BY ALL),
             v AS (SELECT year, max(vintage) vintage FROM population WHERE geography_type = 'state'
                   AND estimate_type = 'estimate' GROUP BY year),
             p AS (SELECT p.year, p.sex, sum(p.population) pop FROM population p JOIN v USING (year)
                   WHERE p.vintage = v.vintage AND p.estimate_type = 'estimate' AND geography_type = 'state'
                   AND p.sex IS NOT NULL AND p.race_ethnicity IS NOT NULL AND p.age_group IS NOT NULL
                   GROUP BY ALL)
        SELECT a.y, a.sex, a.n, p.pop FROM a JOIN p ON a.y = p.year AND a.sex = p.sex""")
    assert oracle
    for year, sex, n, pop in oracle:
        r = got[(year, sex)]
        assert r["numerator"] == n and r["denominator"] == pop
        assert r["value"] == pytest.approx(n / pop * 100_000)
    assert all(r["unstable"] for (_, sex), r in got.items() if sex == "U")  # no population of unknown sex


def test_age_bands_match_population_groups_and_add_up(state_wh):
    by_age = rows(compute(state_wh, "arrest_rate", ["age_group"], {"year": [2022]}))
    total = rows(compute(state_wh, "arrest_rate", ["year"], {"year": [2022]}))[0]
    assert [r["age_group"] for r in by_age][:3] == ["0-17", "18-19", "20-24"]
    assert sum(r["denominator"] for r in by_age if r["denominator"]) == total["denominator"]
    known = sum(r["numerator"] for r in by_age)
    assert known <= total["numerator"]  # arrests with no recorded age are in the total only


def test_zero_event_groups_appear_with_a_rate_of_zero_and_a_flag(state_wh):
    deaths = rows(compute(state_wh, "arrest_rate", ["county", "year"]))
    counties = {r["county"] for r in deaths}
    assert len(counties) == 58
    zeros = [r for r in deaths if r["numerator"] == 0]
    assert all(r["value"] == 0 and r["unstable"] for r in zeros)


def test_year_over_year_change(state_wh):
    series = rows(compute(state_wh, "arrest_count", ["year"], change=True))
    for before, after in itertools.pairwise(series):
        assert after["previous"] == before["value"]
        assert after["change"] == after["value"] - before["value"]
        assert after["pct_change"] == pytest.approx((after["value"] - before["value"]) / before["value"] * 100)
    assert series[0]["previous"] is None


def test_overlapping_offences_are_never_summed(state_wh):
    with pytest.raises(IndicatorError, match="offense values overlap"):
        compute(state_wh, "crime_count", ["year"])
    with pytest.raises(IndicatorError, match="cannot be broken down by 'zip'"):
        compute(state_wh, "arrest_count", ["zip"])
    with pytest.raises(IndicatorError, match="rate per resident per year"):
        compute(state_wh, "arrest_rate", ["county"])


def test_the_population_answer_names_its_vintage(state_wh):
    pop = rows(compute(state_wh, "population", ["year"]))
    assert {r["vintage"] for r in pop} == {"2024"}
    assert all(r["value"] > 0 for r in pop)


def test_cached_answers_follow_new_data(tmp_path):
    from justicelab.indicators import compute_arrow
    from justicelab.standard import load_standard
    from justicelab.warehouse import Warehouse, ensure_entity_table, ensure_ingest_tables

    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        ensure_ingest_tables(wh)
        ensure_entity_table(wh, load_standard().entity("custody_death"))
        wh.execute("INSERT INTO custody_death (_record_id, death_id, date_of_death) VALUES ('a', '1', '2020-01-01')")
        first = compute_arrow(wh, "custody_deaths", ["year"]).to_pylist()
        assert compute_arrow(wh, "custody_deaths", ["year"]).to_pylist() == first  # from the cache
        wh.execute("INSERT INTO custody_death (_record_id, death_id, date_of_death) VALUES ('b', '2', '2020-02-01')")
        assert compute_arrow(wh, "custody_deaths", ["year"]).to_pylist()[0]["numerator"] == 2  # data, not SQL


def test_officers_assaulted_per_100_sworn_officers(tmp_path):
    """A denominator from another table (personnel) with its own columns for the same dimensions."""
    from justicelab.indicators import compute_arrow
    from justicelab.standard import load_standard
    from justicelab.warehouse import Warehouse, ensure_entity_table, ensure_ingest_tables

    std = load_standard()
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        ensure_ingest_tables(wh)
        for name in ("officer_assault", "personnel"):
            ensure_entity_table(wh, std.entity(name))
        wh.execute("INSERT INTO personnel (_record_id, agency_code, county, year, category, count) VALUES "
                   "('1', 'county:kern', 'kern', 2016, 'le_sworn', 1500), "
                   "('2', 'county:kern', 'kern', 2016, 'le_nonsworn', 900), "
                   "('3', 'county:inyo', 'inyo', 2016, 'le_sworn', 60)")
        wh.execute("INSERT INTO officer_assault (_record_id, assault_id, incident_date, county) "
                   "SELECT 'a' || i, CAST(i AS VARCHAR), DATE '2016-03-01', 'kern' FROM range(45) t(i)")
        rows = {r["county"]: r for r in compute_arrow(wh, "officers_assaulted_rate", ["year", "county"]).to_pylist()}
    assert rows["kern"]["value"] == pytest.approx(45 / 1500 * 100)  # civilians are not in the denominator
    assert rows["inyo"]["value"] == 0 and rows["inyo"]["unstable_reason"] == "denominator below 100"


def test_an_indicator_whose_tables_are_not_loaded_is_refused_by_name(tmp_path):
    from justicelab.standard import load_standard
    from justicelab.warehouse import Warehouse, ensure_entity_table, ensure_ingest_tables

    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        ensure_ingest_tables(wh)
        with pytest.raises(IndicatorError, match=r"arrest_count needs the table\(s\) arrest, which this warehouse"):
            compute(wh, "arrest_count", ["year"])
        ensure_entity_table(wh, load_standard().entity("officer_assault"))
        with pytest.raises(IndicatorError, match=r"needs the table\(s\) personnel,"):
            compute(wh, "officers_assaulted_rate", ["year"])


def test_where_values_lose_the_quotes_a_shell_left_on_them():
    from justicelab.cli.indicators_cmd import parse_where

    assert parse_where(["sex = 'F'", 'year="2021",2022', "county=inyo"]) == {
        "sex": ["F"], "year": [2021, 2022], "county": ["inyo"]}
