"""Population: every Department of Finance (and related) population file, in all their layouts, into the
standard ``population`` table, and the one denominator per area and year an indicator should use.

Files (found in the folder by name; see SOURCES.md there):

=============================================  ==========  ==============================================
file (name pattern)                            layout      vintage
=============================================  ==========  ==============================================
E-4 workbooks (``*E-4*.xlsx``)                 report      "E-4 <year released>" (from 'About the Data')
E-4 report CSVs (``*E-4*.csv``, ``*E4*.csv``)  report      "E-4 <year>" for an annual release, "E-4
                                                           <first>-<last>" for a decade's historical series
``dof_e4_county_population_*.csv``             long        "E-4 <year released>" per row (its releases
                                                           are the 2021 and 2024 workbooks' Table 1)
``csac_population_*.csv``                      long        "DOF via CSAC <last year>"
``*population*census*.csv``                    long        "Census Bureau <first>-<last>"
=============================================  ==========  ==============================================

**Vintages.** A vintage is one edition of the figures: DOF revises its estimates after each census, so
the same county and year can have several figures. Vintage names sort by recency - as strings too, which
``justicelab.indicators`` relies on: E-4 releases ("E-4 …") before the CSAC compilation of DOF figures
("DOF via …") before the Census Bureau series ("Census …").

**Batches and sources.** One batch per file, table and vintage, whose ingest source is the vintage
(``population_e4_2024``, ...). Where two files carry the same release (the long county file repeats
Table 1 of two workbooks; Table 2's County Total lines repeat Table 1), the second file is a re-delivery
of the same records: ingest finds them unchanged (or records what changed), so the table holds each
figure once. For that, ``source`` names the publication (as the standard says), the same in each file
of a release; the file itself is in the batch log and every row's lineage (``_batch_id``,
``_source_row``).

**Geography codes.** The state is ``california``; a county or a county's unincorporated balance has the
county code (``common.county_code``); a city has its name in lower snake case (accents dropped:
``St. Helena`` -> ``st_helena``), followed by ``__<county>`` if the name occurs in two counties of one
table (none does in these files). San Francisco is a consolidated city and county: the reports print it
as one city line under its heading, which gives both the city and the county figure.

**Nothing lost.** In a report layout every line is accounted for in the batch notes (title, blank,
heading, footnote, subtotal, data), every subtotal and total is checked against its parts (a
disagreement in DOF's own file is noted, and the printed figure loaded), and a name that cannot be
placed is returned as ``Unmatched`` while its row is loaded (a city without a county) or quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir

from justicelab.errors import JusticelabError, SourceFileError
from justicelab.ingest import Progress
from justicelab.ingest.sql import ident, literal
from justicelab.sources.openjustice.common import AdapterResult
from justicelab.sources.openjustice.population_layouts import (
    LONG_COLUMNS,
    Part,
    read_census_counties,
    read_csac,
    read_dof_long,
    read_report_csv,
    read_workbook,
)
from justicelab.sources.openjustice.staging import ingest_reshaped, shipped_mapping
from justicelab.warehouse import Warehouse

# (kind, pattern on the lower-case file name, reader), in load order: the DOF workbooks first, so that the
# figures the long county file repeats keep the workbook as their lineage.
_E4 = r"(^|[^a-z0-9])e-?4([^0-9]|$)"
FILE_KINDS: tuple[tuple[str, str], ...] = (
    ("workbook", _E4 + r".*\.xlsx$"),
    ("long", r"^dof_e4_county_population.*\.csv$"),
    ("report", _E4 + r".*\.csv$"),
    ("csac", r"^csac_population.*\.csv$"),
    ("census", r"population.*census.*\.csv$"),
)
_ORDER = {"workbook": 0, "report": 1, "long": 2, "csac": 3, "census": 4}


def population_files(folder: Path) -> list[tuple[str, Path]]:
    """The population files in ``folder`` with their kind, in load order."""
    found: list[tuple[str, Path]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        name = path.name.lower()
        for kind, pattern in FILE_KINDS:
            if re.search(pattern, name):
                found.append((kind, path))
                break
    return sorted(found, key=lambda kp: (_ORDER[kp[0]], kp[1].name))


def read_population_file(con: duckdb.DuckDBPyConnection, kind: str, path: Path, table: str) -> list[Part]:
    """Read one file into long tables (one per table of the file)."""
    if kind == "workbook":
        return read_workbook(con, path, table)
    readers: dict[str, Callable[[duckdb.DuckDBPyConnection, Path, str], Part]] = {
        "report": read_report_csv, "long": read_dof_long, "csac": read_csac, "census": read_census_counties,
    }
    return [readers[kind](con, path, table)]


def source_name(vintage: str) -> str:
    """The ingest source of a vintage: 'E-4 2024' -> 'population_e4_2024'."""
    return "population_" + re.sub(r"[^a-z0-9]+", "_", vintage.lower().replace("e-4", "e4")).strip("_")


def load_population(warehouse: Warehouse, folder: Path, *, progress: Progress | None = None) -> AdapterResult:
    """Load every population file in ``folder`` into ``population``; report names that could not be placed.

    All files are read and checked before anything is loaded, so a damaged file stops the load with
    nothing written. Each batch's notes say how the file's lines were read (titles, headings, footnotes,
    subtotals, figures) and any subtotal that does not add up.
    """
    report = progress or (lambda stage, done, total: None)
    files = population_files(folder)
    if not files:
        raise SourceFileError(
            f"{folder}: no population file (expected E-4 workbooks or reports, dof_e4_county_population_*.csv, "
            "csac_population_*.csv or a Census Bureau county population CSV)"
        )
    result = AdapterResult()
    con = duckdb.connect()
    try:
        parts: list[Part] = []
        for i, (kind, path) in enumerate(files):
            report(f"reading {path.name}", i, len(files))
            parts.extend(read_population_file(con, kind, path, f"pop{i}"))
        batches = [(part, vintage) for part in parts for (vintage,) in con.execute(
            f"SELECT DISTINCT vintage FROM {ident(part.table)} ORDER BY vintage").fetchall()]
        columns = ", ".join(ident(c) for c in LONG_COLUMNS)
        for j, (part, vintage) in enumerate(batches):
            report(f"loading {part.label} ({vintage})", j, len(batches))
            mapping = shipped_mapping(part.layout).model_copy(update={"source_name": source_name(vintage)})
            rows = f"SELECT {columns} FROM {ident(part.table)} WHERE vintage = {literal(vintage)}"
            batch = ingest_reshaped(warehouse, con, rows, mapping, part.file)
            batch.notes.extend(part.notes)
            result.batches.append(batch)
        report("done", len(batches), len(batches))
        for part in parts:
            result.unmatched.extend(part.unmatched)
    finally:
        con.close()
    return result


# --- vintages and the preferred denominator -------------------------------------------------------------


def vintage_sort_key(vintage: str) -> tuple[int, int, int, str]:
    """Recency of a vintage (larger = newer), for ordering and for choosing a denominator.

    E-4 releases come first, newest first: "E-4 2024" was released in 2024; a decade's historical
    series ("E-4 2011-2020") came out after its closing census, so after the annual release of its last
    year. Then the CSAC compilation of DOF figures ("DOF via CSAC 2018"), then other series (the Census
    Bureau's), each by the last year they cover.
    """
    m = re.fullmatch(r"E-4 (\d{4})(?:-(\d{4}))?", vintage)
    if m:
        return (3, int(m.group(2) or m.group(1)), 1 if m.group(2) else 0, vintage)
    years = [int(y) for y in re.findall(r"\d{4}", vintage)]
    return (2 if vintage.startswith("DOF") else 1, max(years, default=0), 0, vintage)


def population_vintages(warehouse: Warehouse) -> list[str]:
    """The vintages in the warehouse's ``population`` table, newest (most preferred) first."""
    if not warehouse.has_table("population"):
        return []
    t = warehouse.ibis.table("population")
    names = [v for v in t.select("vintage").distinct().to_pyarrow().column("vintage").to_pylist() if v is not None]
    return sorted(names, key=vintage_sort_key, reverse=True)


PREFERRED_COLUMNS = ("geography_type", "geography_code", "geography_name", "county", "year", "reference_date",
                     "estimate_type", "population", "vintage", "source")


def preferred_population(warehouse: Warehouse) -> ir.Table:
    """One population figure per area and year (all ages, both sexes, all races): the denominator of rates.

    The rule, in order:
    1. an estimate beats a census count - a rate for a year uses the population estimated for that year
       (E-4: January 1, as DOJ's rates do); an April 1 census count stands in only where no series has an
       estimate for the year (e.g. cities in 1990);
    2. then the newest vintage (``vintage_sort_key``): a later E-4 release has been re-benchmarked to the
       newer census, and DOF's figures are preferred to the Census Bureau's;
    3. then the later date, and the record id, so the choice is deterministic.
    The ``vintage`` column names the edition used. Built with Ibis: it runs on DuckDB and PostgreSQL.
    """
    if not warehouse.has_table("population"):
        raise JusticelabError("the warehouse has no population table yet: load the population files first "
                              "(justicelab openjustice load FOLDER)")
    t = warehouse.ibis.table("population")
    t = t.filter(t.age_group.isnull(), t.sex.isnull(), t.race_ethnicity.isnull())
    order = population_vintages(warehouse)
    rank: ir.IntegerValue = (
        ibis.cases(*[(t.vintage == v, i) for i, v in enumerate(order)], else_=len(order))
        if order else ibis.literal(0)
    )
    pick = ibis.row_number().over(
        group_by=[t.geography_type, t.geography_code, t.year],
        order_by=[ibis.cases((t.estimate_type == "estimate", 0), else_=1), rank, ibis.desc(t.reference_date),
                  t._record_id],
    )
    return t.mutate(_pick=pick).filter(lambda x: x._pick == 0).select(*PREFERRED_COLUMNS)


__all__ = [
    "load_population",
    "population_files",
    "population_vintages",
    "preferred_population",
    "source_name",
    "vintage_sort_key",
]
