"""Deaths in custody and arrest-related deaths: DOJ's record-level releases into ``custody_death``, and
DOJ's 2016 county summary into ``custody_death_county_summary``.

**Two releases, no double counting.** The June 2019 release (``DIC_2005-2018_20190612_data.csv``, deaths
of 2005-2018) revises the May 2016 release (``ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv``,
1980-2015): for the years both cover its counts differ (2005: 646 against 641) and the older release has
no record key to match records by. So the 2019 release is loaded whole and the 2016 release supplies the
deaths before 2005 only; its 2005-2015 records are left to the newer release (the batch notes how many).
Arrest-related deaths are the custody stage ``process_of_arrest`` (DOJ's "Process of Arrest").

**Codes.** DOJ's words become the standard's codes through the code lists' ``doj_code`` attributes
(``doj_codes`` for race, the labels for sex), compared without regard to case; a value no code list knows is
passed on as it is, so ingest quarantines the record with DOJ's value. The custody offense is DOJ's
three-digit offense code (the 2016 release drops leading zeros, which are put back) and its category comes
from the release's codes file, for the year of death where the file gives a category by period.

**The 2016 release** has no record key (``death_id`` is ``R2016-`` and the row number) and gives the date of
birth instead of the age: the age at death is computed where the birth date is complete and valid (month
and day are 0 when unknown; a few dates do not exist, e.g. 31 February), and the date of birth itself is
not loaded, as DOJ's own later release does. Both releases name DOJ's non-county locations ``In-State`` and
``Out-of-State`` (state prisoners held out of state or on medical parole): they have no county.

**Agencies.** Each death's ``agency_code`` is its agency's entry in the agency directory (see
:mod:`justicelab.sources.openjustice.agencies`): the Crimes and Clearances name where DOJ's agency number
matched one, else the number; ``doj_agency_number`` keeps the number as DOJ reported it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from justicelab.errors import SourceFileError
from justicelab.ingest import BatchResult, Progress
from justicelab.ingest.sql import ident, literal
from justicelab.sources.openjustice.agencies import (
    CRIMES_FILE,
    DIC_FILE,
    DIC_OLD_FILE,
    Directory,
    build_directory,
    dic_number_sql,
)
from justicelab.sources.openjustice.common import AdapterResult, county_code_sql, require
from justicelab.sources.openjustice.staging import (
    ROW,
    already_loaded,
    code_pairs,
    code_sql,
    ingest_reshaped,
    label_pairs,
    read_csv,
    resolve_columns,
    shipped_mapping,
)
from justicelab.warehouse import Warehouse

CODES_FILE = "DIC_2005-2018_20190612_codes.csv"
SUMMARY_FILE = "ca_doj_county_deaths_in_custody_summary_2005-2014_02-17-2016.csv"
FIRST_YEAR_OF_NEW_RELEASE = 2005

NEW_COLUMNS = [
    "record_key_number", "reporting_agency", "agency_number", "agency_full_name", "county", "race", "gender",
    "age", "custody_status", "custody_offense", "date_of_death_yyyy", "date_of_death_mm", "date_of_death_dd",
    "custodial_responsibilty_at_time_of_death", "location_where_cause_of_death_occurred", "facility_of_death",
    "manner_of_death", "means_of_death",
]
OLD_COLUMNS = [
    "county", "reporting_agency", "agency_full_name", "ncic_number_county", "ncic_number_city",
    "ncic_number_agency", "date_of_birth_mm", "date_of_birth_dd", "date_of_birth_yyyy", "race", "gender",
    "custody_status", "custody_offense", "date_of_death_yyyy", "date_of_death_mm", "date_of_death_dd",
    "custodial_responsibility_at_time_of_death", "location_where_cause_of_death_occurred",
    "facility_death_occured", "manner_of_death", "means_of_death",
]


def _read_offense_categories(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """DOJ's codes file (no header: category, offense codes such as "100, 103, 110" or "800-804") as
    ``oj_offense_category``: one row per three-digit code and category, with the category's period."""
    read_csv(con, path, "oj_dic_codes", header=False, names=["category", "codes"])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_offense_parts AS
        SELECT trim(category) AS category, {ROW}, trim(unnest(string_split(codes, ','))) AS part
        FROM oj_dic_codes WHERE nullif(trim(category), '') IS NOT NULL
    """)
    bad = con.execute(
        "SELECT source_row, part FROM oj_offense_parts WHERE part <> '' AND NOT regexp_full_match(part, "
        "'[0-9]{1,3}( *- *[0-9]{1,3})?') ORDER BY 1 LIMIT 1"
    ).fetchone()
    if bad:
        raise SourceFileError(
            f"{path}: row {bad[0]}: {bad[1]!r} is not an offense code or a range of codes (e.g. 800-804)"
        )
    con.execute(r"""
        CREATE OR REPLACE TEMP TABLE oj_offense_category AS
        WITH ranges AS (
            SELECT category, source_row, CAST(trim(split_part(part, '-', 1)) AS INTEGER) AS lo,
                   CAST(trim(coalesce(nullif(split_part(part, '-', 2), ''), split_part(part, '-', 1))) AS INTEGER)
                       AS hi,
                   TRY_CAST(regexp_extract(category, '\((\d{4})-(\d{4}|current)\)', 1) AS INTEGER) AS from_year,
                   coalesce(TRY_CAST(regexp_extract(category, '\((\d{4})-(\d{4}|current)\)', 2) AS INTEGER), 9999)
                       AS to_year
            FROM oj_offense_parts WHERE part <> '')
        SELECT lpad(CAST(code AS VARCHAR), 3, '0') AS code, category, from_year, to_year, source_row
        FROM ranges, LATERAL (SELECT unnest(range(lo, hi + 1)) AS code)
    """)


def _offense_code_sql(expr: str) -> str:
    """DOJ's offense code with its leading zeros (the 2016 release writes 46 for 046)."""
    digits = f"regexp_full_match(trim({expr}), '[0-9]{{1,3}}')"
    return f"CASE WHEN {digits} THEN lpad(trim({expr}), 3, '0') ELSE trim({expr}) END"


def _category_sql(code: str, year: str) -> str:
    """The codes file's category for an offense code in a year (a dated category for its own period first,
    else the earliest period)."""
    return (
        f"(SELECT first(c.category ORDER BY coalesce(TRY_CAST({year} AS INTEGER) BETWEEN c.from_year AND c.to_year, "
        f"true) DESC, c.from_year NULLS FIRST, c.source_row) FROM oj_offense_category c WHERE c.code = {code})"
    )


def _translated(cols: dict[str, str], columns: dict[str, str]) -> str:
    """The code-list translations both releases share, as ``name_code`` columns beside DOJ's own."""
    c = {k: ident(v) for k, v in cols.items()}
    responsibility, facility = ident(cols[columns["responsibility"]]), ident(cols[columns["facility"]])
    means = f"replace({c['means_of_death']}, '--', ',')"  # the 2016 release writes "Hands--Feet--Fists"
    offense = _offense_code_sql(c["custody_offense"])
    return ", ".join([
        f"coalesce({county_code_sql(c['county'])}, trim({c['county']})) AS county_code",
        f"{code_sql(c['reporting_agency'], code_pairs('custody_reporting_agency'))} AS reporting_agency_code",
        f"{code_sql(c['gender'], label_pairs('sex'))} AS sex_code",
        f"{code_sql(c['race'], code_pairs('race_ethnicity', 'doj_codes'))} AS race_code",
        f"{code_sql(c['custody_status'], code_pairs('custody_stage'))} AS custody_stage_code",
        f"{code_sql(responsibility, code_pairs('custody_facility_type'))} AS facility_type_code",
        f"{code_sql(facility, code_pairs('custody_facility_type', also='doj_facility_code'))}"
        " AS facility_of_death_code",
        f"{code_sql(c['location_where_cause_of_death_occurred'], code_pairs('custody_death_location'))}"
        " AS cause_location_code",
        f"{code_sql(c['manner_of_death'], code_pairs('manner_of_death'))} AS manner_of_death_code",
        f"{code_sql(means, code_pairs('means_of_death'))} AS means_of_death_code",
        f"{offense} AS offense_code",
        f"{_category_sql(offense, c['date_of_death_yyyy'])} AS offense_category",
    ])


def _new_release_sql(con: duckdb.DuckDBPyConnection, d: Directory) -> str:
    cols = resolve_columns(d.dic, [c[0] for c in con.execute("SELECT * FROM oj_dic LIMIT 0").description], NEW_COLUMNS)
    translated = _translated(cols, {"responsibility": "custodial_responsibilty_at_time_of_death",
                                    "facility": "facility_of_death"})
    number = f"upper(trim({ident(cols['agency_number'])}))"
    return f"""
        SELECT r.*, {number} AS doj_number, a.agency_code, {translated}
        FROM oj_dic r LEFT JOIN oj_agency_code a ON a.number = {number}
    """


def _old_release_sql(con: duckdb.DuckDBPyConnection, d: Directory) -> str:
    cols = resolve_columns(d.dic_old, [c[0] for c in con.execute("SELECT * FROM oj_dic_old LIMIT 0").description],
                           OLD_COLUMNS)
    c = {k: ident(v) for k, v in cols.items()}
    translated = _translated(cols, {"responsibility": "custodial_responsibility_at_time_of_death",
                                    "facility": "facility_death_occured"})
    number = dic_number_sql(c["ncic_number_county"], c["ncic_number_city"], c["ncic_number_agency"])
    birth = (f"TRY_STRPTIME({c['date_of_birth_yyyy']} || '-' || {c['date_of_birth_mm']} || '-' || "
             f"{c['date_of_birth_dd']}, '%Y-%m-%d')")
    death = (f"TRY_STRPTIME({c['date_of_death_yyyy']} || '-' || {c['date_of_death_mm']} || '-' || "
             f"{c['date_of_death_dd']}, '%Y-%m-%d')")
    return f"""
        SELECT r.*, 'R2016-' || r.{ROW} AS death_id, {number} AS doj_number, a.agency_code,
               CAST(date_part('year', age({death}, {birth})) AS VARCHAR) AS age_at_death, {translated}
        FROM oj_dic_old r LEFT JOIN oj_agency_code a ON a.number = {number}
        WHERE coalesce(TRY_CAST({c['date_of_death_yyyy']} AS INTEGER) < {FIRST_YEAR_OF_NEW_RELEASE}, true)
    """


def load_custody_deaths(warehouse: Warehouse, folder: Path, *, progress: Progress | None = None) -> AdapterResult:
    """Load DOJ's deaths in custody into ``custody_death``: the 2019 release (2005-2018) whole, the 2016
    release (1980-2015) for the years before 2005. Reads the codes file and, for the agency codes, the
    Crimes and Clearances file."""
    inputs = [require(folder, name) for name in (CRIMES_FILE, DIC_FILE, DIC_OLD_FILE, CODES_FILE)]
    dic, dic_old = inputs[1], inputs[2]
    new_mapping = shipped_mapping("custody_death_2005_2018", derived_from=[p for p in inputs if p != dic])
    old_mapping = shipped_mapping("custody_death_1980_2004", derived_from=[p for p in inputs if p != dic_old])
    done = [already_loaded(warehouse, m, p) for m, p in ((new_mapping, dic), (old_mapping, dic_old))]
    if all(b is not None for b in done):
        return AdapterResult(batches=[b for b in done if b is not None])
    con = duckdb.connect()
    batches: list[BatchResult] = []
    try:
        d = build_directory(con, folder)
        _read_offense_categories(con, inputs[3])
        batches.append(ingest_reshaped(warehouse, con, _new_release_sql(con, d), new_mapping, dic, progress))
        old_sql = _old_release_sql(con, d)
        superseded = con.execute(
            f"SELECT (SELECT count(*) FROM oj_dic_old) - (SELECT count(*) FROM ({old_sql}))"
        ).fetchone()
        old = ingest_reshaped(warehouse, con, old_sql, old_mapping, dic_old, progress)
        old.notes.append(
            f"{superseded[0] if superseded else 0} records of {FIRST_YEAR_OF_NEW_RELEASE} and later left to the "
            f"2019 release ({dic.name})"
        )
        batches.append(old)
    finally:
        con.close()
    return AdapterResult(batches=batches)


def load_custody_summary(warehouse: Warehouse, folder: Path, *, progress: Progress | None = None) -> AdapterResult:
    """Load DOJ's 2016 county summary of deaths in custody (with DOJ's population and rates as published)
    into ``custody_death_county_summary``. DOJ's "All Combined" county and race rows become empty values."""
    path = require(folder, SUMMARY_FILE)
    mapping = shipped_mapping("custody_death_county_summary")
    if (done := already_loaded(warehouse, mapping, path)) is not None:
        return AdapterResult(batches=[done])
    con = duckdb.connect()
    try:
        present = read_csv(con, path, "oj_summary")
        cols = resolve_columns(path, present, ["county", "race_or_ethnicity"])
        county, race = ident(cols["county"]), ident(cols["race_or_ethnicity"])
        everything = literal("all combined")
        sql = f"""
            SELECT *,
                   CASE WHEN lower(trim({county})) = {everything} THEN NULL
                        ELSE coalesce({county_code_sql(county)}, trim({county})) END AS county_code,
                   CASE WHEN lower(trim({race})) = {everything} THEN NULL
                        ELSE {code_sql(race, code_pairs('doj_race_group'))} END AS race_group
            FROM oj_summary
        """
        batch = ingest_reshaped(warehouse, con, sql, mapping, path, progress)
    finally:
        con.close()
    return AdapterResult(batches=[batch])
