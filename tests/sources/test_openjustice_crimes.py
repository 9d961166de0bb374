"""Crimes and Clearances, the agency directory and personnel, loaded from the real OpenJustice files and
checked against DOJ's own statewide figures."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import jsonschema
import pytest
import yaml

from justicelab.errors import SourceFileError
from justicelab.ingest import mapping_json_schema
from justicelab.sources.openjustice.agencies import agency_type_sql, load_agencies
from justicelab.sources.openjustice.common import AdapterResult
from justicelab.sources.openjustice.crimes import CRIMES_FILE, load_crimes_clearances
from justicelab.sources.openjustice.personnel import PERSONNEL_FILE, load_personnel
from justicelab.sources.openjustice.staging import MAPPINGS
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse
from tests.conftest import OPENJUSTICE, need

CC_ROWS = 27_853  # records of Crimes_and_Clearances_with_Arson-1985-2022.csv
EXPORT = "openjustice_statewide_crimes_1985-2021_export.csv"

# DOJ's statewide export, column by column: its dashboard row label and the offense code it counts
# (None for section headers, which are empty columns). Labels repeat, so the file is read by position.
EXPORT_COLUMNS: list[tuple[str, str | None]] = [
    ("Year", None), ("Crimes", None), ("Violent Crimes", "violent"), ("Homicide", "homicide"),
    ("Rape (Forcible Rape prior to 2014)", "rape"), ("Rape", "rape_completed"), ("Attempted Rape", "rape_attempted"),
    ("Robbery", "robbery"), ("Weapon", None), ("Firearm", "robbery_firearm"),
    ("Knife or Cutting Instrument", "robbery_knife"), ("Other Weapon", "robbery_other_weapon"),
    ("Strong-Arm", "robbery_strong_arm"), ("Location", None), ("Highway", "robbery_highway"),
    ("Commercial", "robbery_commercial"), ("Gas Station", "robbery_gas_station"),
    ("Convenience Store", "robbery_convenience_store"), ("Residence", "robbery_residence"), ("Bank", "robbery_bank"),
    ("Miscellaneous", "robbery_miscellaneous"), ("Aggravated Assault", "aggravated_assault"), ("Weapon", None),
    ("Firearm", "aggravated_assault_firearm"), ("Knife or Cutting Instrument", "aggravated_assault_knife"),
    ("Other Weapon", "aggravated_assault_other_weapon"), ("Hands  Fists  Feet", "aggravated_assault_hands_fists_feet"),
    ("Property Crimes", "property"), ("Burglary", "burglary"), ("Means of Entry", None),
    ("Forcible Entry", "burglary_forcible_entry"), ("No Force", "burglary_no_force"), ("Location / Time", None),
    ("Residence", "burglary_residential"), ("Night", "burglary_residential_night"),
    ("Day", "burglary_residential_day"), ("Unknown", "burglary_residential_time_unknown"),
    ("Non-Residence", "burglary_nonresidential"), ("Night", "burglary_nonresidential_night"),
    ("Day", "burglary_nonresidential_day"), ("Unknown", "burglary_nonresidential_time_unknown"),
    ("Motor Vehicle Theft", "motor_vehicle_theft"), ("Automotive", "motor_vehicle_theft_auto"),
    ("Trucks and Buses", "motor_vehicle_theft_truck_bus"), ("Other", "motor_vehicle_theft_other"),
    ("Larceny-Theft", "larceny_theft"), ("Type", None), ("Pocket-Picking", "larceny_pocket_picking"),
    ("Purse-Snatching", "larceny_purse_snatching"), ("Shoplifting", "larceny_shoplifting"),
    ("From Motor Vehicle", "larceny_from_motor_vehicle"),
    ("Motor Vehicle Accessories", "larceny_motor_vehicle_accessories"),
    ("Bicycles", "larceny_bicycle"), ("From Building", "larceny_from_building"),
    ("Coin Operated Machine", "larceny_coin_machine"), ("Other", "larceny_other"), ("Value", None),
    ("Over $400", "larceny_over_400"), ("$200 through $400", "larceny_200_to_400"),
    ("$50 through $199", "larceny_50_to_199"), ("Under $50", "larceny_under_50"), ("Arson", "arson"),
    ("Structural Property", "arson_structural"), ("Mobile Property", "arson_mobile"), ("Other Property", "arson_other"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, dict[str, AdapterResult]]]:
    """One warehouse with Crimes and Clearances, the agency directory and personnel loaded once."""
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    wh = Warehouse.open(str(tmp_path_factory.mktemp("oj") / "warehouse.duckdb"))
    results = {
        "crimes": load_crimes_clearances(wh, OPENJUSTICE),
        "agencies": load_agencies(wh, OPENJUSTICE),
        "personnel": load_personnel(wh, OPENJUSTICE),
    }
    yield wh, results
    wh.close()


def _quarantine(wh: Warehouse, source: str) -> list[tuple[int, str]]:
    return [(int(r), str(why)) for r, why in
            wh.execute(f"SELECT source_row, reasons FROM ingest_quarantine WHERE source = '{source}' ORDER BY 1")]


# --- Crimes and Clearances ----------------------------------------------------------------------------


def test_every_count_cell_is_one_row_and_nothing_is_quarantined(loaded) -> None:
    wh, results = loaded
    (batch,) = results["crimes"].batches
    codes = len(load_standard().codelist("crime_clearance_offense").codes)
    assert batch.status == "loaded" and batch.file == str(OPENJUSTICE / CRIMES_FILE)
    # 57 codes per record (68 count columns: 57 offense columns, 11 of them with a clearance column).
    assert batch.rows_read == CC_ROWS * codes == batch.rows_loaded + batch.rows_quarantined
    assert batch.rows_quarantined == 0 and _quarantine(wh, batch.source) == []
    rows = wh.execute("SELECT min(_source_row), max(_source_row), count(DISTINCT _source_row) FROM crime_clearance")
    assert rows == [(2, CC_ROWS + 1, CC_ROWS)]  # lineage points at the original file's rows
    log = wh.execute(f"SELECT file_path, rows_read, rows_loaded FROM ingest_batches WHERE batch_id = {batch.batch_id}")
    assert log == [(str(OPENJUSTICE / CRIMES_FILE), batch.rows_read, batch.rows_loaded)]


def test_empty_cells_stay_empty_and_negative_counts_are_kept(loaded) -> None:
    """SOURCES.md: arson empty on 589 rows, the old value bands on 1,444, the new one on 26,409."""
    wh, _ = loaded
    empty = dict(wh.execute("SELECT offense, count(*) FILTER (WHERE offenses IS NULL) FROM crime_clearance GROUP BY 1"))
    assert empty["arson"] == empty["arson_structural"] == 589
    assert empty["larceny_over_400"] == empty["larceny_200_to_400"] == 1_444
    assert empty["larceny_200_and_over"] == 26_409
    assert sum(empty.values()) == 589 * 4 + 1_444 * 2 + 26_409  # nothing else is empty
    cleared = dict(wh.execute("SELECT offense, count(clearances) FROM crime_clearance GROUP BY 1"))
    assert cleared["violent"] == CC_ROWS and cleared["arson"] == CC_ROWS - 589 and cleared["robbery_bank"] == 0
    # DOJ's counts are net of unfounded reports: 158 cells are negative, and DOJ's totals include them.
    assert wh.scalar("SELECT count(*) FROM crime_clearance WHERE offenses < 0") == 158


def test_statewide_sums_equal_dojs_statewide_export_for_every_year(loaded) -> None:
    wh, _ = loaded
    with (OPENJUSTICE / EXPORT).open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert header == [label for label, _ in EXPORT_COLUMNS]
    sql = "SELECT year, offense, sum(offenses) FROM crime_clearance GROUP BY 1, 2"
    sums = {(y, o): s for y, o, s in wh.execute(sql)}
    compared = 0
    for row in rows:
        year = int(row[0])
        for value, (label, code) in zip(row, EXPORT_COLUMNS, strict=True):
            if code is None:
                assert value == "" or label == "Year"
                continue
            text = value.replace(",", "")
            expected = None if text in ("", "null") else int(text)
            assert sums[(year, code)] == expected, (year, label, code)
            compared += 1
    assert sorted(int(r[0]) for r in rows) == list(range(1985, 2022))
    assert compared == 37 * 56  # every offense the export shares with the file, every year 1985-2021


def test_loading_again_changes_nothing(loaded) -> None:
    wh, results = loaded
    before = wh.execute("SELECT count(*), sum(offenses), sum(clearances) FROM crime_clearance")
    batches = wh.count("ingest_batches")
    for load, name in ((load_crimes_clearances, "crimes"), (load_agencies, "agencies"), (load_personnel, "personnel")):
        again = load(wh, OPENJUSTICE)
        assert [b.status for b in again.batches] == ["skipped"] * len(results[name].batches)
        assert [b.batch_id for b in again.batches] == [b.batch_id for b in results[name].batches]
    assert wh.execute("SELECT count(*), sum(offenses), sum(clearances) FROM crime_clearance") == before
    assert wh.count("ingest_batches") == batches


def test_a_missing_file_is_a_clear_error(tmp_path: Path, warehouse: Warehouse) -> None:
    for load, name in ((load_crimes_clearances, CRIMES_FILE), (load_agencies, CRIMES_FILE),
                       (load_personnel, PERSONNEL_FILE)):
        with pytest.raises(SourceFileError, match=f"{tmp_path}: expected the OpenJustice file {name}"):
            load(warehouse, tmp_path)
    assert not warehouse.has_table("crime_clearance") or warehouse.count("crime_clearance") == 0


def test_a_column_no_code_names_is_refused(tmp_path: Path, warehouse: Warehouse) -> None:
    """A count column the code list does not know would be lost: the file is refused, naming it."""
    need(OPENJUSTICE.is_dir(), "OpenJustice files not found")
    with (OPENJUSTICE / CRIMES_FILE).open(encoding="utf-8", newline="") as fh:
        header, first = next(csv.reader(fh)), next(csv.reader(fh))
    with (tmp_path / CRIMES_FILE).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([[*header, "Carjacking_sum"], [*first, "3"]])
    with pytest.raises(SourceFileError, match="Carjacking_sum"):
        load_crimes_clearances(warehouse, tmp_path)
    assert not warehouse.has_table("crime_clearance") or warehouse.count("crime_clearance") == 0


def test_shipped_mappings_validate_against_the_published_schema() -> None:
    mappings = sorted(MAPPINGS.glob("*.yaml"))
    assert {p.stem for p in mappings} >= {"crime_clearance", "agency", "personnel", "custody_death_2005_2018",
                                          "custody_death_1980_2004", "custody_death_county_summary"}
    for path in mappings:
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), mapping_json_schema())


# --- the agency directory -----------------------------------------------------------------------------


def test_directory_holds_every_agency_each_once(loaded) -> None:
    wh, results = loaded
    crimes, dic, dic_old = results["agencies"].batches
    assert (crimes.rows_read, crimes.rows_loaded, crimes.rows_quarantined) == (873, 873, 0)
    assert (dic_old.rows_read, dic_old.rows_loaded, dic_old.rows_quarantined) == (39, 39, 0)
    # Three CDCR units of the 2019 release have no California county ("In-State", "Out-of-State"): the
    # directory needs one, so they wait in quarantine with the value DOJ wrote.
    assert (dic.rows_read, dic.rows_loaded, dic.rows_quarantined) == (62, 59, 3)
    reasons = _quarantine(wh, dic.source)
    assert len(reasons) == 3 and all('"rule":"codelist"' in r and "-State" in r for _, r in reasons)
    assert wh.scalar("SELECT count(*) - count(DISTINCT agency_code) FROM agency") == 0
    # Every agency of Crimes and Clearances is in the directory, under the name the file gives it.
    assert wh.scalar("SELECT count(*) FROM (SELECT DISTINCT agency_code FROM crime_clearance "
                     "EXCEPT SELECT agency_code FROM agency)") == 0


def test_a_crimes_agency_and_its_death_in_custody_number_are_one_entry(loaded) -> None:
    wh, _ = loaded
    entry = {r[0]: r[1:] for r in wh.execute(
        "SELECT agency_code, name, county, agency_type, doj_agency_number, aliases FROM agency")}
    assert entry["Lodi"] == ("Lodi Police Department", "san_joaquin", "police", "390200", None)
    lasd = entry["Los Angeles Co. Sheriff's Department"]
    assert lasd[:4] == ("Los Angeles County Sheriff's Department", "los_angeles", "sheriff", "190000")
    assert lasd[4] == "190003 | 190014 | Los Angeles County Sheiff's Department"
    assert entry["CA Highway Patrol - Alameda"][2:4] == ("highway_patrol", "019900")
    assert entry["Pleasanton"][3:] == ("011100", "Pleasanton Ploice Department")
    assert entry["CSU San Jose"][1:4] == ("santa_clara", "university", "431700")  # San Jose State University
    # Agencies only in the death-in-custody files are listed under their number.
    assert entry["27025C"] == ("Salinas Valley State Prison", "monterey", "state", "27025C", None)
    assert entry["19013G"][2] == "other"  # Los Angeles County Probation Department
    # Porterville Developmental Center moved from Kings to Tulare County in 2022: listed in the latest.
    assert entry["Porterville Developmental Center"][1] == "tulare"
    matched = wh.scalar("SELECT count(*) FROM agency WHERE _source = 'openjustice_agencies' "
                        "AND doj_agency_number IS NOT NULL")
    assert matched == 363


def test_names_that_cannot_be_matched_are_reported_not_dropped(loaded) -> None:
    wh, results = loaded
    unmatched = results["agencies"].unmatched
    # 101 agency numbers of the death-in-custody files match no Crimes and Clearances agency (60 state
    # units, 30 probation departments, 4 county corrections or transit agencies, 5 local police agencies and
    # 2 numbers DOJ names "Unknown due to data reported"), and 2 county names per release are no county.
    assert len(unmatched) == 105
    by_value = {(u.file, u.value): u for u in unmatched}
    gridley = by_value[("DIC_2005-2018_20190612_data.csv", "Gridley Biggs Police Department")]
    assert gridley.column == "agency_full_name" and gridley.row == 2043
    assert "no Crimes and Clearances agency of butte has the matching key gridleybiggs" in gridley.reason
    assert {u.value for u in unmatched if u.column == "county"} == {"In-State", "Out-of-State"}
    assert sum("DOJ gives no name" in u.reason for u in unmatched) == 2
    listed = {r[0] for r in wh.execute("SELECT agency_code FROM agency")}
    quarantined = {"99015C", "99025C", "99035C"}
    for u in unmatched:
        if u.column == "agency_full_name":
            number = u.reason.rsplit(" ", 1)[-1]
            assert number in listed or number in quarantined, u


@pytest.mark.parametrize(
    ("name", "reporting", "expected"),
    [
        ("Alameda Co. Sheriff's Department", None, "sheriff"),
        ("CA Highway Patrol - Kern", None, "highway_patrol"),
        ("UC Berkeley", None, "university"),
        ("Cal Poly - Pomona", None, "university"),
        ("Pasadena Community College", None, "university"),
        ("Clovis Unified School", None, "school"),
        ("Alameda BART", None, "transit"),
        ("Metropolitan Trans. Authority (MTA)", None, "transit"),
        ("Alameda E. Bay Reg. Park Dist.", None, "park"),
        ("Hungry Valley DPR", None, "state"),
        ("Atascadero State Hospital", None, "state"),
        ("Union Pacific RR - Kern", None, "other"),
        ("Rohnert Park", None, "police"),
        ("Port Hueneme", None, "police"),
        ("California Substance Abuse Treatment Facility", "State", "state"),
        ("Napa County Probation Department", "Probation", "other"),
        ("Lodi Police Department", "Police", "police"),
    ],
)
def test_agency_type_is_inferred_from_the_name(name: str, reporting: str | None, expected: str) -> None:
    con = duckdb.connect()
    got = con.execute(f"SELECT {agency_type_sql('$1', '$2')}", [name, reporting]).fetchone()
    assert got == (expected,)


# --- personnel ----------------------------------------------------------------------------------------


def test_personnel_every_cell_is_one_row_with_the_county_as_agency(loaded) -> None:
    wh, results = loaded
    (batch,) = results["personnel"].batches
    categories = len(load_standard().codelist("personnel_category").codes)
    assert batch.rows_read == 870 * categories == batch.rows_loaded and batch.rows_quarantined == 0
    assert wh.scalar("SELECT count(*) FROM personnel WHERE agency_code <> 'county:' || county") == 0
    assert wh.scalar("SELECT count(*) FROM personnel WHERE count IS NULL") == 6_792  # blank cells stay empty
    assert wh.scalar("SELECT count(*) FROM personnel WHERE sex IS NOT NULL") == 0
    row = wh.execute("SELECT count FROM personnel WHERE agency_code = 'county:alameda' AND year = 2003 "
                     "AND category = 'sheriff_sworn'")
    assert row == [(936,)]  # SO_FUNDED_SWORN of Alameda County, 2003


def test_the_directory_names_the_death_in_custody_file_it_lacks(tmp_path: Path, warehouse: Warehouse) -> None:
    need(OPENJUSTICE.is_dir(), "OpenJustice files not found")
    shutil.copy(OPENJUSTICE / CRIMES_FILE, tmp_path / CRIMES_FILE)
    with pytest.raises(SourceFileError, match=r"expected the OpenJustice file DIC_2005-2018_20190612_data\.csv"):
        load_agencies(warehouse, tmp_path)
    assert not warehouse.has_table("agency") or warehouse.count("agency") == 0
