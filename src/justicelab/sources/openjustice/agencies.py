"""The agency directory (``agency``), built from the agencies DOJ's files name.

**Sources.** Every agency of the Crimes and Clearances file, under the name its ``NCICCode`` column gives
(the standard's agency code), and every agency number of the two death-in-custody releases (2005-2018
and 1980-2015) with its full name, county and reporting-agency type.

**One agency, one entry.** A death-in-custody agency number is the same agency as a Crimes and Clearances
agency when both have the same *matching key* in the same county and no other Crimes and Clearances
agency of that county has that key. The key of a name is:

* ``sheriff`` for any sheriff's department or office (one per county);
* ``chp`` for the Highway Patrol (DOJ lists one area office per county);
* ``bart`` for the Bay Area Rapid Transit police (Crimes and Clearances has one per county it serves);
* otherwise the lower-case name with "University of California, X" read as "UC X" and "X State
  University" as "CSU X", then without a trailing "Police Department", "Department of Public Safety",
  "Public Safety", "Police Authority", "District Police", "Police", "Department" or "District", and
  without anything but letters and digits ("Lodi Police Department" -> ``lodi`` = "Lodi").

A number's name is the one it carries most often (the 2019 release's spelling on a tie), ignoring DOJ's
"Unknown due to data reported"; its county the one it is reported in most often. Several numbers may match
one agency (the sheriff of Los Angeles has three): the one with the most deaths becomes the directory's
``doj_agency_number``, the others go to ``aliases`` with the other spellings. A Crimes and Clearances
agency that moved county (a few state park districts) is matched in any county it reported from and is
listed in the county of its latest year.

**Nothing dropped.** A number that matches no Crimes and Clearances agency (prisons, probation
departments, agencies with no crime reports, misspelled or ambiguous names) gets its own entry under its
number and is returned as :class:`~justicelab.sources.openjustice.common.Unmatched`, with the row where it
first appears and why it did not match.

**Agency type**, from the name (first rule that applies, on the lower-case name):
sheriff/sheiff -> ``sheriff``; "highway patrol" -> ``highway_patrol``; probation, county department of
corrections, housing authority, utility district, railroads (RR, Union Pacific, Santa Fe Railroad),
marshal, task forces (LA Impact) -> ``other``; UC, CSU, Cal Poly, university, college -> ``university``;
school -> ``school``; BART, transit, transportation authority, harbor, airport -> ``transit``; regional
park district -> ``park``; state parks (DPR), state police, state hospitals, developmental centers,
prisons and other state corrections, youth authority, parole, fish and game, state fair -> ``state``;
otherwise from DOJ's reporting-agency type where the name comes from a death-in-custody file (State ->
``state``, Sheriff -> ``sheriff``, Probation and Other Local -> ``other``), else ``police`` (a city name:
its police department, or the sheriff's contract service that polices it).

The directory loads as three batches, each pointing at the file where its agencies first appear: the
Crimes and Clearances agencies, then the numbers first seen in the 2019 release, then those only in the
2016 release. Every batch also depends on the other files (the matches), so their SHA-256 is part of
the batch's mapping identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from justicelab.ingest import Progress
from justicelab.ingest.sql import ident, literal
from justicelab.sources.openjustice.common import AdapterResult, Unmatched, county_code_sql, require
from justicelab.sources.openjustice.staging import ROW, ingest_reshaped, read_csv, resolve_columns, shipped_mapping
from justicelab.warehouse import Warehouse

CRIMES_FILE = "Crimes_and_Clearances_with_Arson-1985-2022.csv"
DIC_FILE = "DIC_2005-2018_20190612_data.csv"
DIC_OLD_FILE = "ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv"
UNKNOWN_NAME = "Unknown due to data reported"

# (pattern on the lower-case name, agency type): the first that matches wins. See the module docstring.
TYPE_RULES: list[tuple[str, str]] = [
    (r"sheriff|sheiff", "sheriff"),
    (r"highway patrol", "highway_patrol"),
    (r"probation|department of corrections|housing authority|util\. dist|utility dist|railroad|(^| )(sp |up )?rr( |$)"
     r"|union pacific|marshal|la impact", "other"),
    (r"(^| )(uc|csu)( |$)|cal poly|universit|college", "university"),
    (r"school", "school"),
    (r"(^| )bart( |$)|transit|trans\. authority|transportation authority|harbor|airport", "transit"),
    (r"reg\. park|regional park|park dist", "park"),
    (r"(^| )dpr$|state police|state hospital|developmental center|state fair|fish and game|prison|correctional"
     r"|youth authority|cdcr|parole|rehabilitation center|conservation center|institution|medical facility"
     r"|(^| )state$", "state"),
]
REPORTING_TYPE = {"state": "state", "sheriff": "sheriff", "probation": "other", "other local": "other"}


def _norm(expr: str) -> str:
    """Lower case, straight apostrophes, single spaces."""
    return f"regexp_replace(lower(trim(replace({expr}, '’', ''''))), '\\s+', ' ', 'g')"


def agency_type_sql(name: str, reporting_agency: str = "NULL") -> str:
    """SQL for the agency type of a name (and DOJ's reporting-agency type, where known)."""
    n = _norm(name)
    whens = " ".join(f"WHEN regexp_matches({n}, {literal(p)}) THEN {literal(t)}" for p, t in TYPE_RULES)
    fallback = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in REPORTING_TYPE.items())
    return f"(CASE {whens} ELSE coalesce(CASE lower(trim({reporting_agency})) {fallback} END, 'police') END)"


def agency_key_sql(name: str) -> str:
    """SQL for the matching key of an agency name (see the module docstring)."""
    n = _norm(name)
    expanded = (
        f"regexp_replace(regexp_replace({n}, '^university of california,? ', 'uc '), "
        "'^(.+) state university', 'csu \\1')"
    )
    stripped = (
        f"regexp_replace({expanded}, '(( police)? department( of public safety)?| public safety| police authority"
        "| district police| police| district)+$', '')"
    )
    return (
        f"(CASE WHEN {name} IS NULL THEN NULL "
        f"WHEN regexp_matches({n}, 'sheriff|sheiff') THEN 'sheriff' "
        f"WHEN regexp_matches({n}, 'highway patrol') THEN 'chp' "
        f"WHEN regexp_matches({n}, '(^| )bart( |$)') THEN 'bart' "
        f"ELSE regexp_replace({stripped}, '[^a-z0-9]', '', 'g') END)"
    )


@dataclass
class Directory:
    """The directory as built in a DuckDB connection (tables ``oj_directory`` and ``oj_agency_code``)."""

    crimes: Path
    dic: Path
    dic_old: Path
    unmatched: list[Unmatched] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [self.crimes, self.dic, self.dic_old]


def dic_number_sql(county: str, city: str, agency: str) -> str:
    """The 1980-2015 release splits the agency number in three columns and drops leading zeros."""
    return " || ".join(f"lpad(upper(trim({c})), 2, '0')" for c in (county, city, agency))


def build_directory(con: duckdb.DuckDBPyConnection, folder: Path) -> Directory:
    """Read the three files into ``con`` and build the directory there.

    Leaves tables for the custody adapter: ``oj_cc`` (Crimes and Clearances), ``oj_dic`` and
    ``oj_dic_old`` (the two releases, text plus ``source_row``), ``oj_agency_code`` (DOJ agency number ->
    directory agency code) and ``oj_directory`` (one row per directory entry, with the file and row it
    comes from).
    """
    d = Directory(require(folder, CRIMES_FILE), require(folder, DIC_FILE), require(folder, DIC_OLD_FILE))
    cc_cols = resolve_columns(d.crimes, read_csv(con, d.crimes, "oj_cc"), ["Year", "County", "NCICCode"])
    new_cols = resolve_columns(
        d.dic, read_csv(con, d.dic, "oj_dic"),
        ["agency_number", "agency_full_name", "county", "reporting_agency", "date_of_death_yyyy"],
    )
    old_cols = resolve_columns(
        d.dic_old, read_csv(con, d.dic_old, "oj_dic_old"),
        ["ncic_number_county", "ncic_number_city", "ncic_number_agency", "agency_full_name", "county",
         "reporting_agency"],
    )
    cc = {k: ident(v) for k, v in cc_cols.items()}
    new = {k: ident(v) for k, v in new_cols.items()}
    old = {k: ident(v) for k, v in old_cols.items()}

    # Crimes and Clearances agencies: every county each reported from, listed in the latest one.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_cc_seen AS
        SELECT {cc['NCICCode']} AS agency_code, {cc['County']} AS county_name,
               {county_code_sql(cc['County'])} AS county, TRY_CAST({cc['Year']} AS INTEGER) AS year, {ROW}
        FROM oj_cc
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_cc_agency AS
        SELECT agency_code, arg_max(coalesce(county, county_name), year) AS county, min({ROW}) AS first_row,
               {agency_key_sql('agency_code')} AS key
        FROM oj_cc_seen GROUP BY agency_code
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE oj_cc_key AS
        SELECT county, key, count(DISTINCT agency_code) AS n, min(agency_code) AS agency_code,
               string_agg(DISTINCT agency_code, ', ' ORDER BY agency_code) AS names
        FROM (SELECT DISTINCT s.agency_code, s.county, a.key FROM oj_cc_seen s JOIN oj_cc_agency a USING (agency_code)
              WHERE s.county IS NOT NULL)
        GROUP BY county, key
    """)

    # Death-in-custody agency numbers, from both releases.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_dic_obs AS
        SELECT 1 AS release, {ROW}, upper(trim({new['agency_number']})) AS number,
               nullif(trim(replace({new['agency_full_name']}, '’', '''')), '') AS name,
               {county_code_sql(new['county'])} AS county, {new['county']} AS county_name,
               trim({new['reporting_agency']}) AS reporting_agency
        FROM oj_dic
        UNION ALL
        SELECT 2, {ROW}, {dic_number_sql(old['ncic_number_county'], old['ncic_number_city'],
                                         old['ncic_number_agency'])},
               nullif(trim(replace({old['agency_full_name']}, '’', '''')), ''),
               {county_code_sql(old['county'])}, {old['county']}, trim({old['reporting_agency']})
        FROM oj_dic_old
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_dic_number AS
        WITH names AS (
            SELECT number, name, count(*) AS n, min(release) AS release FROM oj_dic_obs
            WHERE name IS NOT NULL AND name <> {literal(UNKNOWN_NAME)} GROUP BY number, name),
        counties AS (
            SELECT number, coalesce(county, county_name) AS county, count(*) AS n FROM oj_dic_obs GROUP BY ALL),
        types AS (SELECT number, reporting_agency, count(*) AS n FROM oj_dic_obs GROUP BY ALL)
        SELECT o.number,
               (SELECT first(name ORDER BY n DESC, release, name) FROM names x WHERE x.number = o.number) AS name,
               (SELECT first(county ORDER BY n DESC, county) FROM counties x WHERE x.number = o.number) AS county,
               (SELECT first(reporting_agency ORDER BY n DESC, reporting_agency) FROM types x
                WHERE x.number = o.number) AS reporting_agency,
               count(*) AS deaths,
               min({ROW}) FILTER (WHERE release = 1) AS first_row_new,
               min({ROW}) FILTER (WHERE release = 2) AS first_row_old,
               list(DISTINCT name ORDER BY name) FILTER (WHERE name IS NOT NULL AND name <> {literal(UNKNOWN_NAME)})
                   AS names
        FROM oj_dic_obs o WHERE number IS NOT NULL GROUP BY o.number
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_dic_match AS
        SELECT n.*, {agency_key_sql('n.name')} AS key, k.n AS candidates, k.names AS candidate_names,
               CASE WHEN n.name IS NULL THEN 'no_name' WHEN k.n = 1 THEN 'matched'
                    WHEN k.n > 1 THEN 'ambiguous' ELSE 'no_match' END AS status,
               CASE WHEN k.n = 1 THEN k.agency_code END AS agency_code
        FROM oj_dic_number n
        LEFT JOIN oj_cc_key k ON k.county = n.county AND k.key = {agency_key_sql('n.name')}
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE oj_agency_code AS
        SELECT number, coalesce(agency_code, number) AS agency_code FROM oj_dic_match
    """)
    # The number with the most deaths is an agency's DOJ number; the others, and other spellings, aliases.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_cc_enriched AS
        WITH m AS (SELECT * FROM oj_dic_match WHERE status = 'matched'),
        primary_number AS (
            SELECT agency_code, first(number ORDER BY deaths DESC, number) AS number FROM m GROUP BY agency_code),
        aliases AS (
            SELECT agency_code, list_sort(list_distinct(flatten(list(names)) || list(number))) AS aliases
            FROM m GROUP BY agency_code)
        SELECT a.agency_code, a.county, a.first_row, coalesce(d.name, a.agency_code) AS name, pn.number AS doj_number,
               nullif(array_to_string(list_filter(al.aliases, x -> x <> d.name AND x <> pn.number), ' | '), '')
                   AS aliases,
               {agency_type_sql('a.agency_code')} AS agency_type
        FROM oj_cc_agency a
        LEFT JOIN primary_number pn USING (agency_code)
        LEFT JOIN oj_dic_number d ON d.number = pn.number
        LEFT JOIN aliases al USING (agency_code)
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE oj_directory AS
        SELECT 'crimes' AS origin, first_row AS {ROW}, agency_code, name, county, agency_type,
               doj_number AS doj_agency_number, aliases
        FROM oj_cc_enriched
        UNION ALL
        SELECT CASE WHEN first_row_new IS NOT NULL THEN 'dic' ELSE 'dic_old' END,
               coalesce(first_row_new, first_row_old), number, coalesce(name, {literal(UNKNOWN_NAME)}), county,
               {agency_type_sql('coalesce(name, reporting_agency)', 'reporting_agency')}, number,
               nullif(array_to_string(list_filter(names, x -> x <> name), ' | '), '')
        FROM oj_dic_match WHERE status <> 'matched'
    """)
    d.unmatched = _unmatched(con, d)
    return d


def _unmatched(con: duckdb.DuckDBPyConnection, d: Directory) -> list[Unmatched]:
    """Every name that could not be matched, with the first row where it appears (a short list)."""
    rows = con.execute(f"""
        SELECT CASE WHEN first_row_new IS NOT NULL THEN {literal(d.dic.name)} ELSE {literal(d.dic_old.name)} END,
               coalesce(first_row_new, first_row_old), 'agency_full_name', coalesce(name, {literal(UNKNOWN_NAME)}),
               CASE status
                 WHEN 'no_name' THEN 'DOJ gives no name for this agency ("' || {literal(UNKNOWN_NAME)}
                      || '" only); listed in the agency directory under DOJ agency number ' || number
                 WHEN 'ambiguous' THEN candidates || ' Crimes and Clearances agencies of ' || county
                      || ' have the same matching key ' || key || ' (' || candidate_names
                      || '); listed in the agency directory under DOJ agency number ' || number
                 ELSE 'no Crimes and Clearances agency of ' || county || ' has the matching key ' || key
                      || '; listed in the agency directory under DOJ agency number ' || number
               END
        FROM oj_dic_match WHERE status <> 'matched'
        UNION ALL
        SELECT {literal(d.crimes.name)}, min({ROW}), 'County', county_name, 'not a California county'
        FROM oj_cc_seen WHERE county IS NULL GROUP BY county_name
        UNION ALL
        SELECT CASE release WHEN 1 THEN {literal(d.dic.name)} ELSE {literal(d.dic_old.name)} END, min({ROW}),
               'county', county_name, 'not a California county'
        FROM oj_dic_obs WHERE county IS NULL GROUP BY release, county_name
        ORDER BY 1, 2
    """).fetchall()
    return [Unmatched(str(f), int(r), str(c), str(v), str(why)) for f, r, c, v, why in rows]


def load_agencies(warehouse: Warehouse, folder: Path, *, progress: Progress | None = None) -> AdapterResult:
    """Build the agency directory from the Crimes and Clearances and death-in-custody files in ``folder``
    and load it into ``agency`` (three batches, one per file where agencies first appear)."""
    con = duckdb.connect()
    result = AdapterResult()
    try:
        d = build_directory(con, folder)
        for origin, path, source in (
            ("crimes", d.crimes, "openjustice_agencies"),
            ("dic", d.dic, "openjustice_agencies_dic_2005_2018"),
            ("dic_old", d.dic_old, "openjustice_agencies_dic_1980_2015"),
        ):
            others = [p for p in d.files if p != path]
            mapping = shipped_mapping("agency", derived_from=others, source=source)
            sql = f"SELECT * EXCLUDE (origin) FROM oj_directory WHERE origin = {literal(origin)}"
            if con.execute(f"SELECT count(*) FROM ({sql})").fetchone() != (0,):
                result.batches.append(ingest_reshaped(warehouse, con, sql, mapping, path, progress))
        result.unmatched.extend(d.unmatched)
    finally:
        con.close()
    return result
