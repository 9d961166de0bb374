"""Population files in all their layouts (DOF E-4 workbooks and reports, the long county file, CSAC's and the
Census Bureau's county series), loaded from the real files and checked against each other: totals against
their parts, the same figure in two layouts, and the revisions between vintages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from justicelab.errors import SourceFileError
from justicelab.indicators.engine import population_base
from justicelab.ingest import BatchResult
from justicelab.sources.openjustice.common import AdapterResult, Unmatched
from justicelab.sources.openjustice.population import (
    load_population,
    population_files,
    population_vintages,
    preferred_population,
    source_name,
)
from justicelab.warehouse import Warehouse
from tests.conftest import OPENJUSTICE, need

VINTAGES = ["E-4 2024", "E-4 2023", "E-4 2021", "E-4 2018", "E-4 2001-2010", "E-4 1991-2000",
            "DOF via CSAC 2018", "Census Bureau 1980-2017"]

# Every batch of the real files: (file [sheet], vintage) -> (read, inserted, unchanged, quarantined).
# A report line holds one figure per date column; '*' (city not yet incorporated) and blank cells hold none.
# Table 2 repeats Table 1's county and state totals, and the long county file repeats Table 1 of the 2021
# and 2024 workbooks: those batches find every record already there and unchanged (none updated, none
# quarantined), which proves the layouts agree figure for figure. Nothing is quarantined anywhere: every
# figure is a whole number under a date and every county name is placed (no unmatched names).
BATCHES = {
    ("dof_E-4_2010-2020-Internet-Version.xlsx [Table 1 County State]", "E-4 2021"): (708, 708, 0, 0),
    # 7,128 figures on 594 lines x 12 dates, + 12 for San Francisco's line (the city and the county);
    # the 57 County Total lines, San Francisco and the state (59 x 12 = 708) are Table 1's figures again.
    ("dof_E-4_2010-2020-Internet-Version.xlsx [Table 2 City County]", "E-4 2021"): (7140, 6432, 708, 0),
    ("dof_E-4_2023_InternetVersion.xlsx [Table 1 County State]", "E-4 2023"): (236, 236, 0, 0),
    ("dof_E-4_2023_InternetVersion.xlsx [Table 2 City County]", "E-4 2023"): (2380, 2144, 236, 0),
    ("dof_E-4_2024_InternetVersion.xlsx [Table 1 County State]", "E-4 2024"): (295, 295, 0, 0),
    ("dof_E-4_2024_InternetVersion.xlsx [Table 2 City County]", "E-4 2024"): (2975, 2680, 295, 0),
    # 594 data lines x 9 dates - 3 blank cells (Eastvale, Jurupa Valley) + 9 for San Francisco's county.
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", "E-4 2018"): (5352, 5352, 0, 0),
    # 532 data lines x 12 dates - 69 cells marked '*'; no county totals, so no San Francisco county either.
    ("dof_E-4_90-00_Rpt.csv", "E-4 1991-2000"): (6315, 6315, 0, 0),
    ("dof_E4_2000-2010_Report_Final_EOC_000.csv", "E-4 2001-2010"): (7116, 7116, 0, 0),
    ("dof_e4_county_population_2010-2024.csv", "E-4 2021"): (649, 0, 649, 0),  # 59 areas x 11 dates
    ("dof_e4_county_population_2010-2024.csv", "E-4 2024"): (295, 0, 295, 0),  # 59 areas x 5 dates
    ("csac_population_by_county_1970_to_2018.csv", "DOF via CSAC 2018"): (2842, 2842, 0, 0),  # 58 x 49 years
    ("marshallproject_population_1980_2017_census_ca_counties.csv", "Census Bureau 1980-2017"): (2204, 2204, 0, 0),
}

# Totals the files print that differ from the sum of the lines they total - DOF's own inconsistencies,
# loaded as printed and reported in the batch notes: (file, row, line, column, printed, sum of parts).
KNOWN_DISCREPANCIES = {
    # 2011-2020 workbook: the cities' total and Yuba County's cities and total are off by one on four dates.
    *(("dof_E-4_2010-2020-Internet-Version.xlsx [Table 2 City County]", 5, "incorporated total", d, p, s)
      for d, p, s in [("1/1/2016", 32510504, 32510505), ("1/1/2017", 32720742, 32720741),
                      ("1/1/2018", 32867508, 32867507), ("4/1/2020", 32989663, 32989664)]),
    *(("dof_E-4_2010-2020-Internet-Version.xlsx [Table 2 City County]", 710, "incorporated", d, p, s)
      for d, p, s in [("1/1/2016", 16389, 16390), ("1/1/2017", 16542, 16541), ("1/1/2018", 16635, 16634),
                      ("4/1/2020", 16872, 16873)]),
    *(("dof_E-4_2010-2020-Internet-Version.xlsx [Table 2 City County]", 711, "county total", d, p, s)
      for d, p, s in [("1/1/2016", 76245, 76246), ("1/1/2017", 77751, 77750), ("1/1/2018", 78751, 78750),
                      ("4/1/2020", 81575, 81576)]),
    # 2018 report: 5,304 people counted as unincorporated instead of incorporated in the state's 2013
    # subtotals; 40 more in the 2017 state and incorporated totals than in the counties; and Marin County's
    # 2011 total printed 254,691 where its cities and balance add up to 254,091 (CSAC has 254,091, and the
    # state total of that date agrees with 254,091, so the printed county total is the odd one).
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", 7, "incorporated total", "1/1/13", 31823911, 31829215),
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", 7, "incorporated total", "1/1/17", 32957372, 32957332),
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", 8, "balance of state total", "1/1/13", 6410480, 6405176),
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", 9, "state total", "1/1/11", 37529913, 37530513),
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", 9, "state total", "1/1/17", 39500973, 39500933),
    ("dof_E-4_2018InternetVersion_cities_2010-2018.csv", 312, "county total", "1/1/11", 254691, 254091),
    # 1991-2000 report: the 1990 census subtotals move 12 people from incorporated to unincorporated.
    ("dof_E-4_90-00_Rpt.csv", 7, "incorporated total", "4/1/90", 23612925, 23612937),
    ("dof_E-4_90-00_Rpt.csv", 8, "balance of state total", "4/1/90", 6145288, 6145276),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, AdapterResult]]:
    """One warehouse with every population file of the OpenJustice folder loaded once."""
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    wh = Warehouse.open(str(tmp_path_factory.mktemp("pop") / "warehouse.duckdb"))
    yield wh, load_population(wh, OPENJUSTICE)
    wh.close()


def _label(batch: BatchResult) -> str:
    """The batch's file (and sheet), as its layout note names it."""
    note = batch.notes[0] if batch.notes else ""
    m = re.match(r"(.+?\.xlsx \[[^\]]+\])", note)
    return m.group(1) if m else Path(batch.file).name


def _vintage(wh: Warehouse, batch: BatchResult) -> str:
    return str(wh.scalar(f"SELECT min(vintage) FROM population WHERE _source = '{batch.source}'"))


def _rows(wh: Warehouse, where: str, cols: str = "population") -> list[tuple]:
    return wh.execute(f"SELECT {cols} FROM population WHERE {where} ORDER BY 1")


# --- every row accounted for ------------------------------------------------------------------------


def test_every_file_loads_with_every_row_accounted_for(loaded) -> None:
    wh, result = loaded
    got = {}
    for b in result.batches:
        assert b.status == "loaded"
        assert b.rows_read == b.rows_loaded + b.rows_quarantined
        assert b.rows_updated == 0  # the same release in two files never disagrees
        vintage = next(v for v in VINTAGES if source_name(v) == b.source)
        got[(_label(b), vintage)] = (b.rows_read, b.rows_inserted, b.rows_unchanged, b.rows_quarantined)
    assert got == BATCHES
    assert result.unmatched == []
    assert wh.count("population") == sum(inserted for _, inserted, _, _ in BATCHES.values()) == 36_324
    assert wh.scalar("SELECT count(*) FROM ingest_quarantine WHERE entity = 'population'") == 0
    # The batch log and lineage point at the original files, not at the reshaped copies.
    files = [(kind, p.name) for kind, p in population_files(OPENJUSTICE)]
    assert files == [
        ("workbook", "dof_E-4_2010-2020-Internet-Version.xlsx"), ("workbook", "dof_E-4_2023_InternetVersion.xlsx"),
        ("workbook", "dof_E-4_2024_InternetVersion.xlsx"),
        ("report", "dof_E-4_2018InternetVersion_cities_2010-2018.csv"),
        ("report", "dof_E-4_90-00_Rpt.csv"), ("report", "dof_E4_2000-2010_Report_Final_EOC_000.csv"),
        ("long", "dof_e4_county_population_2010-2024.csv"), ("csac", "csac_population_by_county_1970_to_2018.csv"),
        ("census", "marshallproject_population_1980_2017_census_ca_counties.csv"),
    ]
    logged = {Path(p).name for (p,) in wh.execute("SELECT file_path FROM ingest_batches WHERE entity = 'population'")}
    assert logged == {name for _, name in files}
    assert wh.scalar("SELECT count(*) FROM population WHERE _source_row IS NULL") == 0


def test_every_line_of_a_report_is_layout_or_data(loaded) -> None:
    """Each report's note accounts for every line: title, blank, heading, footnote, subtotal or data."""
    _, result = loaded
    notes = {_label(b): b.notes[0] for b in result.batches if "lines =" in (b.notes[0] if b.notes else "")}
    assert len(notes) == 9
    for label, note in notes.items():
        m = re.search(r": (\d+) lines = (\d+) title/header, (\d+) blank, (\d+) heading, (\d+) footnote, "
                      r"(\d+) subtotal .* and (\d+) data lines", note)
        assert m, note
        total, *kinds = (int(g) for g in m.groups())
        assert total == sum(kinds), label
    assert notes["dof_E-4_90-00_Rpt.csv"] == (
        "dof_E-4_90-00_Rpt.csv (E-4 1991-2000): 658 lines = 4 title/header, 60 blank, 59 heading, 1 footnote, "
        "2 subtotal (checked, not loaded) and 532 data lines holding 6315 figures -> 6315 rows (0 line(s) of a "
        "consolidated city and county give the city and the county); 69 cells marked '*' and 0 blank cells "
        "under a date (cities not yet incorporated) hold no figure; 0 cells of text right of the names")
    assert "782 lines = 4 title/header, 68 blank, 59 heading, 1 footnote, 56 subtotal" in notes[
        "dof_E-4_2018InternetVersion_cities_2010-2018.csv"]
    assert "3 blank cells under a date" in notes["dof_E-4_2018InternetVersion_cities_2010-2018.csv"]
    # The 2023 workbook carries a formula copied across row 77 (Contra Costa's Incorporated line): its
    # zeros right of the table are noted and left out.
    wb23 = [n for b in result.batches for n in b.notes if "zero cells" in n]
    assert wb23 == ["dof_E-4_2023_InternetVersion.xlsx [Table 2 City County]: row 77: 16379 zero cells right of "
                    "the table's last column, outside the table"]


def test_totals_add_up_except_dofs_own_known_discrepancies(loaded) -> None:
    _, result = loaded
    found = set()
    for b in result.batches:
        for note in b.notes:
            m = re.fullmatch(r"(.+): row (\d+) \((.+)\), (.+): printed (\d+), its parts add up to (\d+)", note)
            if m:
                f, row, name, head, printed, parts = m.groups()
                found.add((f, int(row), name, head, int(printed), int(parts)))
    assert found == KNOWN_DISCREPANCIES


def test_county_figures_add_up_to_the_state_figure_in_every_vintage_and_date(loaded) -> None:
    """Exactly, except the two dates of the 2018 report with the discrepancies above (+600 and -40)."""
    wh, _ = loaded
    rows = wh.execute("""
        SELECT vintage, CAST(reference_date AS VARCHAR),
               sum(population) FILTER (WHERE geography_type = 'county')
                 - max(population) FILTER (WHERE geography_type = 'state'),
               count(*) FILTER (WHERE geography_type = 'county')
        FROM population GROUP BY ALL
        HAVING count(*) FILTER (WHERE geography_type = 'state') > 0
           AND count(*) FILTER (WHERE geography_type = 'county') > 0
        ORDER BY 1, 2""")
    assert len(rows) == 12 + 4 + 5 + 9 + 12  # dates of E-4 2021, 2023, 2024, 2018, 2001-2010
    assert {(v, d): diff for v, d, diff, _ in rows if diff} == {
        ("E-4 2018", "2011-01-01"): 600, ("E-4 2018", "2017-01-01"): -40}
    assert {n for *_, n in rows} == {58}
    # The 1991-2000 report prints no county totals: its cities and balances add up to the state instead.
    diffs = wh.execute("""
        SELECT reference_date, sum(population) FILTER (WHERE geography_type IN ('city', 'balance_of_county'))
               - max(population) FILTER (WHERE geography_type = 'state')
        FROM population WHERE vintage = 'E-4 1991-2000' GROUP BY 1""")
    assert len(diffs) == 12 and all(d == 0 for _, d in diffs)


def test_all_58_counties_in_every_year_of_every_county_level_file(loaded) -> None:
    wh, _ = loaded
    per = wh.execute("""
        SELECT vintage, count(DISTINCT reference_date), min(n), max(n), min(year), max(year) FROM (
            SELECT vintage, reference_date, year, count(DISTINCT geography_code) AS n FROM population
            WHERE geography_type = 'county' GROUP BY ALL) GROUP BY 1 ORDER BY 1""")
    assert per == [
        ("Census Bureau 1980-2017", 38, 58, 58, 1980, 2017),
        ("DOF via CSAC 2018", 49, 58, 58, 1970, 2018),
        ("E-4 2001-2010", 12, 58, 58, 2000, 2010),
        ("E-4 2018", 9, 58, 58, 2010, 2018),
        ("E-4 2021", 12, 58, 58, 2010, 2020),
        ("E-4 2023", 4, 58, 58, 2020, 2023),
        ("E-4 2024", 5, 58, 58, 2020, 2024),
    ]


# --- the same figures across layouts and vintages -----------------------------------------------------


def test_published_figures_across_layouts_and_vintages(loaded) -> None:
    wh, _ = loaded

    def fig(vintage: str, gtype: str, code: str, date: str) -> int:
        rows = _rows(wh, f"vintage = '{vintage}' AND geography_type = '{gtype}' AND geography_code = '{code}' "
                         f"AND reference_date = DATE '{date}'")
        assert len(rows) == 1, (vintage, gtype, code, date)
        return int(rows[0][0])

    # Census counts are the same in every vintage that prints them.
    for v in ("E-4 2021", "E-4 2023", "E-4 2024"):
        assert fig(v, "state", "california", "2020-04-01") == 39_538_223
    for v in ("E-4 2001-2010", "E-4 2018", "E-4 2021"):
        assert fig(v, "state", "california", "2010-04-01") == 37_253_956
        assert fig(v, "city", "alameda", "2010-04-01") == 73_812
        assert fig(v, "county", "san_francisco", "2010-04-01") == 805_235  # consolidated city and county
    for v in ("E-4 1991-2000", "E-4 2001-2010"):
        assert fig(v, "state", "california", "2000-04-01") == 33_873_086
    assert fig("Census Bureau 1980-2017", "county", "alameda", "2010-04-01") == 1_510_271
    # Estimates are revised: Alameda County on January 1, 2015 was 1,611,770 in the 2018 release and
    # 1,622,205 after the 2020 census (2021 release); January 1, 2021 went from 1,663,371 (2023) to
    # 1,666,341 (2024).
    assert fig("E-4 2018", "county", "alameda", "2015-01-01") == 1_611_770
    assert fig("DOF via CSAC 2018", "county", "alameda", "2015-01-01") == 1_611_770
    assert fig("E-4 2021", "county", "alameda", "2015-01-01") == 1_622_205
    assert fig("E-4 2023", "county", "alameda", "2021-01-01") == 1_663_371
    assert fig("E-4 2024", "county", "alameda", "2021-01-01") == 1_666_341
    assert fig("E-4 2024", "state", "california", "2024-01-01") == 39_128_162
    # The 1990s: CSAC's 1980 is the census count (April 1); the report's Alpine County is all balance.
    assert fig("DOF via CSAC 2018", "county", "alameda", "1980-04-01") == 1_105_379
    assert fig("Census Bureau 1980-2017", "county", "alameda", "1980-04-01") == 1_105_379
    assert fig("E-4 1991-2000", "balance_of_county", "alpine", "1990-04-01") == 1_113
    assert fig("E-4 1991-2000", "city", "laguna_woods", "2000-01-01") == 17_682  # '*' until incorporated
    assert not _rows(wh, "vintage = 'E-4 1991-2000' AND geography_code = 'laguna_woods' AND year < 2000")
    # Names as printed; a name spelled two ways in two releases keeps one code.
    assert _rows(wh, "geography_code = 'st_helena'", "DISTINCT geography_name") == [("St Helena",), ("St. Helena",)]
    assert _rows(wh, "geography_type = 'balance_of_county' AND geography_code = 'alameda' AND vintage = 'E-4 2024'",
                 "DISTINCT geography_name") == [("Alameda County: Balance Of County",)]


def test_csac_is_dofs_january_figures_and_the_census_bureau_differs(loaded) -> None:
    wh, _ = loaded
    # CSAC 1991-2000 equals the 1991-2000 report's January 1 county sums, except Orange County in 2000,
    # where CSAC is higher by exactly Laguna Woods' 17,682 (incorporated that year): counted twice there.
    rows = wh.execute("""
        WITH e4 AS (SELECT county, year, sum(population) AS p FROM population
                    WHERE vintage = 'E-4 1991-2000' AND month(reference_date) = 1 GROUP BY ALL)
        SELECT e4.county, e4.year, c.population - e4.p FROM e4 JOIN population c
          ON c.vintage = 'DOF via CSAC 2018' AND c.geography_code = e4.county AND c.year = e4.year
        WHERE c.population <> e4.p""")
    assert wh.scalar("SELECT count(DISTINCT year) FROM population WHERE vintage = 'E-4 1991-2000' "
                     "AND month(reference_date) = 1") == 10
    assert rows == [("orange", 2000, 17_682)]
    # CSAC 2001-2010 equals the 2001-2010 report's January 1 county figures, except Orange County, which is
    # higher every year by exactly that year's Laguna Woods figure: CSAC counts Laguna Woods twice.
    rows = wh.execute("""
        SELECT c.year, c.population - e.population - lw.population FROM population c
        JOIN population e ON e.vintage = 'E-4 2001-2010' AND e.geography_type = 'county'
         AND e.geography_code = c.geography_code AND e.reference_date = c.reference_date
        LEFT JOIN population lw ON lw.vintage = 'E-4 2001-2010' AND lw.geography_code = 'laguna_woods'
         AND lw.reference_date = c.reference_date
        WHERE c.vintage = 'DOF via CSAC 2018' AND c.population <> e.population ORDER BY 1""")
    assert rows == [(y, 0) for y in range(2001, 2011)]
    # CSAC 2011-2018 is the 2018 release, except three county-years: Marin 2011 (CSAC has the sum of Marin's
    # parts, the report a mistyped total), Imperial 2011 (+15) and Orange 2018 (+63,365, 2% above every
    # DOF release here) - the last two unexplained by the files.
    rows = wh.execute("""
        SELECT c.geography_code, c.year, c.population, e.population FROM population c JOIN population e
          ON e.vintage = 'E-4 2018' AND e.geography_type = 'county' AND e.geography_code = c.geography_code
         AND e.reference_date = c.reference_date
        WHERE c.vintage = 'DOF via CSAC 2018' AND c.population <> e.population ORDER BY 1""")
    assert rows == [("imperial", 2011, 176_355, 176_340), ("marin", 2011, 254_091, 254_691),
                    ("orange", 2018, 3_284_468, 3_221_103)]
    assert wh.scalar("SELECT count(*) FROM population c WHERE vintage = 'DOF via CSAC 2018' AND year > 2010") == 58 * 8
    # The Census Bureau's 2010 is the census count DOF prints (all 58 counties); its 1980 agrees with CSAC's
    # census count for 53 counties and within 0.1% for the others (the Bureau's later count corrections).
    assert wh.scalar("""
        SELECT count(*) FROM population b JOIN population d ON d.vintage = 'E-4 2021'
          AND d.geography_type = 'county' AND d.geography_code = b.geography_code
          AND d.reference_date = b.reference_date
        WHERE b.vintage = 'Census Bureau 1980-2017' AND b.year = 2010 AND b.population = d.population""") == 58
    diffs = wh.execute("""
        SELECT abs(b.population - c.population) / c.population FROM population b JOIN population c
          ON c.vintage = 'DOF via CSAC 2018' AND c.geography_code = b.geography_code AND c.year = b.year
        WHERE b.vintage = 'Census Bureau 1980-2017' AND b.year = 1980""")
    assert len(diffs) == 58 and sum(d == 0 for (d,) in diffs) == 53 and max(d for (d,) in diffs) < 0.001


# --- loading again -------------------------------------------------------------------------------------


def test_loading_twice_changes_nothing(loaded) -> None:
    wh, first = loaded
    before = (wh.count("population"), wh.count("ingest_batches"))
    again = load_population(wh, OPENJUSTICE)
    assert [b.status for b in again.batches] == ["skipped"] * len(first.batches)
    assert [b.batch_id for b in again.batches] == [b.batch_id for b in first.batches]
    assert (wh.count("population"), wh.count("ingest_batches")) == before


# --- vintages and the preferred denominator -----------------------------------------------------------


def test_vintages_newest_first_and_their_names_sort_the_same_way(loaded) -> None:
    wh, _ = loaded
    assert population_vintages(wh) == VINTAGES
    # The indicator engine orders vintages by name: the names are chosen so that this is the same order.
    assert sorted(VINTAGES, reverse=True) == VINTAGES


def test_preferred_population_is_one_figure_per_area_and_year_and_names_its_vintage(loaded) -> None:
    wh, _ = loaded
    pref = preferred_population(wh)
    rows = pref.to_pyarrow().to_pylist()
    keys = [(r["geography_type"], r["geography_code"], r["year"]) for r in rows]
    assert len(keys) == len(set(keys))
    counties = [r for r in rows if r["geography_type"] == "county"]
    assert {(r["geography_code"], r["year"]) for r in counties} == {
        (c, y) for c in {r["geography_code"] for r in counties} for y in range(1970, 2025)}
    assert len(counties) == 58 * 55
    vintage_by_year = {}
    for r in counties:
        vintage_by_year.setdefault(r["year"], set()).add((r["vintage"], r["estimate_type"]))
    assert vintage_by_year == {
        **{y: {("DOF via CSAC 2018", "estimate")} for y in range(1970, 2001) if y != 1980},
        1980: {("DOF via CSAC 2018", "census")},  # no estimate of 1980 in any file: the census count
        **{y: {("E-4 2001-2010", "estimate")} for y in range(2001, 2011)},
        **{y: {("E-4 2021", "estimate")} for y in range(2011, 2021)},
        **{y: {("E-4 2024", "estimate")} for y in range(2021, 2025)},
    }
    state = {r["year"]: (r["population"], r["vintage"]) for r in rows if r["geography_type"] == "state"}
    assert sorted(state) == list(range(1990, 2025))
    assert state[1990] == (29_758_213, "E-4 1991-2000")  # the 1990 census: no estimate for 1990
    assert state[2010] == (37_223_900, "E-4 2001-2010")  # January 1, 2010, not the April census
    assert state[2020] == (39_535_623, "E-4 2021")
    assert state[2024] == (39_128_162, "E-4 2024")
    alameda = {r["year"]: r["population"] for r in counties if r["geography_code"] == "alameda"}
    assert (alameda[1985], alameda[2015], alameda[2024]) == (1_185_540, 1_622_205, 1_641_869)
    cities = {(r["geography_code"], r["year"]): r["vintage"] for r in rows if r["geography_type"] == "city"}
    assert ("laguna_woods", 1999) not in cities and cities[("laguna_woods", 2000)] == "E-4 1991-2000"
    assert len({c for c, _ in cities}) == 482


def test_preferred_population_agrees_with_the_indicator_engines_denominator(loaded) -> None:
    wh, _ = loaded
    pref = preferred_population(wh)
    pref = pref.filter(pref.geography_type.isin(["state", "county"]))
    ours = {(r["geography_code"], r["year"]): (r["population"], r["vintage"]) for r in pref.to_pyarrow().to_pylist()}
    engine = population_base(wh.ibis, []).to_pyarrow().to_pylist()
    theirs = {(r["geography_code"], r["year"]): (r["population"], r["vintage"]) for r in engine}
    assert len(engine) == len(theirs) == len(ours) == 58 * 55 + 35
    assert ours == theirs


# --- names that cannot be placed, damaged files --------------------------------------------------------

REPORT = """Table 2: E-4 Population Estimates for Cities and Counties,,,
2011-2012 (a test),,,
,,,
COUNTY/CITY,4/1/10,1/1/11,1/1/12
,,,
California,,,
Incorporated Total,800,806,812
Balance Of State Total,200,202,204
State Total,"1,000","1,008","1,016"
,,,
Alameda County,,,
Berkeley             ,100,101,102
Balance Of County    ,50,51,52
Incorporated,100,101,102
County Total,150,152,154
,,,
Atlantis County,,,
Springfield,700,705,710
Balance Of County,150,151,152
County Total,850,856,862
,,,
* A footnote: figures are invented.,,,
,Another note in the second column (2024).,,
"""


def test_names_that_cannot_be_placed_are_reported_and_loaded_or_quarantined(tmp_path, warehouse) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "E-4_test_report.csv").write_text(REPORT, encoding="utf-8")
    (folder / "csac_population_test.csv").write_text(
        "\ufeffCounty,Year,Population\r\nAlameda,2000,100\r\nAtlantis,2000,5\r\nAlpine,2000,n/a\r\n", encoding="utf-8")
    result = load_population(warehouse, folder)
    report, csac = result.batches
    assert result.unmatched == [
        Unmatched("E-4_test_report.csv", 17, "COUNTY/CITY", "Atlantis County",
                  "heading that is not a California county: the lines under it cannot be placed"),
        Unmatched("E-4_test_report.csv", 18, "COUNTY/CITY", "Springfield",
                  "under the heading 'Atlantis County', which is not a California county"),
        Unmatched("E-4_test_report.csv", 19, "COUNTY/CITY", "Balance Of County",
                  "under the heading 'Atlantis County', which is not a California county"),
        Unmatched("E-4_test_report.csv", 20, "COUNTY/CITY", "County Total",
                  "under the heading 'Atlantis County', which is not a California county"),
        Unmatched("csac_population_test.csv", 3, "County", "Atlantis", "not a California county"),
    ]
    # The city outside any known county is loaded without a county; Atlantis' own figures (its balance and
    # total) have no geography code and are quarantined, with the lines they came from.
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (21, 15, 6)
    assert warehouse.execute("SELECT geography_code, county, vintage FROM population WHERE geography_type = 'city' "
                             "AND year = 2012 ORDER BY 1") == [("berkeley", "alameda", "E-4 2012"),
                                                                ("springfield", None, "E-4 2012")]
    assert warehouse.execute("SELECT DISTINCT source_row FROM ingest_quarantine WHERE source = 'population_e4_2012' "
                             "ORDER BY 1") == [(19,), (20,)]
    # The long file: Atlantis has no code, Alpine's figure is not a number; both quarantined with their row.
    assert (csac.rows_read, csac.rows_loaded, csac.rows_quarantined) == (3, 1, 2)
    reasons = warehouse.execute("SELECT source_row, reasons FROM ingest_quarantine "
                                "WHERE source = 'population_dof_via_csac_2000' ORDER BY 1")
    assert [r for r, _ in reasons] == [3, 4]
    assert "geography_code" in reasons[0][1] and "n/a" in reasons[1][1]
    # Titles, blank lines, headings, footnotes and subtotals are layout: 4 + 4 + 3 + 2 + 3 of 23 lines.
    assert report.notes[0].startswith("E-4_test_report.csv (E-4 2012): 23 lines = 4 title/header, 4 blank, "
                                      "3 heading, 2 footnote, 3 subtotal (checked, not loaded) and 7 data lines "
                                      "holding 21 figures")
    assert report.notes[0].endswith("; 1 cells of text right of the names")
    assert len(report.notes) == 1  # every total adds up


def test_a_figure_that_is_not_a_number_stops_the_load_with_nothing_written(tmp_path, warehouse) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "E-4_test_report.csv").write_text(REPORT.replace("Berkeley             ,100,101,102",
                                                               "Berkeley             ,100,1O1,102"))
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    shutil.copy(OPENJUSTICE / "csac_population_by_county_1970_to_2018.csv", folder)
    with pytest.raises(SourceFileError, match=r"E-4_test_report.csv: .*row 12, column 1/1/11: '1O1'"):
        load_population(warehouse, folder)
    assert not warehouse.has_table("population") or warehouse.count("population") == 0


def test_a_folder_without_population_files_is_an_error(tmp_path, warehouse) -> None:
    (tmp_path / "Crimes_and_Clearances_with_Arson-1985-2022.csv").write_text("Year\n2022\n")
    with pytest.raises(SourceFileError, match="no population file"):
        load_population(warehouse, tmp_path)


# --- PostgreSQL ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_population_and_its_preferred_denominator_on_postgres(tmp_path, pg_url) -> None:
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("dof_E-4_2024_InternetVersion.xlsx", "dof_e4_county_population_2010-2024.csv",
                 "dof_E4_2000-2010_Report_Final_EOC_000.csv"):
        shutil.copy(OPENJUSTICE / name, folder)
    answers = []
    with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "wh.duckdb")) as dd:
        for wh in (pg, dd):
            result = load_population(wh, folder)
            assert all(b.rows_read == b.rows_loaded and b.rows_updated == 0 for b in result.batches)
            assert population_vintages(wh) == ["E-4 2024", "E-4 2021", "E-4 2001-2010"]
            rows = preferred_population(wh).to_pyarrow().to_pylist()
            answers.append(sorted((r["geography_type"], r["geography_code"], r["year"], r["population"],
                                   r["vintage"], str(r["reference_date"])) for r in rows))
    assert answers[0] == answers[1]
    assert len(answers[0]) > 58 * 24
