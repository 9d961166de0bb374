"""Suppression on the real deaths-in-custody file (DOJ OpenJustice, 2005-2018), loaded by the OpenJustice adapter.

The issue says most non-zero cells of DOJ's summaries hold fewer than 11 deaths. For the county x year table
(58 counties x 14 years, with county, year and state totals) these tests measure that share, suppress with
threshold 11 and check every suppressed cell with the exact LP attacker. Figures measured here (2 cores):
812 inner cells, 578 non-zero, 337 of them (58%) below 11; 885 cells with margins, 350 primary, 0
complementary (the small cells protect one another), 1,273 deaths (3.2% of the table's total value) hidden.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from justicelab.privacy.tables import CountTable, attack, suppress, threshold_rule
from justicelab.sources.openjustice import load_agencies, load_custody_deaths
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse

YEARS = range(2005, 2019)


@pytest.fixture(scope="module")
def custody_wh(tmp_path_factory, openjustice_dir):
    wh = Warehouse.open(str(tmp_path_factory.mktemp("custody") / "wh.duckdb"))
    load_agencies(wh, openjustice_dir)
    load_custody_deaths(wh, openjustice_dir)
    yield wh
    wh.close()


def county_table(wh: Warehouse, *extra: str) -> CountTable:
    """Deaths by county and year (every county and year, zeros included), plus any extra dimension."""
    codes = load_standard().codelist("county").codes
    counties = ", ".join(f"('{c.code}', '{c.attributes['region']}')" for c in codes)
    by = "".join(f", d.{e}" for e in extra)
    rel = wh.raw.sql(f"""
        SELECT c.county, y.year{by.replace('d.', 'x.')}, coalesce(x.deaths, 0) AS deaths
        FROM (VALUES {counties}) c(county, region)
        CROSS JOIN (SELECT range AS year FROM range({YEARS.start}, {YEARS.stop})) y
        LEFT JOIN (SELECT d.county, year(d.date_of_death) AS year{by}, count(*) AS deaths FROM custody_death d
                   WHERE year(d.date_of_death) BETWEEN {YEARS.start} AND {YEARS.stop - 1} GROUP BY ALL) x
          ON x.county = c.county AND x.year = y.year
    """)
    dims = ["county", "year", *extra]
    return CountTable.from_arrow(rel, dims, "deaths", totals=dims, source="custody_death")


def test_county_by_year_deaths_in_custody(custody_wh):
    t = county_table(custody_wh)
    inner = t.values[~t.is_margin()]
    nonzero = inner[inner > 0]
    small_share = float((nonzero < 11).mean())
    assert inner.size == 58 * 14 and t.size == 59 * 15
    assert small_share > 0.5  # "most non-zero cells hold fewer than 11 deaths"

    start = time.perf_counter()
    result = suppress(t, 11)
    seconds = time.perf_counter() - start
    summary = result.summary()
    p = threshold_rule(t, 11)
    assert summary["primary"] == p.count and result.suppressed[p.sensitive].all()
    assert summary["unsafe_cells"] == 0 and summary["optimal"]

    # The exact attacker on the published cells: every small count could be 0 and could be 11 or more.
    iv = attack(result.published_values(), t.relations())
    assert (iv.low[p.sensitive] <= 1e-6).all() and (iv.high[p.sensitive] >= 11 - 1e-6).all()
    assert (iv.width[result.suppressed] >= 1).all()
    # The state total and every year's total stay published.
    year_totals = [i for i in range(t.size) if t.describe(i).startswith("county=Total")]
    assert not result.suppressed[year_totals].any()
    print(f"\ncounty x year deaths in custody {YEARS.start}-{YEARS.stop - 1}: {inner.size} cells, {nonzero.size} "
          f"non-zero, {int((nonzero < 11).sum())} below 11 ({small_share:.0%}); with margins {t.size} cells, "
          f"{summary['primary']} primary, {summary['complementary']} complementary, "
          f"{summary['value_suppressed']} deaths hidden ({summary['value_suppressed_share']:.1%} of the table's "
          f"value); suppress {seconds:.2f}s (solve {summary['solve_seconds']}s, attacker "
          f"{summary['attacker_seconds']}s)")


@pytest.mark.slow
def test_county_by_year_by_custody_stage(custody_wh):
    t = county_table(custody_wh, "custody_stage")
    result = suppress(t, 11, time_limit=600)
    summary = result.summary()
    assert summary["unsafe_cells"] == 0 and summary["recoverable_cells"] == 0
    assert summary["complementary"] > 0
    p = result.primary
    iv = result.audit.intervals
    assert (iv.low[p.sensitive] <= 1e-6).all() and (iv.high[p.sensitive] >= 11 - 1e-6).all()
    assert np.isfinite(summary["solve_seconds"])
    print(f"\ncounty x year x custody stage: {t.size} cells, {summary['primary']} primary, "
          f"{summary['complementary']} complementary, solve {summary['solve_seconds']}s, optimal "
          f"{summary['optimal']} (bound {summary['lower_bound']})")
