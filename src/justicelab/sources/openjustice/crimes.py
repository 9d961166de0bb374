"""Crimes and Clearances (including Arson): DOJ's agency x year file, loaded as one row per agency, year
and offense code into ``crime_clearance``.

The file has one count column per offense (and per clearance); the ``crime_clearance_offense`` code list
names, for each code, the column of offenses (``offense_column``) and of clearances (``clearance_column``).
That list is the only place the correspondence is written: the reshaping query is generated from it, and
a file column no code names is refused rather than silently left out. Empty cells stay empty (NULL).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from justicelab.errors import SourceFileError
from justicelab.ingest import Progress
from justicelab.ingest.sql import ident, literal
from justicelab.sources.openjustice.common import AdapterResult, county_code_sql, require
from justicelab.sources.openjustice.staging import (
    ROW,
    already_loaded,
    ingest_reshaped,
    read_csv,
    resolve_columns,
    shipped_mapping,
)
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse

CRIMES_FILE = "Crimes_and_Clearances_with_Arson-1985-2022.csv"
KEY_COLUMNS = ("Year", "County", "NCICCode")


def read_crimes(con: duckdb.DuckDBPyConnection, folder: Path, table: str = "oj_cc") -> tuple[Path, str]:
    """Read the Crimes and Clearances file into ``table`` (text columns plus ``source_row``) and return
    the file and the SQL of its long form: source_row, NCICCode, County, county_code, Year, offense,
    offenses, clearances."""
    path = require(folder, CRIMES_FILE)
    present = read_csv(con, path, table)
    codes = load_standard().codelist("crime_clearance_offense").codes
    counted = {c.attributes["offense_column"] for c in codes} | {
        c.attributes["clearance_column"] for c in codes if "clearance_column" in c.attributes
    }
    cols = resolve_columns(path, present, [*KEY_COLUMNS, *sorted(counted)])
    unknown = sorted(set(present) - set(cols.values()))
    if unknown:
        raise SourceFileError(
            f"{path}: row 1 (the header) has column(s) no code of the crime_clearance_offense code list "
            f"names: {', '.join(unknown)}. Add a code for each (offense_column or clearance_column) so "
            "that nothing in the file is left out."
        )

    def cell(column: str | None) -> str:
        return f"nullif(trim({ident(cols[column])}), '')" if column else "CAST(NULL AS VARCHAR)"

    items = ", ".join(
        "{"
        f"'offense': {literal(c.code)}, "
        f"'offenses': {cell(c.attributes['offense_column'])}, "
        f"'clearances': {cell(c.attributes.get('clearance_column'))}"
        "}"
        for c in codes
    )
    y, county, agency = (ident(cols[k]) for k in KEY_COLUMNS)
    # County codes once per record (28 thousand), not once per long row (1.6 million).
    keyed = ident(table + "_keyed")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {keyed} AS SELECT *, "
        f"coalesce({county_code_sql(county)}, {county}) AS county_code FROM {ident(table)}"
    )
    long_sql = f"""
        SELECT {ROW}, NCICCode, County, county_code, Year, u.offense AS offense, u.offenses AS offenses,
               u.clearances AS clearances
        FROM (SELECT {ROW}, {agency} AS NCICCode, {county} AS County, county_code, {y} AS Year,
                     unnest([{items}]) AS u
              FROM {keyed})
    """
    return path, long_sql


def load_crimes_clearances(warehouse: Warehouse, folder: Path, *, progress: Progress | None = None) -> AdapterResult:
    """Load ``Crimes_and_Clearances_with_Arson-1985-2022.csv`` from ``folder`` into ``crime_clearance``."""
    mapping = shipped_mapping("crime_clearance")
    if (done := already_loaded(warehouse, mapping, require(folder, CRIMES_FILE))) is not None:
        return AdapterResult(batches=[done])
    con = duckdb.connect()
    try:
        path, long_sql = read_crimes(con, folder)
        batch = ingest_reshaped(warehouse, con, long_sql, mapping, path, progress)
    finally:
        con.close()
    return AdapterResult(batches=[batch])
