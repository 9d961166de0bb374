"""The population files' own layouts, each turned into one long DuckDB table (one row per area and date).

Every reader leaves a table with the columns of ``LONG_COLUMNS``: ``source_row`` is the row a person sees
when opening the original file (for a workbook, the sheet's row), and the other columns are the standard
``population`` fields as text, so that ingest checks and quarantines them with the value the file had.

Layouts:

* **report** - a DOF E-4 table as published: title lines, a header line (``COUNTY``, ``COUNTY/CITY`` or
  ``City``) whose other cells are dates (``4/1/90``, ``1/1/2024``: April 1 is a census count, January 1
  an estimate), then one line per area with one figure per date. The same reader serves the report CSVs
  and both tables of the workbooks (Table 1: counties and the state; Table 2: cities, counties, state).
* **long** - one row per county (or the state) and year: the E-4 county file in long form, CSAC's county
  series and the Census Bureau county series.

Everything that touches rows is DuckDB SQL; Python only reads a workbook's cells (python-calamine) and
the few title cells that name a release.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from justicelab.errors import SourceFileError
from justicelab.ingest.sql import ident, literal
from justicelab.sources.openjustice.common import Unmatched, county_code_sql
from justicelab.sources.openjustice.staging import ROW, read_csv, resolve_columns
from justicelab.standard import load_standard

LONG_COLUMNS = (
    ROW, "geography_type", "geography_code", "geography_name", "county", "year", "reference_date",
    "estimate_type", "age_group", "sex", "race_ethnicity", "population", "vintage", "source",
)
HEADER_LABELS = ("COUNTY", "COUNTY/CITY", "CITY")
# Lines that add up other lines of a report: derived, with no geography type of their own in the standard.
# They are not loaded; ``report_checks`` proves each equals the sum of the lines it adds up.
SUBTOTAL_LABELS = ("incorporated", "incorporated total", "balance of state total")
_PLACEHOLDER = re.compile(r"Column\d+")


@dataclass
class Part:
    """Rows read from one table of one file, ready to load (one batch per vintage it holds)."""

    file: Path
    label: str  # the file name, with the sheet for a workbook
    layout: str  # the shipped mapping that reads the long copy: population_long / _county_table / _city_table
    table: str  # DuckDB temp table with LONG_COLUMNS
    notes: list[str] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)


def _label_sql() -> str:
    """SQL map: county code -> the standard's label ('alameda' -> 'Alameda County')."""
    pairs = ", ".join(f"{literal(c.code)}: {literal(c.label)}" for c in load_standard().codelist("county").codes)
    return f"MAP {{{pairs}}}"


def county_label_sql(code_expr: str) -> str:
    return f"{_label_sql()}[{code_expr}]"


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def census_or_estimate_sql(date_expr: str) -> str:
    """E-4 tables date every figure: April 1 is a decennial census count, any other date an estimate."""
    return (f"CASE WHEN {date_expr} IS NULL THEN NULL "
            f"WHEN month({date_expr}) = 4 AND day({date_expr}) = 1 THEN 'census' ELSE 'estimate' END")


# --- report layouts (CSV reports and workbook tables) --------------------------------------------------


@dataclass
class Release:
    """What a file says about the release its figures come from."""

    vintage: str
    publication: str


def _date_sql(cell: str) -> str:
    """A header cell as a date: m/d/yy (two-digit years: 69-99 -> 19xx), m/d/yyyy, or ISO from a date cell."""
    return (
        f"CASE WHEN regexp_full_match({cell}, '\\d{{1,2}}/\\d{{1,2}}/\\d{{2}}') "
        f"THEN CAST(try_strptime({cell}, '%m/%d/%y') AS DATE) "
        f"WHEN regexp_full_match({cell}, '\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}') "
        f"THEN CAST(try_strptime({cell}, '%m/%d/%Y') AS DATE) "
        f"ELSE try_cast(left({cell}, 10) AS DATE) END"
    )


def release_from_columns(dates: list[dt.date]) -> str:
    """The vintage of a report that does not print its release date, named from its date columns.

    A series that closes with an April 1 census count is DOF's historical series for that decade,
    published after the census: named by the years it estimates ("E-4 2001-2010"). Otherwise it is an
    annual release, published in May of the year of its newest January estimate ("E-4 2018").
    """
    january = sorted(d.year for d in dates if (d.month, d.day) == (1, 1))
    if not january:
        return f"E-4 {min(dates).year}-{max(dates).year}"
    closes_with_census = max(dates) > dt.date(january[-1], 1, 1) and (max(dates).month, max(dates).day) == (4, 1)
    if closes_with_census:
        return f"E-4 {january[0]}-{january[-1]}"
    return f"E-4 {january[-1]}"


def release_from_text(text: str) -> Release | None:
    """A release named in a workbook's 'About the Data' sheet or in the long file's ``dof_release`` column:
    '... 2011-2020, with 2010 Benchmark ... Released: May 7, 2021' -> vintage 'E-4 2021'."""
    span = re.search(r"(\d{4})-(\d{4}),?\s+with\s+(\d{4})\s+Bench", text, re.IGNORECASE)
    released = re.search(r"Released:?\s*([A-Z][a-z]+\.?\s+\d{1,2},\s*(\d{4}))", text, re.IGNORECASE)
    if not (span and released):
        return None
    publication = (f"DOF E-4 {span.group(1)}-{span.group(2)} with {span.group(3)} Benchmark "
                   f"(released {released.group(1)})")
    return Release(f"E-4 {released.group(2)}", publication)


def grid_from_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> int:
    """A report CSV as ``table`` (line, c0, c1, ...): every line of the file, numbered. Returns the width."""
    columns = read_csv(con, path, table + "_csv", header=False)
    cells = ", ".join(f"{ident(c)} AS c{i}" for i, c in enumerate(columns))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS SELECT {ROW} AS line, {cells} "
                f"FROM {ident(table + '_csv')}")
    con.execute(f"DROP TABLE {ident(table + '_csv')}")
    lines = path.read_bytes()
    expected = lines.count(b"\n") + (0 if lines.endswith(b"\n") else 1)
    got = _scalar(con, f"SELECT count(*) FROM {ident(table)}")
    if got != expected:
        raise SourceFileError(f"{path}: {expected} lines but {got} CSV records; a quoted field spans lines")
    return len(columns)


def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value)


def grid_from_sheet(con: duckdb.DuckDBPyConnection, rows: list[list[Any]], table: str) -> tuple[int, list[str]]:
    """A workbook sheet's cells as ``table`` (line, c0, c1, ...), line = the sheet's row number. Returns the
    grid's width and notes on cells left out.

    The grid is as wide as the table: its title and header cells, and any cell further right that holds
    something. Left out, with a note: header cells reading 'Column<N>' (the placeholders a spreadsheet
    writes when a range becomes a table; uploaders left thousands on empty columns) and zeros right of
    the table (the 2023 workbook has a formula copied across a whole row).
    """
    def filled(v: Any) -> bool:
        return v not in ("", None) and not (isinstance(v, str) and _PLACEHOLDER.fullmatch(v.strip()))

    def last_filled(row: list[Any]) -> int:
        for i in range(len(row) - 1, -1, -1):
            if filled(row[i]):
                return i + 1
        return 0

    width = max([last_filled(r[:64]) for r in rows[:40]] + [1])
    zero_rows: list[tuple[int, int]] = []
    for n, r in enumerate(rows, start=1):
        tail = r[width:]
        blank = tail.count("") + tail.count(None)
        if blank == len(tail):
            continue
        zeros = tail.count(0)
        if zeros and blank + zeros == len(tail):
            zero_rows.append((n, zeros))
        else:
            width = max(width, last_filled(r))
    notes = [f"row {n}: {k} zero cells right of the table's last column, outside the table"
             for n, k in zero_rows]
    arrays = {"line": pa.array(range(1, len(rows) + 1), pa.int64())}
    for i in range(width):
        arrays[f"c{i}"] = pa.array([_cell_text(r[i]) if i < len(r) else None for r in rows], pa.string())
    con.register("pg_sheet", pa.table(arrays))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS SELECT * FROM pg_sheet")
    con.unregister("pg_sheet")
    return width, notes


def header_line(con: duckdb.DuckDBPyConnection, grid: str) -> tuple[int, str] | None:
    """The header line of a report table and its first cell as printed (COUNTY, COUNTY/CITY, City), if any."""
    labels = ", ".join(literal(h) for h in HEADER_LABELS)
    row = con.execute(f"SELECT line, trim(c0) FROM {ident(grid)} WHERE upper(trim(c0)) IN ({labels}) "
                      "ORDER BY line LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def title_text(con: duckdb.DuckDBPyConnection, grid: str, width: int, before: int) -> str:
    """The text of the title lines above the header, in reading order."""
    cols = ", ".join(f"c{i}" for i in range(width))
    text = _scalar(con, f"""
        SELECT string_agg(trim(cell), ' ' ORDER BY line, col) FROM (
            UNPIVOT (SELECT line, {cols} FROM {ident(grid)} WHERE line < {before})
            ON {cols} INTO NAME col VALUE cell)
        WHERE trim(cell) <> ''
    """)
    return re.sub(r"\s+", " ", str(text or "")).strip()


def report_dates(con: duckdb.DuckDBPyConnection, grid: str, width: int, header: int) -> list[tuple[int, str, Any]]:
    """(column index, header text, date or None) of every filled header cell after the first."""
    cols = ", ".join(f"c{i}" for i in range(1, width))
    if not cols:
        return []
    return _fetch(con, f"""
        SELECT CAST(substr(col, 2) AS INTEGER) AS col, trim(cell) AS head, {_date_sql('trim(cell)')} AS ref_date
        FROM (UNPIVOT (SELECT {cols} FROM {ident(grid)} WHERE line = {header}) ON {cols}
              INTO NAME col VALUE cell)
        WHERE trim(cell) <> '' ORDER BY col
    """)


def read_report(
    con: duckdb.DuckDBPyConnection,
    grid: str,
    width: int,
    *,
    file: Path,
    label: str,
    release: Release | None,
    table: str,
) -> Part:
    """Turn a report-layout grid into long rows, with its layout accounted for and its names placed.

    How a line is read (after the header line; everything above it is title):
    * a *figure* is a cell right of the name that is not blank, not '*' ('*' marks a city not yet
      incorporated, as the reports' footnotes say; a blank cell means the same in the 2010s tables) and
      not text (a run of letters: a footnote written in another column); a figure that is not a whole
      number under a date stops the load (``_refuse_unreadable_figures``), and text cells are counted;
    * a line with no figure is layout: **blank** when nothing is written on it, a **footnote** when its
      label starts with '*' or 'Note' or its text is right of an empty first cell, otherwise a
      **heading** ('California' or a county) naming the area of the lines below it;
    * a line with figures is data: 'State Total'; 'County Total' (the heading's county); 'Balance Of
      County' (its unincorporated part); in Table 1 every other line is a county; in Table 2 a line
      named '<name> County' for a county without cities, else a city; the subtotal lines
      (SUBTOTAL_LABELS) add up other lines and are checked instead of loaded.
    """
    found = header_line(con, grid)
    if found is None:
        raise SourceFileError(f"{label}: no header line (a first cell reading {' or '.join(HEADER_LABELS)})")
    header, header_text = found
    layout = "population_county_table" if header_text.upper() == "COUNTY" else "population_city_table"
    dates = report_dates(con, grid, width, header)
    date_values = [d for _, _, d in dates if d is not None]
    if not date_values:
        raise SourceFileError(f"{label}: row {header} (the header) has no date columns such as 1/1/2024")
    repeated = sorted({d for d in date_values if date_values.count(d) > 1})
    if repeated:
        raise SourceFileError(f"{label}: row {header} (the header) repeats the date(s) "
                              f"{', '.join(str(d) for d in repeated)}")
    if release is None:
        title = re.sub(r"^Table \d+:\s*", "", title_text(con, grid, width, header))
        if not title.startswith("E-4"):
            title = "E-4 " + title
        release = Release(release_from_columns(date_values), f"DOF {title}")

    cols_rel = ident(table + "_cols")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {cols_rel} (col INTEGER, head VARCHAR, ref_date DATE)")
    if dates:
        con.executemany(f"INSERT INTO {cols_rel} VALUES (?, ?, ?)", [list(d) for d in dates])
    value_cols = ", ".join(f"c{i}" for i in range(1, width))
    cells = ident(table + "_cells")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {cells} AS
        SELECT line, CAST(substr(col, 2) AS INTEGER) AS col, trim(cell) AS cell,
               CASE WHEN trim(cell) = '*' THEN 'star'
                    WHEN regexp_matches(cell, '[A-Za-z]{{2}}') THEN 'text' ELSE 'figure' END AS what
        FROM (UNPIVOT (SELECT line, {value_cols} FROM {ident(grid)} WHERE line > {header})
              ON {value_cols} INTO NAME col VALUE cell)
        WHERE trim(cell) <> ''
    """)
    lines = ident(table + "_lines")
    county_table = "true" if layout == "population_county_table" else "false"
    norm = "regexp_replace(lower(label), '\\s+', ' ', 'g')"
    subtotals = ", ".join(literal(s) for s in SUBTOTAL_LABELS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {lines} AS
        WITH counted AS (
            SELECT g.line, coalesce(trim(g.c0), '') AS label,
                   count(c.cell) FILTER (WHERE c.what = 'figure') AS n_figures, count(c.cell) AS n_cells
            FROM {ident(grid)} g LEFT JOIN {cells} c ON c.line = g.line
            GROUP BY g.line, g.c0),
        kinds AS (
            SELECT *, CASE
                WHEN line <= {header} THEN 'title'
                WHEN label = '' AND n_cells = 0 THEN 'blank'
                WHEN n_figures = 0 AND (label = '' OR label LIKE '*%' OR lower(label) LIKE 'note%') THEN 'footnote'
                WHEN n_figures = 0 THEN 'heading'
                WHEN {norm} IN ({subtotals}) THEN 'subtotal'
                WHEN {norm} = 'state total' THEN 'state'
                WHEN {norm} = 'county total' THEN 'county_total'
                WHEN {norm} = 'balance of county' THEN 'balance_of_county'
                WHEN {county_table} THEN 'county'
                WHEN {norm} LIKE '% county' AND {county_code_sql('label')} IS NOT NULL THEN 'county'
                WHEN label = '' THEN 'unnamed'
                ELSE 'city' END AS kind
            FROM counted),
        placed AS (
            SELECT *,
                last_value(CASE WHEN kind = 'heading' THEN label END IGNORE NULLS)
                    OVER (ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS heading,
                last_value(CASE WHEN kind IN ('heading', 'county') THEN line END IGNORE NULLS)
                    OVER (ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS section
            FROM kinds),
        coded AS (
            SELECT *, CASE
                WHEN kind = 'county' THEN {county_code_sql('label')}
                WHEN kind IN ('county_total', 'balance_of_county', 'city', 'unnamed', 'subtotal')
                    THEN {county_code_sql('heading')} END AS area_county,
                trim(regexp_replace(lower(strip_accents(label)), '[^a-z0-9]+', '_', 'g'), '_') AS city_code
            FROM placed),
        sections AS (
            SELECT section, count(*) FILTER (WHERE kind IN ('county_total', 'balance_of_county', 'city', 'unnamed'))
                       AS n_lines,
                   count(*) FILTER (WHERE kind = 'city') AS n_cities
            FROM coded GROUP BY section)
        SELECT c.*,
            -- A consolidated city and county (San Francisco): in a table that prints county totals, a heading
            -- whose only line is one city, with no balance and no County Total - that line is the county too.
            c.kind = 'city' AND s.n_lines = 1 AND s.n_cities = 1 AND c.area_county IS NOT NULL
                AND EXISTS (SELECT 1 FROM coded WHERE kind = 'county_total') AS consolidated
        FROM coded c LEFT JOIN sections s ON s.section = c.section ORDER BY line
    """)
    # A city name that occurs in two counties of one table is told apart by its county.
    con.execute(f"""
        UPDATE {lines} SET city_code = city_code || '__' || coalesce(area_county, 'unplaced')
        WHERE kind = 'city' AND city_code IN (
            SELECT city_code FROM {lines} WHERE kind = 'city'
            GROUP BY city_code HAVING count(DISTINCT coalesce(area_county, '')) > 1)
    """)
    src = literal(release.publication)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {ident(table)} AS
        SELECT l.line AS {ROW},
            CASE r.kind WHEN 'state' THEN 'state' WHEN 'county' THEN 'county' WHEN 'county_total' THEN 'county'
                 WHEN 'balance_of_county' THEN 'balance_of_county' WHEN 'city' THEN 'city' END AS geography_type,
            CASE WHEN r.kind = 'state' THEN 'california' WHEN r.kind = 'city' THEN l.city_code
                 WHEN r.kind <> 'unnamed' THEN l.area_county END AS geography_code,
            CASE r.kind WHEN 'state' THEN 'California'
                 WHEN 'county' THEN coalesce({county_label_sql('l.area_county')}, l.label)
                 WHEN 'county_total' THEN coalesce({county_label_sql('l.area_county')}, l.heading)
                 WHEN 'balance_of_county'
                     THEN coalesce({county_label_sql('l.area_county')}, l.heading) || ': ' || l.label
                 WHEN 'city' THEN l.label END AS geography_name,
            CASE WHEN r.kind <> 'state' THEN l.area_county END AS county,
            CAST(year(c.ref_date) AS VARCHAR) AS year,
            CAST(c.ref_date AS VARCHAR) AS reference_date,
            {census_or_estimate_sql('c.ref_date')} AS estimate_type,
            CAST(NULL AS VARCHAR) AS age_group, CAST(NULL AS VARCHAR) AS sex,
            CAST(NULL AS VARCHAR) AS race_ethnicity,
            replace(x.cell, ',', '') AS population,
            {literal(release.vintage)} AS vintage, {src} AS source,
            x.col AS _col, c.head AS _head, x.cell AS _cell
        FROM {lines} l
        CROSS JOIN unnest(CASE WHEN l.consolidated THEN ['city', 'county'] ELSE [l.kind] END) AS r(kind)
        JOIN {cells} x ON x.line = l.line AND x.what = 'figure'
        LEFT JOIN {cols_rel} c ON c.col = x.col
        WHERE l.kind IN ('state', 'county', 'county_total', 'balance_of_county', 'city', 'unnamed')
        ORDER BY l.line, x.col, r.kind
    """)
    _refuse_unreadable_figures(con, table, label)
    part = Part(file, label, layout, table)
    part.notes.append(_layout_note(con, lines, cells, cols_rel, label, release, table))
    part.notes.extend(report_checks(con, lines, cells, cols_rel, label))
    part.unmatched.extend(_report_unmatched(con, lines, label, header_text))
    return part


def _refuse_unreadable_figures(con: duckdb.DuckDBPyConnection, table: str, label: str) -> None:
    """A figure that is not a whole number, or sits under a column that is not a date, stops the load.

    Ingest quarantines whole source rows, and a report line carries many figures: one unreadable figure
    among good ones could not be quarantined on its own. The file is refused with the line, column and
    value instead, and nothing from it is loaded.
    """
    bad = _fetch(con, f"""
        SELECT {ROW}, coalesce(_head, 'column ' || (_col + 1)), _cell FROM {ident(table)}
        WHERE NOT regexp_full_match(population, '[0-9]+') OR reference_date IS NULL
           OR NOT (CAST(year AS INTEGER) BETWEEN 1900 AND 2100)
        ORDER BY {ROW}, _col LIMIT 6
    """)
    if bad:
        shown = "; ".join(f"row {r}, column {h}: {v!r}" for r, h, v in bad[:5])
        raise SourceFileError(
            f"{label}: figure(s) that are not whole numbers under a date column ({shown}"
            f"{'; ...' if len(bad) > 5 else ''}); expected digits (thousands separators allowed), '*' or blank"
        )


def _layout_note(con: duckdb.DuckDBPyConnection, lines: str, cells: str, cols: str, label: str,
                 release: Release, table: str) -> str:
    """How every line of the table was read: the accounting behind 'nothing lost' for a report layout."""
    counts = dict(_fetch(con, f"SELECT kind, count(*) FROM {lines} GROUP BY kind"))
    data_kinds = ("state", "county", "county_total", "balance_of_county", "city", "unnamed")
    data_lines = sum(int(counts.get(k, 0)) for k in data_kinds)
    figures, stars, empty = con.execute(f"""
        SELECT count(*) FILTER (WHERE x.what = 'figure'), count(*) FILTER (WHERE x.what = 'star'),
               (SELECT count(*) FROM {cols} WHERE ref_date IS NOT NULL) * {data_lines}
                 - count(*) FILTER (WHERE c.ref_date IS NOT NULL)
        FROM {lines} l JOIN {cells} x ON x.line = l.line LEFT JOIN {cols} c ON c.col = x.col
        WHERE l.kind IN ({', '.join(literal(k) for k in data_kinds)})
    """).fetchone() or (0, 0, 0)
    text = _scalar(con, f"SELECT count(*) FROM {cells} WHERE what = 'text'")
    total = sum(int(v) for v in counts.values())
    parts = [f"{int(counts.get(k, 0))} {name}" for k, name in (
        ("title", "title/header"), ("blank", "blank"), ("heading", "heading"), ("footnote", "footnote"),
        ("subtotal", "subtotal (checked, not loaded)"))]
    rows = _scalar(con, f"SELECT count(*) FROM {ident(table)}")
    both = _scalar(con, f"SELECT count(*) FROM {lines} WHERE consolidated")
    return (f"{label} ({release.vintage}): {total} lines = {', '.join(parts)} and {data_lines} data lines "
            f"holding {figures} figures -> {rows} rows ({both} line(s) of a consolidated city and county give "
            f"the city and the county); {stars} cells marked '*' and {empty} blank cells under a date "
            f"(cities not yet incorporated) hold no figure; {text} cells of text right of the names")


def report_checks(con: duckdb.DuckDBPyConnection, lines: str, cells: str, cols: str, label: str) -> list[str]:
    """Check every subtotal and total line against the lines it adds up; one note per disagreement.

    Incorporated = the section's cities; County Total = its cities and balance; Incorporated Total =
    every city; Balance Of State Total = every balance, plus counties printed on one line (no cities);
    State Total = every county (or, in a table without county totals, every city and balance).
    """
    rows = _fetch(con, f"""
        WITH v AS (
            SELECT l.line, l.kind, l.consolidated, regexp_replace(lower(l.label), '\\s+', ' ', 'g') AS name,
                   l.section, x.col,
                   c.head, try_cast(replace(x.cell, ',', '') AS BIGINT) AS value
            FROM {lines} l JOIN {cells} x ON x.line = l.line AND x.what = 'figure' JOIN {cols} c ON c.col = x.col
            WHERE c.ref_date IS NOT NULL AND l.kind NOT IN ('title', 'blank', 'heading', 'footnote')),
        parts AS (
            SELECT section, col, sum(value) FILTER (WHERE kind = 'city') AS cities,
                   sum(value) FILTER (WHERE kind = 'balance_of_county') AS balance
            FROM v GROUP BY section, col),
        whole AS (
            SELECT v.col, sum(value) FILTER (WHERE kind = 'city') AS cities,
                   sum(value) FILTER (WHERE kind = 'balance_of_county') AS balances,
                   sum(value) FILTER (WHERE kind IN ('county', 'county_total') OR consolidated) AS counties,
                   sum(value) FILTER (WHERE kind IN ('county', 'county_total')
                                      AND (p.cities IS NULL AND p.balance IS NULL)) AS one_line_counties
            FROM v LEFT JOIN parts p ON p.section = v.section AND p.col = v.col GROUP BY v.col),
        expected AS (
            SELECT v.line, v.name, v.head, v.value, CASE
                WHEN v.name = 'incorporated' THEN coalesce(p.cities, 0)
                WHEN v.kind = 'county_total' AND (p.cities IS NOT NULL OR p.balance IS NOT NULL)
                    THEN coalesce(p.cities, 0) + coalesce(p.balance, 0)
                WHEN v.name = 'incorporated total' THEN coalesce(w.cities, 0)
                WHEN v.name = 'balance of state total' THEN coalesce(w.balances, 0) + coalesce(w.one_line_counties, 0)
                WHEN v.kind = 'state' THEN coalesce(w.counties, coalesce(w.cities, 0) + coalesce(w.balances, 0))
                END AS parts
            FROM v LEFT JOIN parts p ON p.section = v.section AND p.col = v.col JOIN whole w ON w.col = v.col)
        SELECT line, name, head, value, parts FROM expected
        WHERE parts IS NOT NULL AND value IS DISTINCT FROM parts ORDER BY line, head
    """)
    return [f"{label}: row {line} ({name}), {head}: printed {value}, its parts add up to {parts}"
            for line, name, head, value, parts in rows]


def _report_unmatched(con: duckdb.DuckDBPyConnection, lines: str, label: str, column: str) -> list[Unmatched]:
    rows = _fetch(con, f"""
        SELECT line, label, kind, heading FROM {lines}
        WHERE (kind = 'heading' AND lower(label) <> 'california' AND area_county IS NULL
               AND {county_code_sql('label')} IS NULL)
           OR (kind IN ('county', 'county_total', 'balance_of_county', 'city', 'subtotal') AND area_county IS NULL
               AND NOT (kind = 'subtotal' AND heading IS NOT NULL AND lower(heading) = 'california'))
           OR kind = 'unnamed'
        ORDER BY line
    """)
    out = []
    for line, name, kind, heading in rows:
        if kind == "heading":
            reason = "heading that is not a California county: the lines under it cannot be placed"
        elif kind == "unnamed":
            reason = "figures on a line with no name"
        elif kind == "county":
            reason = "not a California county"
        else:
            reason = f"under the heading {heading!r}, which is not a California county"
        out.append(Unmatched(label, int(line), column, str(name), reason))
    return out


# --- long layouts ---------------------------------------------------------------------------------------


def _long_rows(con: duckdb.DuckDBPyConnection, table: str, select: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS {select}")


def _county_columns(county: str, *, state_labels: tuple[str, ...] = ()) -> str:
    """geography_type, geography_code, geography_name and county of a long file's area column."""
    code = county_code_sql(county)
    state = f"lower(trim({county})) IN ({', '.join(literal(s) for s in state_labels)})" if state_labels else "false"
    return f"""
        CASE WHEN {state} THEN 'state' ELSE 'county' END AS geography_type,
        CASE WHEN {state} THEN 'california' ELSE {code} END AS geography_code,
        CASE WHEN {state} THEN 'California' ELSE coalesce({county_label_sql(code)}, trim({county})) END
            AS geography_name,
        CASE WHEN {state} THEN NULL ELSE {code} END AS county"""


def _long_unmatched(con: duckdb.DuckDBPyConnection, table: str, raw: str, column: str, label: str) -> list[Unmatched]:
    rows = _fetch(con, f"SELECT t.{ROW}, r.{ident(column)} FROM {ident(table)} t JOIN {ident(raw)} r USING ({ROW}) "
                       f"WHERE t.geography_code IS NULL ORDER BY t.{ROW}")
    return [Unmatched(label, int(r), column, str(v or ""), "not a California county") for r, v in rows]


_NO_BREAKDOWN = ("CAST(NULL AS VARCHAR) AS age_group, CAST(NULL AS VARCHAR) AS sex, "
                 "CAST(NULL AS VARCHAR) AS race_ethnicity")


def read_dof_long(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Part:
    """``dof_e4_county_population_*.csv``: county, estimate_date, year, population, dof_release.

    The release column names each row's E-4 release ('E-4 2011-2020 with 2010 Benchmark (released May 7,
    2021)'): the vintage is 'E-4 <year released>' and the publication is the same text as the workbook of
    that release gives, so the rows are recognised as the workbook's figures when both are loaded.
    """
    raw = table + "_raw"
    present = read_csv(con, path, raw)
    c = resolve_columns(path, present, ["county", "estimate_date", "year", "population", "dof_release"])
    county, date, year, pop, rel = (ident(c[k]) for k in ("county", "estimate_date", "year", "population",
                                                              "dof_release"))
    released = f"regexp_extract({rel}, 'released .*([0-9]{{4}})', 1)"
    _long_rows(con, table, f"""
        SELECT {ROW}, {_county_columns(county, state_labels=('state total', 'california'))},
            trim({year}) AS year, trim({date}) AS reference_date,
            {census_or_estimate_sql(f'try_cast(trim({date}) AS DATE)')} AS estimate_type, {_NO_BREAKDOWN},
            replace(trim({pop}), ',', '') AS population,
            CASE WHEN {released} <> '' THEN 'E-4 ' || {released} ELSE trim({rel}) END AS vintage,
            'DOF ' || trim({rel}) AS source
        FROM {ident(raw)}
    """)
    part = Part(path, path.name, "population_long", table)
    part.unmatched.extend(_long_unmatched(con, table, raw, c["county"], path.name))
    return part


def read_csac(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Part:
    """CSAC's county series (County, Year, Population), compiled in September 2018 from DOF figures.

    Its figures are DOF's January 1 estimates - 1991-2010 are the E-4 reports' January 1 figures and
    2011-2018 those of E-4 2018, but for a few county-years the tests list (Orange County counts Laguna
    Woods twice in 2000-2010) - except 1980, which is the April 1, 1980 census count.
    """
    raw = table + "_raw"
    present = read_csv(con, path, raw)
    c = resolve_columns(path, present, ["County", "Year", "Population"])
    county, year, pop = (ident(c[k]) for k in ("County", "Year", "Population"))
    last = _scalar(con, f"SELECT max(try_cast({year} AS INTEGER)) FROM {ident(raw)}")
    census = f"trim({year}) = '1980'"
    _long_rows(con, table, f"""
        SELECT {ROW}, {_county_columns(county)}, trim({year}) AS year,
            CASE WHEN {census} THEN '1980-04-01' ELSE trim({year}) || '-01-01' END AS reference_date,
            CASE WHEN {census} THEN 'census' ELSE 'estimate' END AS estimate_type, {_NO_BREAKDOWN},
            replace(trim({pop}), ',', '') AS population,
            {literal(f'DOF via CSAC {last}')} AS vintage,
            {literal(f'CSAC, population by county 1970 to {last}, compiled from DOF estimates')} AS source
        FROM {ident(raw)}
    """)
    part = Part(path, path.name, "population_long", table)
    part.unmatched.extend(_long_unmatched(con, table, raw, c["County"], path.name))
    return part


def read_census_counties(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Part:
    """The Census Bureau county series compiled by The Marshall Project (COUNTY, YEAR, TOTAL_POP).

    The Bureau's estimates are as of July 1; 1980, 1990 and 2010 are April 1 census counts (2010: as
    the compiler documents; 1980 and 1990: they equal the census counts that CSAC and DOF print for
    those dates for most counties - the Bureau's later count corrections explain the rest).
    """
    raw = table + "_raw"
    present = read_csv(con, path, raw)
    c = resolve_columns(path, present, ["COUNTY", "YEAR", "TOTAL_POP"])
    county, year, pop = (ident(c[k]) for k in ("COUNTY", "YEAR", "TOTAL_POP"))
    first, last = con.execute(f"SELECT min(try_cast({year} AS INTEGER)), max(try_cast({year} AS INTEGER)) "
                              f"FROM {ident(raw)}").fetchone() or (None, None)
    census = f"trim({year}) IN ('1980', '1990', '2010')"
    _long_rows(con, table, f"""
        SELECT {ROW}, {_county_columns(county)}, trim({year}) AS year,
            trim({year}) || CASE WHEN {census} THEN '-04-01' ELSE '-07-01' END AS reference_date,
            CASE WHEN {census} THEN 'census' ELSE 'estimate' END AS estimate_type, {_NO_BREAKDOWN},
            replace(trim({pop}), ',', '') AS population,
            {literal(f'Census Bureau {first}-{last}')} AS vintage,
            {literal(f'U.S. Census Bureau county population {first}-{last}, compiled by The Marshall Project')}
                AS source
        FROM {ident(raw)}
    """)
    part = Part(path, path.name, "population_long", table)
    part.unmatched.extend(_long_unmatched(con, table, raw, c["COUNTY"], path.name))
    return part


def read_workbook(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[Part]:
    """An E-4 workbook: every sheet with a report header (Table 1 County State, Table 2 City County) is a
    part; the sheet without one ('About the Data') names the release (title and 'Released:' date)."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        sheets = [(name, book.get_sheet_by_name(name).to_python(skip_empty_area=False)) for name in book.sheet_names]
    except Exception as exc:
        raise SourceFileError(f"{path}: cannot be read as an Excel workbook: {exc}") from None
    release: Release | None = None
    tables: list[tuple[str, str, int, list[str]]] = []
    for i, (name, rows) in enumerate(sheets):
        if not rows:
            continue
        grid = f"{table}_grid{i}"
        width, notes = grid_from_sheet(con, rows, grid)
        if header_line(con, grid) is not None:
            tables.append((name, grid, width, notes))
        elif release is None:
            text = " ".join(str(v) for r in rows[:40] for v in r[:8] if isinstance(v, str) and v.strip())
            release = release_from_text(text)
    if not tables:
        raise SourceFileError(f"{path}: no sheet has a report header (a first cell reading "
                              f"{' or '.join(HEADER_LABELS)}); sheets: {', '.join(n for n, _ in sheets)}")
    parts = []
    for i, (name, grid, width, notes) in enumerate(tables):
        label = f"{path.name} [{name}]"
        part = read_report(con, grid, width, file=path, label=label, release=release, table=f"{table}_{i}")
        part.notes.extend(f"{label}: {note}" for note in notes)
        parts.append(part)
    return parts


def read_report_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Part:
    """An E-4 report saved as CSV (1991-2000, 2001-2010, 2011-2018 tables): no release date is printed,
    so the vintage is named from its date columns (``release_from_columns``)."""
    grid = table + "_grid"
    width = grid_from_csv(con, path, grid)
    return read_report(con, grid, width, file=path, label=path.name, release=None, table=table)
