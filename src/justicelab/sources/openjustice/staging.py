"""What the OpenJustice adapters share beyond county names: reading a DOJ file into DuckDB with its row
numbers, code-list lookups compiled to SQL, and handing a reshaped copy to ingest with its shipped mapping.

An adapter that must reshape a file (wide to long, codes translated through the standard's code lists,
records of an older release left to a newer one) does it in one DuckDB query over the whole file and
writes the result to a Parquet file in a temporary folder. The copy keeps each record's row number in the
original file (``source_row``), so ingest's lineage, quarantine and batch log point at the original.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import yaml

from justicelab.errors import SourceFileError
from justicelab.ingest import BatchResult, LoadedMapping, Progress, ingest_file, parse_mapping
from justicelab.ingest.pipeline import file_sha256, find_loaded
from justicelab.ingest.readers import missing_columns_error
from justicelab.ingest.readers import resolve_columns as match_header
from justicelab.ingest.sql import ident, literal
from justicelab.sources.openjustice.common import DEPARTMENT
from justicelab.standard import load_standard
from justicelab.warehouse import BATCHES, Warehouse

MAPPINGS = Path(__file__).with_name("mappings")
ROW = "source_row"  # the column every reshaped copy carries: the record's row number in the original file
_CHUNK = 1 << 22


def _doubled_carriage_returns(path: Path) -> bool:
    """DOJ's 2019 death-in-custody files end their lines with CR CR LF, which no CSV reader accepts."""
    with path.open("rb") as fh:
        return b"\r\r\n" in fh.read(1 << 16)


def _single_line_ends(path: Path, workdir: Path) -> Path:
    """A copy of ``path`` whose CR CR LF line ends are CR LF (streamed; one record per line either way,
    so row numbers do not change)."""
    target = workdir / (path.name + ".crlf")
    with path.open("rb") as src, target.open("wb") as dst:
        carry = b""
        while chunk := src.read(_CHUNK):
            data = carry + chunk
            # Keep trailing CRs for the next chunk: they may start a CR CR LF split across chunks.
            cut = len(data.rstrip(b"\r"))
            data, carry = data[:cut], data[cut:]
            dst.write(data.replace(b"\r\r\n", b"\r\n"))
        dst.write(carry)
    return target


def read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    *,
    header: bool = True,
    names: Sequence[str] | None = None,
) -> list[str]:
    """Load a DOJ CSV into ``table`` as text, plus ``source_row`` (the row a person sees when opening the
    file: the header is row 1). Returns the file's column names.

    Every record must split into the header's columns: DOJ's files are machine-written, so a row that
    does not is a damaged file, reported with its row number, and nothing is loaded.
    """
    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: the file is empty (0 bytes)")
    with tempfile.TemporaryDirectory(prefix="justicelab-oj-") as tmp:
        read_path = _single_line_ends(path, Path(tmp)) if _doubled_carriage_returns(path) else path
        opts = [
            "all_varchar = true",
            f"header = {'true' if header else 'false'}",
            "delim = ','",
            "quote = '\"'",
            "escape = '\"'",
            "strict_mode = true",
            "null_padding = false",
        ]
        if names:
            opts.append("columns = {" + ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names) + "}")
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {ident(table + '_raw')} AS "
                f"SELECT * FROM read_csv({literal(str(read_path))}, {', '.join(opts)})"
            )
        except duckdb.Error as exc:
            raise SourceFileError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    first = 2 if header else 1
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS "
        f"SELECT *, CAST(rowid + {first} AS BIGINT) AS {ROW} FROM {ident(table + '_raw')}"
    )
    con.execute(f"DROP TABLE {ident(table + '_raw')}")
    columns = [c[0] for c in con.execute(f"SELECT * FROM {ident(table)} LIMIT 0").description]
    if not con.execute(f"SELECT count(*) FROM {ident(table)}").fetchone()[0]:  # type: ignore[index]
        raise SourceFileError(f"{path}: the file has no data rows")
    return [c for c in columns if c != ROW]


def resolve_columns(path: Path, present: Sequence[str], needed: Iterable[str]) -> dict[str, str]:
    """The file's spelling of each needed column (ingest's header matching), or ingest's error naming
    the missing columns and the closest present ones."""
    needed = list(needed)
    found = match_header(needed, present)
    if found is None:
        raise SourceFileError(missing_columns_error(path, needed, present, 1))
    return found


def code_pairs(codelist: str, attribute: str = "doj_code", *, also: str | None = None) -> dict[str, str]:
    """DOJ value (lower case) -> standard code, from a code list's attribute ("|" separates several values);
    ``also`` names a second attribute read the same way (e.g. the facility-of-death word)."""
    pairs: dict[str, str] = {}
    for code in load_standard().codelist(codelist).codes:
        for attr in (attribute, also):
            if attr and attr in code.attributes:
                for value in code.attributes[attr].split("|"):
                    pairs[value.strip().lower()] = code.code
    return pairs


def label_pairs(codelist: str) -> dict[str, str]:
    """Code label (lower case) -> code, for code lists whose labels are DOJ's words (sex: Male, Female)."""
    return {c.label.lower(): c.code for c in load_standard().codelist(codelist).codes}


def code_sql(expr: str, pairs: dict[str, str]) -> str:
    """SQL translating a DOJ value to its standard code, ignoring case and surrounding space. A value the
    code list does not know is kept as it is, so that ingest quarantines it with the value DOJ wrote."""
    entries = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in sorted(pairs.items()))
    return f"coalesce(MAP {{{entries}}}[lower(trim({expr}))], trim({expr}))"


def shipped_mapping(name: str, *, derived_from: Sequence[Path] = (), source: str | None = None) -> LoadedMapping:
    """A mapping shipped with the adapters (``mappings/NAME.yaml``).

    ``derived_from`` names the other files the reshaped copy depends on (e.g. the agency directory's
    matches): their SHA-256 is added to the mapping's description, so the batch log records them and a
    change in any of them makes the next load a new batch instead of "already loaded". ``source`` renames
    the source, for one mapping that loads several files.
    """
    path = MAPPINGS / f"{name}.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if source:
        data["name"] = source
    if derived_from:
        inputs = "; ".join(f"{p.name} (sha256 {file_sha256(p)})" for p in derived_from)
        data["description"] = f"{data.get('description', '').strip()} Also derived from: {inputs}."
    return parse_mapping(data, path)


def already_loaded(warehouse: Warehouse, mapping: LoadedMapping, origin: Path) -> BatchResult | None:
    """The batch that loaded ``origin`` with ``mapping`` before, as ingest reports a repeated load, so that
    an adapter can skip reading and reshaping a file it would not load again."""
    if not warehouse.has_table(BATCHES):
        return None
    previous = find_loaded(warehouse, mapping.source_name, file_sha256(origin), mapping.sha256)
    if previous is None:
        return None
    return BatchResult("skipped", mapping.source_name, mapping.mapping.entity, str(origin), int(previous),
                       notes=[f"already loaded as batch {previous}"])


def ingest_reshaped(
    warehouse: Warehouse,
    con: duckdb.DuckDBPyConnection,
    select_sql: str,
    mapping: LoadedMapping,
    origin: Path,
    progress: Progress | None = None,
) -> BatchResult:
    """Write ``select_sql`` (which must give ``source_row``) to Parquet and ingest it as ``origin``."""
    if (done := already_loaded(warehouse, mapping, origin)) is not None:
        return done
    with tempfile.TemporaryDirectory(prefix="justicelab-oj-") as tmp:
        out = Path(tmp) / f"{origin.stem}.parquet"
        con.execute(f"COPY (SELECT * FROM ({select_sql}) ORDER BY {ROW}) TO {literal(str(out))} (FORMAT parquet)")
        return ingest_file(warehouse, out, mapping, department=DEPARTMENT, origin=origin, progress=progress)
