"""Indicators on the real OpenJustice files, against figures published by others.

Sources cited (the figures they print, which these tests allow small differences from because DOJ and
PPIC used earlier Department of Finance population vintages than the E-4 2024 used here):
* PPIC, "Crime Trends in California" fact sheet, October 2023 (Lofstrom and Martin): violent crime rate
  436 per 100,000 in 2019, 468 in 2021, 495 in 2022 (+5.7%).
* California Attorney General, press release of June 30, 2023, as reported by the Palm Springs Desert
  Sun on July 6, 2023: 2,361 homicides in 2021 and 2,206 in 2022, rates 6.0 and 5.7 per 100,000.
* PPIC blog "A Large Proportion of Crime Goes Unsolved in California", May 11, 2023: about 45% of
  violent crimes cleared in 2020 and about one in ten property crimes; the Lompoc Record, February 4,
  2022: 59% of homicides cleared statewide in 2020.
* Center on Juvenile and Criminal Justice, "California law enforcement agencies are spending more but
  solving fewer crimes": Part I violent and property clearance rate 13.2% in 2022.
"""

from __future__ import annotations

import pytest

from justicelab.indicators import compute
from justicelab.sources.openjustice import load_all
from justicelab.warehouse import Warehouse


@pytest.fixture(scope="module")
def real_wh(tmp_path_factory, openjustice_dir):
    wh = Warehouse.open(str(tmp_path_factory.mktemp("real") / "wh.duckdb"))
    load_all(wh, openjustice_dir)
    yield wh
    wh.close()


def by_year(wh, name, years, **where):
    rows = compute(wh, name, ["year"], {"year": years, **where}, change=True).to_pyarrow().to_pylist()
    return {r["year"]: r for r in rows}


def test_violent_crime_rate_matches_ppic(real_wh):
    got = by_year(real_wh, "violent_crime_rate", [2019, 2020, 2021, 2022])
    for year, published in {2019: 436, 2021: 468, 2022: 495}.items():
        assert got[year]["value"] == pytest.approx(published, rel=0.01)
        assert got[year]["vintage"].startswith("E-4")
    assert got[2022]["pct_change"] == pytest.approx(5.7, abs=0.3)


def test_homicides_match_the_attorney_general(real_wh):
    got = by_year(real_wh, "homicide_rate", [2021, 2022])
    assert (got[2021]["numerator"], got[2022]["numerator"]) == (2361, 2206)
    assert got[2021]["value"] == pytest.approx(6.0, abs=0.1)
    assert got[2022]["value"] == pytest.approx(5.7, abs=0.1)
    assert got[2022]["change"] < 0


def test_clearance_rates_are_plausible(real_wh):
    rows = compute(real_wh, "clearance_rate", ["year", "offense"],
                   {"year": [2020, 2022], "offense": ["homicide", "violent", "property"]}).to_pyarrow().to_pylist()
    got = {(r["year"], r["offense"]): r for r in rows}
    assert got[(2020, "homicide")]["value"] == pytest.approx(59, abs=2)
    assert got[(2020, "violent")]["value"] == pytest.approx(45, abs=2)
    assert 5 <= got[(2020, "property")]["value"] <= 12
    part_one = [got[(2022, o)] for o in ("violent", "property")]
    overall = sum(r["numerator"] for r in part_one) / sum(r["denominator"] for r in part_one) * 100
    assert overall == pytest.approx(13.2, abs=0.1)  # rates from summed counts, never averaged


def test_county_drill_down_adds_up_to_the_state(real_wh):
    counties = compute(real_wh, "crime_count", ["year", "county"], {"year": [2022], "offense": ["violent"]})
    rows = counties.to_pyarrow().to_pylist()
    state = by_year(real_wh, "crime_count", [2022], offense=["violent"])[2022]
    assert len(rows) == 58 and sum(r["numerator"] for r in rows) == state["numerator"]


def test_deaths_in_custody_and_arrest_related_deaths(real_wh):
    stages = compute(real_wh, "custody_deaths", ["year", "custody_stage"], {"year": [2016]}).to_pyarrow().to_pylist()
    arrest = by_year(real_wh, "arrest_related_deaths", [2016])[2016]
    by_stage = {r["custody_stage"]: r["numerator"] for r in stages}
    assert by_stage["process_of_arrest"] == arrest["numerator"] > 0
    rates = compute(real_wh, "custody_death_rate", ["year", "county"], {"year": [2016]}).to_pyarrow().to_pylist()
    assert len([r for r in rates if r["county"]]) == 58
    assert all(r["unstable"] for r in rates if r["numerator"] < 20)
    # Deaths DOJ places in no county ("In-State", "Out-of-State") are shown, not dropped, without a rate.
    (nowhere,) = [r for r in rates if r["county"] is None]
    assert nowhere["numerator"] > 0 and nowhere["value"] is None and nowhere["unstable_reason"] == "no denominator"


def test_rates_broken_down_by_an_event_attribute_share_the_denominator(real_wh):
    rows = compute(real_wh, "crime_rate", ["year", "offense"],
                   {"year": [2022], "offense": ["robbery", "burglary"]}).to_pyarrow().to_pylist()
    assert {r["offense"] for r in rows} == {"robbery", "burglary"}
    assert rows[0]["denominator"] == rows[1]["denominator"] > 39_000_000
    violent = by_year(real_wh, "violent_crime_rate", [2022])[2022]
    assert violent["denominator"] == rows[0]["denominator"]


def test_quality_report_on_the_real_files(real_wh):
    from justicelab.indicators.quality import RULES, findings

    report = findings(real_wh).to_pyarrow().to_pylist()
    assert {r["rule"] for r in report} <= set(RULES)
    assert all(r["agency"] and r["year"] and r["message"] for r in report)
    negatives = [r for r in report if r["rule"] == "negative_count"]
    assert len(negatives) == real_wh.scalar("SELECT count(*) FROM crime_clearance WHERE offenses < 0 OR clearances < 0")
    assert len(negatives) >= 158  # the negative offence cells the adapter found (counts net of unfounding)


def test_multi_year_trend_from_the_same_answers(real_wh):
    from justicelab.indicators import execute, trend

    years = list(range(2013, 2023))
    (state,) = execute(real_wh, trend(real_wh, "violent_crime_rate", [], {"year": years})).to_pylist()
    yearly = by_year(real_wh, "violent_crime_rate", years)
    assert (state["first_year"], state["last_year"]) == (2013, 2022)
    assert state["first_value"] == yearly[2013]["value"] and state["last_value"] == yearly[2022]["value"]
    expected = ((yearly[2022]["value"] / yearly[2013]["value"]) ** (1 / 9) - 1) * 100
    assert state["annual_pct_change"] == pytest.approx(expected)
    counties = execute(real_wh, trend(real_wh, "violent_crime_rate", ["county"], {"year": years})).to_pylist()
    assert len(counties) == 58
