"""Deaths in custody (DOJ's 2019 and 2016 releases) and DOJ's 2016 county summary, loaded from the real
OpenJustice files: every record accounted for, counted once, and DOJ's published rates reproduced."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from justicelab.errors import SourceFileError
from justicelab.sources.openjustice.agencies import DIC_FILE, DIC_OLD_FILE, load_agencies
from justicelab.sources.openjustice.common import AdapterResult
from justicelab.sources.openjustice.custody import (
    CODES_FILE,
    SUMMARY_FILE,
    load_custody_deaths,
    load_custody_summary,
)
from justicelab.warehouse import Warehouse
from tests.conftest import OPENJUSTICE, need


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, dict[str, AdapterResult]]]:
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    wh = Warehouse.open(str(tmp_path_factory.mktemp("oj") / "warehouse.duckdb"))
    results = {
        "deaths": load_custody_deaths(wh, OPENJUSTICE),
        "summary": load_custody_summary(wh, OPENJUSTICE),
        "agencies": load_agencies(wh, OPENJUSTICE),
    }
    yield wh, results
    wh.close()


def _records(name: str) -> list[dict[str, str]]:
    """The file's records, read by Python's csv module (independent of the adapter's reader). The 2019
    release ends its lines in CR CR LF, which the csv module reads as an empty row after each record."""
    with (OPENJUSTICE / name).open(encoding="utf-8-sig", newline="") as fh:
        return [r for r in csv.DictReader(fh) if any(r.values())]


def test_every_record_is_loaded_quarantined_or_left_to_the_newer_release(loaded) -> None:
    wh, results = loaded
    new, old = results["deaths"].batches
    assert (new.rows_read, new.rows_loaded, new.rows_quarantined) == (9_911, 9_910, 1)
    # The 2016 release: its 8,503 deaths before 2005 are read; its 7,598 of 2005-2015 are the 2019
    # release's to count (it revised them), so the two add up to the file's 16,101 records.
    assert (old.rows_read, old.rows_loaded, old.rows_quarantined) == (8_503, 8_502, 1)
    assert old.notes[-1].startswith("7598 records of 2005 and later left to the 2019 release")
    assert old.rows_read + 7_598 == len(_records(DIC_OLD_FILE)) == 16_101
    assert wh.count("custody_death") == 9_910 + 8_502
    # The only two quarantined deaths are dated on days that do not exist; nothing else is.
    quarantined = wh.execute(
        "SELECT source, source_row, reasons FROM ingest_quarantine WHERE entity = 'custody_death' ORDER BY 1")
    assert [(s, r) for s, r, _ in quarantined] == [("openjustice_dic_1980_2004", 607),
                                                   ("openjustice_dic_2005_2018", 5424)]
    assert '"value":"1984-2-31"' in quarantined[0][2] and '"value":"2012-02-30"' in quarantined[1][2]
    assert all('"rule":"type"' in why and '"field":"date_of_death"' in why for _, _, why in quarantined)


def test_deaths_by_year_equal_the_files_records_by_year(loaded) -> None:
    wh, _ = loaded
    expected = Counter(int(r["date_of_death_yyyy"]) for r in _records(DIC_FILE))
    expected += Counter(y for r in _records(DIC_OLD_FILE) if (y := int(r["date_of_death_yyyy"])) < 2005)
    expected -= Counter({1984: 1, 2012: 1})  # the two quarantined deaths (31 February, 30 February)
    got = dict(wh.execute("SELECT year(date_of_death), count(*) FROM custody_death GROUP BY 1"))
    assert got == dict(expected)
    assert min(got) == 1980 and max(got) == 2018 and got[2005] == 646 and got[2018] == 791


def test_arrest_related_deaths_are_the_process_of_arrest_stage(loaded) -> None:
    wh, _ = loaded
    arrests = wh.scalar("SELECT count(*) FROM custody_death WHERE custody_stage = 'process_of_arrest' "
                        "AND _source = 'openjustice_dic_2005_2018'")
    assert arrests == sum(r["custody_status"] == "Process of Arrest" for r in _records(DIC_FILE)) == 1_906


def test_dojs_words_become_standard_codes(loaded) -> None:
    wh, _ = loaded
    # Every categorical field has a code wherever DOJ gave a value (the code lists' doj_code attributes).
    for field in ("sex", "race_ethnicity", "custody_stage", "facility_type", "facility_of_death", "manner_of_death",
                  "means_of_death", "reporting_agency_type"):
        assert wh.scalar(f"SELECT count(*) FROM custody_death WHERE {field} IS NULL") == 0, field
    # DOJ leaves the location empty on 31 records of the 2019 release (and none before 2005).
    assert wh.scalar("SELECT count(*) FROM custody_death WHERE cause_location IS NULL") == 31
    # "In-State" and "Out-of-State" (state prisoners held out of state or on medical parole) are no county.
    assert wh.scalar("SELECT count(*) FROM custody_death WHERE county IS NULL") == wh.scalar(
        "SELECT count(*) FROM custody_death WHERE doj_agency_number LIKE '99%'")
    first = wh.execute(
        "SELECT sex, race_ethnicity, age, custody_stage, facility_type, manner_of_death, means_of_death, "
        "custody_offense, custody_offense_category, agency_code, doj_agency_number, county, date_of_death "
        "FROM custody_death WHERE death_id = '2005002'")
    assert [str(v) for v in first[0]] == ["M", "white", "67", "awaiting_booking", "city_jail", "natural",
                                          "not_applicable", "046", "Drunk", "Lodi", "390200", "san_joaquin",
                                          "2005-01-05"]
    # DOJ's detailed Asian and Pacific Islander origins land in the two standard categories.
    assert wh.scalar("SELECT count(*) FROM custody_death WHERE race_ethnicity = 'pacific_islander' "
                     "AND _source = 'openjustice_dic_2005_2018'") == 23 + 8 + 3 + 2


def test_offense_categories_follow_the_codes_file_and_its_periods(loaded) -> None:
    wh, _ = loaded
    rape = dict(wh.execute("SELECT year(date_of_death) >= 2014, any_value(custody_offense_category) "
                           "FROM custody_death WHERE custody_offense = '600' GROUP BY 1"))
    assert rape == {False: "Forcible Rape (2005-2013)", True: "Rape (2014-current)"}
    assert wh.scalar("SELECT any_value(custody_offense_category) FROM custody_death WHERE custody_offense = '100'") \
        == "Willful Homicide"  # the first row of the codes file, after its byte order mark
    # The 2016 release drops leading zeros: 46 is 046, "Drunk".
    assert wh.scalar("SELECT count(*) FROM custody_death WHERE NOT regexp_full_match(custody_offense, '[0-9]{3}')") == 0
    uncategorised = wh.execute("SELECT DISTINCT custody_offense FROM custody_death "
                               "WHERE custody_offense_category IS NULL ORDER BY 1")
    # Codes the codes file does not list keep their code, without a category (one in the 2019 release).
    assert [r[0] for r in uncategorised] == ["051", "081", "101", "201", "449", "470", "536", "806", "830", "901"]


def test_the_older_release_gives_the_age_from_the_birth_date_and_no_birth_date(loaded) -> None:
    wh, _ = loaded
    # Row 600: born 1935-11-21, died 1984-02-20, so 48; row 2: born 1947 with month and day 0, so unknown.
    ages = dict(wh.execute("SELECT death_id, age FROM custody_death WHERE death_id IN ('R2016-600', 'R2016-2')"))
    assert ages == {"R2016-600": 48, "R2016-2": None}
    assert wh.scalar("SELECT count(*) FROM custody_death WHERE date_of_birth IS NOT NULL") == 0
    assert wh.scalar("SELECT min(year(date_of_death)), max(year(date_of_death)) FROM custody_death "
                     "WHERE _source = 'openjustice_dic_1980_2004'") == 1980


def test_every_death_points_at_its_agency_in_the_directory(loaded) -> None:
    wh, _ = loaded
    missing = wh.execute("SELECT DISTINCT agency_code FROM custody_death "
                         "EXCEPT SELECT agency_code FROM agency ORDER BY 1")
    # Only the three CDCR units without a California county, whose directory entries are in quarantine.
    assert [r[0] for r in missing] == ["99015C", "99025C", "99035C"]
    assert wh.scalar("SELECT count(*) FROM custody_death WHERE agency_code IS NULL") == 0
    # Both releases' numbers resolve to the Crimes and Clearances name (the 2016 release writes 1, 01, 00
    # for Alameda's 010100).
    by_release = wh.execute("SELECT _source, agency_code, count(*) FROM custody_death "
                            "WHERE doj_agency_number = '010100' GROUP BY ALL ORDER BY 1")
    assert [(s, a) for s, a, _ in by_release] == [("openjustice_dic_1980_2004", "Alameda"),
                                                  ("openjustice_dic_2005_2018", "Alameda")]
    assert wh.scalar("SELECT count(DISTINCT agency_code) FROM custody_death WHERE doj_agency_number = '190000'") == 1


def test_loading_again_changes_nothing(loaded) -> None:
    wh, results = loaded
    before = wh.count("custody_death"), wh.count("custody_death_county_summary"), wh.count("ingest_batches")
    for load, name in ((load_custody_deaths, "deaths"), (load_custody_summary, "summary")):
        again = load(wh, OPENJUSTICE)
        assert [(b.status, b.batch_id) for b in again.batches] == [("skipped", b.batch_id)
                                                                  for b in results[name].batches]
    assert (wh.count("custody_death"), wh.count("custody_death_county_summary"), wh.count("ingest_batches")) == before


def test_a_missing_file_is_a_clear_error(tmp_path: Path, warehouse: Warehouse) -> None:
    need(OPENJUSTICE.is_dir(), "OpenJustice files not found")
    with pytest.raises(SourceFileError, match=f"expected the OpenJustice file {SUMMARY_FILE}"):
        load_custody_summary(warehouse, tmp_path)
    for name in ("Crimes_and_Clearances_with_Arson-1985-2022.csv", DIC_FILE, DIC_OLD_FILE):
        shutil.copy(OPENJUSTICE / name, tmp_path / name)
    with pytest.raises(SourceFileError, match=f"{tmp_path}: expected the OpenJustice file {CODES_FILE}"):
        load_custody_deaths(warehouse, tmp_path)
    assert not warehouse.has_table("custody_death") or warehouse.count("custody_death") == 0


# --- DOJ's county summary ------------------------------------------------------------------------------


def test_summary_loads_every_row(loaded) -> None:
    wh, results = loaded
    (batch,) = results["summary"].batches
    assert (batch.rows_read, batch.rows_loaded, batch.rows_quarantined) == (4_130, 4_130, 0)
    # 10 years x (58 counties + the state) x (6 race groups + all); "All Combined" is an empty value.
    assert wh.execute("SELECT count(DISTINCT year), count(DISTINCT county), count(DISTINCT race_group), "
                      "count(*) FILTER (WHERE county IS NULL), count(*) FILTER (WHERE race_group IS NULL) "
                      "FROM custody_death_county_summary") == [(10, 58, 6, 70, 590)]
    # The statewide row is the sum of the counties (so adding it to them would count twice).
    assert wh.scalar("""
        SELECT count(*) FROM (
            SELECT year, race_group, sum(deaths) FILTER (WHERE county IS NOT NULL) AS counties,
                   any_value(deaths) FILTER (WHERE county IS NULL) AS state
            FROM custody_death_county_summary GROUP BY ALL) WHERE counties <> state""") == 0


def _rate(deaths: int, population: int) -> Decimal:
    """deaths / population x 100,000, rounded to two decimals exactly (decimal arithmetic, half up)."""
    return (Decimal(deaths) * 100_000 / Decimal(population)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_recomputed_rates_reproduce_dojs_published_rates_for_every_row(loaded) -> None:
    """DOJ rounded deaths / population x 100,000 to two decimals. No row falls exactly on a half cent, so
    rounding half up and half to even agree; where the population is 0 (7 rows: Alpine County's Black
    residents, 2008-2014) DOJ publishes 0 deaths and a rate of 0."""
    wh, _ = loaded
    rows = wh.execute(
        "SELECT deaths, arrest_related_deaths, in_custody_deaths, population, death_rate, arrest_related_death_rate, "
        "in_custody_death_rate FROM custody_death_county_summary")
    assert len(rows) == 4_130
    zero_population = 0
    for deaths, arrests, in_custody, population, *published in rows:
        assert deaths == arrests + in_custody
        if population == 0:
            zero_population += 1
            assert (deaths, *published) == (0, 0, 0, 0)
            continue
        for count, rate in zip((deaths, arrests, in_custody), published, strict=True):
            assert _rate(count, population) == Decimal(str(rate)), (count, population, rate)
    assert zero_population == 7


def test_doubled_carriage_returns_are_read_as_one_line_end_across_chunks(tmp_path: Path, monkeypatch) -> None:
    """The 2019 release ends lines in CR CR LF; the repair streams in chunks, and a line end cut between
    two chunks must still become one (row numbers stay those of the file)."""
    import duckdb

    from justicelab.sources.openjustice import staging

    path = tmp_path / "dic.csv"
    path.write_bytes(b"\xef\xbb\xbfkey,means\r\r\n2005001,\"Hanging,Strangulation\"\r\r\n2005002,Handgun\r\r\n2005003,x")
    for chunk in (3, 5, 7, 1 << 22):
        monkeypatch.setattr(staging, "_CHUNK", chunk)
        con = duckdb.connect()
        assert staging.read_csv(con, path, "t") == ["key", "means"]
        assert con.execute("SELECT * FROM t ORDER BY source_row").fetchall() == [
            ("2005001", "Hanging,Strangulation", 2), ("2005002", "Handgun", 3), ("2005003", "x", 4)]
