"""Law Enforcement and Criminal Justice Personnel: DOJ's county x year file, loaded as one row per county,
year and staff category into ``personnel``.

The file has one count column per category; the ``personnel_category`` code list names each category's
column (``doj_column``), and the reshaping query is generated from it. DOJ gives no agency, so the rows
carry the agency code ``county:<county code>`` (e.g. ``county:alameda``), which stands for every agency
of the county and is deliberately not an entry of the agency directory. Blank cells stay empty.
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

PERSONNEL_FILE = "LE_and_CJ_Personnel_2003-2017.csv"
COUNTY_AGENCY_PREFIX = "county:"


def load_personnel(warehouse: Warehouse, folder: Path, *, progress: Progress | None = None) -> AdapterResult:
    """Load ``LE_and_CJ_Personnel_2003-2017.csv`` from ``folder`` into ``personnel``."""
    path = require(folder, PERSONNEL_FILE)
    mapping = shipped_mapping("personnel")
    if (done := already_loaded(warehouse, mapping, path)) is not None:
        return AdapterResult(batches=[done])
    con = duckdb.connect()
    try:
        present = read_csv(con, path, "oj_personnel")
        codes = load_standard().codelist("personnel_category").codes
        cols = resolve_columns(path, present, ["YEAR", "COUNTY", *(c.attributes["doj_column"] for c in codes)])
        unknown = sorted(set(present) - set(cols.values()))
        if unknown:
            raise SourceFileError(
                f"{path}: row 1 (the header) has column(s) no code of the personnel_category code list names: "
                f"{', '.join(unknown)}. Add a code for each (doj_column) so that nothing is left out."
            )
        county = ident(cols["COUNTY"])
        con.execute(
            f"CREATE TEMP TABLE oj_personnel_keyed AS SELECT *, "
            f"coalesce({county_code_sql(county)}, {county}) AS county_code FROM oj_personnel"
        )
        items = ", ".join(
            f"{{'category': {literal(c.code)}, 'staff': {ident(cols[c.attributes['doj_column']])}}}" for c in codes
        )
        long_sql = f"""
            SELECT {ROW}, {literal(COUNTY_AGENCY_PREFIX)} || county_code AS agency_code, county_code,
                   YEAR, u.category AS category, u.staff AS staff
            FROM (SELECT {ROW}, county_code, {ident(cols['YEAR'])} AS YEAR, unnest([{items}]) AS u
                  FROM oj_personnel_keyed)
        """
        batch = ingest_reshaped(warehouse, con, long_sql, mapping, path, progress)
    finally:
        con.close()
    return AdapterResult(batches=[batch])
