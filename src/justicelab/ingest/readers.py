"""Readers: put any source file into DuckDB as all-text rows with their source row numbers.

Every reader leaves two temporary tables in the DuckDB connection it is given:

* ``jl_raw``: one text column per source column plus ``_source_row``;
* ``jl_reader_rejects``: rows the reader could not split into columns
  (``_source_row``, ``reason``, ``raw``).

``_source_row`` is the row number a person sees when they open the file: for CSV
and Excel the header is row ``header_row`` (1 unless rows above it are skipped) and
the first record is the row after it; for JSON lines it is the line number; for
Parquet the 1-based row index. Nothing is dropped: every record of the file is in
exactly one of the two tables, so ``read = len(jl_raw) + len(jl_reader_rejects)``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from justicelab.errors import SourceFileError
from justicelab.ingest.mapping import SourceOptions
from justicelab.ingest.sql import ident, literal

RAW = "jl_raw"
REJECTS = "jl_reader_rejects"
HEADER_SEARCH_ROWS = 20
_CHUNK = 1 << 24


@dataclass
class StagedSource:
    """What a reader found: the file's columns and how it was read (recorded in the batch log)."""

    path: Path
    format: str
    columns: list[str]
    rows_staged: int
    rows_rejected: int
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None
    notes: list[str] = field(default_factory=list)
    # Mapped column name -> the file's own spelling of it (headers are matched ignoring case).
    column_map: dict[str, str] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return self.rows_staged + self.rows_rejected


def detect_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = "".join(path.suffixes[-1:]).lower()
    formats = {
        ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".psv": "csv", ".dat": "csv",
        ".parquet": "parquet", ".pq": "parquet",
        ".xlsx": "xlsx", ".xlsm": "xlsx",
        ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    }
    if suffix not in formats:
        raise SourceFileError(
            f"{path}: cannot tell the format from the extension {suffix!r}; set source.format in the mapping "
            "(csv, parquet, xlsx or jsonl)"
        )
    return formats[suffix]


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise SourceFileError(f"{path}: file not found")
    if not path.is_file():
        raise SourceFileError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: the file is empty (0 bytes); expected a header row and data rows")


def missing_columns_error(path: Path, needed: Sequence[str], present: Sequence[str], header_row: int) -> str:
    missing = [c for c in needed if c not in present]
    hints = []
    for c in missing:
        near = difflib.get_close_matches(c, list(present), n=2, cutoff=0.5)
        hints.append(f"{c} (closest present: {', '.join(near)})" if near else c)
    shown = ", ".join(list(present)[:12]) + (" …" if len(present) > 12 else "")
    return (
        f"{path}: row {header_row} (the header) is missing the mapped column(s) {'; '.join(hints)}. "
        f"Columns present: {shown}"
    )


def resolve_columns(needed: Sequence[str], present: Sequence[str]) -> dict[str, str] | None:
    """Match mapped column names to the file's header: exactly, else ignoring case and surrounding space."""
    folded = {p.strip().casefold(): p for p in present}
    out: dict[str, str] = {}
    for name in needed:
        if name in present:
            out[name] = name
        elif name.strip().casefold() in folded:
            out[name] = folded[name.strip().casefold()]
        else:
            return None
    return out


def _find_header_row(rows: Sequence[Sequence[str | None]], needed: Sequence[str]) -> int | None:
    """1-based row among the first rows that holds every mapped column, if any."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
        present = [str(v) for v in row if v is not None]
        if resolve_columns(needed, present) is not None:
            return i
    return None


# --- text encodings --------------------------------------------------------------------------------


def _is_utf8_prefix(path: Path, size: int = 1 << 20) -> bool:
    with path.open("rb") as fh:
        data = fh.read(size)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is not an error.
        return exc.start >= len(data) - 3
    return True


def transcode_to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """Stream-decode a legacy-encoded file into UTF-8 (DuckDB reads UTF-8 only)."""
    target = workdir / (path.name + ".utf8")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return target


# --- CSV -------------------------------------------------------------------------------------------


def _csv_options(delimiter: str | None, quote: str, skip: int, header: bool) -> str:
    opts = [
        "all_varchar = true",
        f"header = {'true' if header else 'false'}",
        f"skip = {skip}",
        f"quote = {literal(quote)}",
        f"escape = {literal(quote)}",
        "null_padding = false",
        "strict_mode = true",
    ]
    if delimiter:
        opts.append(f"delim = {literal(delimiter)}")
    return ", ".join(opts)


def _first_rows(path: Path, delimiter: str | None, quote: str) -> tuple[list[list[str]], str]:
    """The first rows of a UTF-8 CSV (Python's csv module on a small prefix) and its delimiter."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        sample = fh.read(1 << 16)
    lines = sample.splitlines(keepends=True)[: HEADER_SEARCH_ROWS + 1]
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff("".join(lines[: HEADER_SEARCH_ROWS]), delimiters=",;|\t").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader(lines[:HEADER_SEARCH_ROWS], delimiter=delimiter, quotechar=quote))
    return rows, delimiter


def _stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, opts: SourceOptions, needed: Sequence[str], workdir: Path
) -> StagedSource:
    encoding = opts.encoding
    read_path = path
    notes: list[str] = []
    if encoding == "auto":
        encoding = "utf-8" if _is_utf8_prefix(path) else "windows-1252"
        if encoding != "utf-8":
            notes.append("not UTF-8: read as Windows-1252")
    if encoding in ("windows-1252", "latin-1"):
        try:
            read_path = transcode_to_utf8(path, "cp1252" if encoding == "windows-1252" else "latin-1", workdir)
        except UnicodeDecodeError as exc:
            raise SourceFileError(
                f"{path}: byte {exc.start} ({exc.object[exc.start:exc.start + 1]!r}) is not valid {encoding}"
            ) from None

    header_row = opts.header_row
    explicit_header = "header_row" in opts.model_fields_set
    first, delimiter = _first_rows(read_path, opts.delimiter, opts.quote)
    if not first:
        raise SourceFileError(f"{path}: the file has no rows; expected a header row and data rows")
    if not explicit_header and header_row <= len(first):
        present = [str(v) for v in first[header_row - 1] if v is not None]
        if resolve_columns(needed, present) is None:
            found = _find_header_row(first, needed)
            if found is not None:
                notes.append(f"header found on row {found}")
                header_row = found

    sql = (
        f"CREATE OR REPLACE TEMP TABLE jl_csv AS SELECT * FROM read_csv({literal(str(read_path))}, "
        f"{_csv_options(delimiter, opts.quote, header_row - 1, True)}, "
        "store_rejects = true, rejects_table = 'jl_csv_rejects', rejects_scan = 'jl_csv_scans')"
    )
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        raise SourceFileError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    columns = [c[0] for c in con.execute("SELECT * FROM jl_csv LIMIT 0").description]

    bad_encoding = con.execute(
        "SELECT line, column_name FROM jl_csv_rejects WHERE error_type = 'INVALID ENCODING' ORDER BY line LIMIT 1"
    ).fetchone()
    if bad_encoding:
        raise SourceFileError(
            f"{path}: row {bad_encoding[0]}, column {bad_encoding[1]}: bytes that are not valid UTF-8, but the "
            f"mapping declares encoding {opts.encoding}. Is the file Windows-1252 or Latin-1? Set source.encoding."
        )

    # Rejects carry the record's row number; valid rows come in file order (rowid), so the record number
    # of valid row v is v plus the number of rejects before it. jl_raw is a view: no second copy of the data.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {REJECTS} AS
        SELECT DISTINCT ON (line) CAST(line AS BIGINT) AS _source_row,
               CAST(error_type AS VARCHAR) || ': ' || error_message AS reason,
               trim(csv_line, chr(13) || chr(10)) AS raw
        FROM jl_csv_rejects ORDER BY line
        """
    )
    if _count(con, REJECTS):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE jl_holes AS
            SELECT valid_before, max(rejects_so_far) AS rejects_so_far FROM (
                SELECT _source_row - {header_row} - row_number() OVER (ORDER BY _source_row) AS valid_before,
                       row_number() OVER (ORDER BY _source_row) AS rejects_so_far
                FROM {REJECTS}) GROUP BY valid_before
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW {RAW} AS
            SELECT c.* EXCLUDE (jl_ord), c.jl_ord + {header_row} + coalesce(h.rejects_so_far, 0) AS _source_row
            FROM (SELECT *, rowid + 1 AS jl_ord FROM jl_csv) c
            ASOF LEFT JOIN jl_holes h ON c.jl_ord > h.valid_before
            """
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {RAW} AS SELECT *, rowid + 1 + {header_row} AS _source_row FROM jl_csv"
        )
    return StagedSource(
        path=path,
        format="csv",
        columns=columns,
        rows_staged=_count(con, RAW),
        rows_rejected=_count(con, REJECTS),
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_row,
        notes=notes,
    )


# --- Excel -----------------------------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _stage_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, opts: SourceOptions, needed: Sequence[str]
) -> StagedSource:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet_name = opts.sheet or book.sheet_names[0]
        if sheet_name not in book.sheet_names:
            raise SourceFileError(f"{path}: no sheet {sheet_name!r}; sheets: {', '.join(book.sheet_names)}")
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except SourceFileError:
        raise
    except Exception as exc:
        raise SourceFileError(f"{path}: cannot be read as an Excel workbook: {exc}") from None
    notes = [f"sheet {sheet_name}"]
    text_rows = [[_cell_text(v) for v in row] for row in rows]
    if not text_rows:
        raise SourceFileError(f"{path}: sheet {sheet_name!r} is empty; expected a header row and data rows")
    header_row = opts.header_row
    if "header_row" not in opts.model_fields_set:
        header = [v for v in text_rows[0] if v is not None]
        if resolve_columns(needed, header) is None:
            found = _find_header_row(text_rows, needed)
            if found is not None:
                notes.append(f"header found on row {found}")
                header_row = found
    if header_row > len(text_rows):
        raise SourceFileError(f"{path}: sheet {sheet_name!r} has only {len(text_rows)} rows; no header row")
    header = [v if v is not None else f"column{i + 1}" for i, v in enumerate(text_rows[header_row - 1])]
    columns = _dedupe(header)
    data = text_rows[header_row:]
    width = len(columns)
    arrays = {c: pa.array([r[i] if i < len(r) else None for r in data], pa.string()) for i, c in enumerate(columns)}
    extra = [(n, r) for n, r in enumerate(data) if any(v is not None for v in r[width:])]
    arrays["_source_row"] = pa.array(range(header_row + 1, header_row + 1 + len(data)), pa.int64())
    table = pa.table(arrays)
    # Blank rows inside the sheet are layout, not records.
    con.register("jl_xlsx", table)
    cols = " OR ".join(f"{ident(c)} IS NOT NULL" for c in columns) or "true"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM jl_xlsx WHERE {cols}")
    con.unregister("jl_xlsx")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTS} (_source_row BIGINT, reason VARCHAR, raw VARCHAR)")
    for n, r in extra:
        row_no = header_row + 1 + n
        con.execute(f"DELETE FROM {RAW} WHERE _source_row = ?", [row_no])
        con.execute(
            f"INSERT INTO {REJECTS} VALUES (?, ?, ?)",
            [row_no, f"TOO MANY COLUMNS: values beyond the {width} header columns", "\t".join(v or "" for v in r)],
        )
    return StagedSource(
        path=path,
        format="xlsx",
        columns=columns,
        rows_staged=_count(con, RAW),
        rows_rejected=_count(con, REJECTS),
        header_row=header_row,
        notes=notes,
    )


def _dedupe(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        name, i = n, 1
        while name in out:
            i += 1
            name = f"{n}_{i}"
        out.append(name)
    return out


# --- Parquet ---------------------------------------------------------------------------------------


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> StagedSource:
    src = f"read_parquet({literal(str(path))}, file_row_number = true)"
    try:
        names = [c[0] for c in con.execute(f"SELECT * FROM {src} LIMIT 0").description]
    except duckdb.Error as exc:
        raise SourceFileError(f"{path}: cannot be read as Parquet: {str(exc).splitlines()[0]}") from None
    columns = [c for c in names if c != "file_row_number"]
    if not columns:
        raise SourceFileError(f"{path}: the Parquet file has no columns")
    select = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT {select}, file_row_number + 1 AS _source_row "
        f"FROM {src} ORDER BY file_row_number"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTS} (_source_row BIGINT, reason VARCHAR, raw VARCHAR)")
    return StagedSource(path=path, format="parquet", columns=columns, rows_staged=_count(con, RAW), rows_rejected=0)


# --- JSON lines ------------------------------------------------------------------------------------


def _stage_jsonl(con: duckdb.DuckDBPyConnection, path: Path, needed: Sequence[str]) -> StagedSource:
    # Read each line as text (a raw control character cannot occur in valid JSON, so \x01 never splits
    # a line), then parse in SQL: a line that is not a JSON object becomes a reject with its line number.
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE jl_text AS
            SELECT line FROM read_csv({literal(str(path))}, columns = {{'line': 'VARCHAR'}},
                header = false, delim = '\x01', quote = '', escape = '', strict_mode = false)
            """
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE jl_lines AS SELECT rowid + 1 AS _source_row, line, "
            "coalesce(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' END, false) AS is_object "
            "FROM jl_text WHERE line IS NOT NULL"
        )
        con.execute("DROP TABLE jl_text")
    except duckdb.Error as exc:
        raise SourceFileError(f"{path}: cannot be read as JSON lines: {str(exc).splitlines()[0]}") from None
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {REJECTS} AS
        SELECT _source_row, 'INVALID JSON: the line is not a JSON object' AS reason, line AS raw
        FROM jl_lines WHERE NOT is_object
        """
    )
    # Parse only lines known to be objects (DuckDB does not promise to short-circuit AND).
    con.execute("CREATE OR REPLACE TEMP TABLE jl_objects AS SELECT _source_row, line FROM jl_lines WHERE is_object")
    keys = [r[0] for r in con.execute("SELECT DISTINCT unnest(json_keys(line)) FROM jl_objects ORDER BY 1").fetchall()]
    select = ", ".join(f"line ->> {literal('$.' + _json_path_key(k))} AS {ident(k)}" for k in keys)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT {select + ', ' if select else ''}_source_row "
        "FROM jl_objects ORDER BY _source_row"
    )
    con.execute("DROP TABLE jl_lines")
    con.execute("DROP TABLE jl_objects")
    return StagedSource(
        path=path, format="jsonl", columns=keys, rows_staged=_count(con, RAW), rows_rejected=_count(con, REJECTS)
    )


def _json_path_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- entry point -----------------------------------------------------------------------------------


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every temporary jl_* table and view a reader or the pipeline left behind."""
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = 'temp' AND table_name LIKE 'jl\\_%' ESCAPE '\\'"
    ).fetchall()
    for name, kind in sorted(rows, key=lambda r: r[1] != "VIEW"):  # views first: they depend on tables
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {ident(name)}")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def stage_source(
    con: duckdb.DuckDBPyConnection, path: Path, opts: SourceOptions, needed: Sequence[str]
) -> StagedSource:
    """Read ``path`` into ``jl_raw``/``jl_reader_rejects`` and check that the mapped columns exist."""
    _check_readable(path)
    fmt = detect_format(path, opts.format)
    drop_staging(con)
    with tempfile.TemporaryDirectory(prefix="justicelab-") as tmp:
        if fmt == "csv":
            staged = _stage_csv(con, path, opts, needed, Path(tmp))
        elif fmt == "xlsx":
            staged = _stage_xlsx(con, path, opts, needed)
        elif fmt == "parquet":
            staged = _stage_parquet(con, path)
        else:
            staged = _stage_jsonl(con, path, needed)
    if staged.rows_read == 0:
        raise SourceFileError(f"{path}: the file has a header but no data rows")
    if fmt == "jsonl":
        # JSON APIs leave out keys whose value is null: a key no record has is an empty column,
        # unless no mapped key is present at all (then this is the wrong file or mapping).
        missing = [c for c in needed if c not in staged.columns]
        if missing and len(missing) == len(needed):
            raise SourceFileError(
                f"{path}: no record has any mapped key ({', '.join(missing)}); keys present: "
                f"{', '.join(staged.columns[:12])}"
            )
        for c in missing:
            con.execute(f"ALTER TABLE {RAW} ADD COLUMN {ident(c)} VARCHAR")
            staged.columns.append(c)
            staged.notes.append(f"key {c} is in no record")
    resolved = resolve_columns(needed, staged.columns)
    if resolved is None:
        raise SourceFileError(missing_columns_error(path, needed, staged.columns, staged.header_row or 1))
    staged.column_map = resolved
    _number_rows(con, path, staged, opts.row_number_column)
    return staged


def _number_rows(con: duckdb.DuckDBPyConnection, path: Path, staged: StagedSource, column: str | None) -> None:
    """Give jl_raw a unique ordinal ``_row`` for bookkeeping, apart from ``_source_row`` (lineage).

    They are the same number unless an adapter reshaped the file and carried the original row numbers
    in ``column``: then several staged rows share one ``_source_row``.
    """
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_catalog = 'temp' AND table_name = ?", [RAW]
    ).fetchone()
    con.execute(f"ALTER {'VIEW' if kind and kind[0] == 'VIEW' else 'TABLE'} {RAW} RENAME TO jl_raw_base")
    if column is None:
        con.execute(f"CREATE TEMP VIEW {RAW} AS SELECT *, _source_row AS _row FROM jl_raw_base")
        return
    if column not in staged.columns:
        raise SourceFileError(f"{path}: the row number column {column!r} is missing")
    con.execute(
        f"CREATE TEMP VIEW {RAW} AS SELECT * EXCLUDE (_source_row, {ident(column)}), _source_row AS _row, "
        f"CAST({ident(column)} AS BIGINT) AS _source_row FROM jl_raw_base"
    )
    staged.columns.remove(column)
