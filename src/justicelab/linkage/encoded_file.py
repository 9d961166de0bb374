"""The file a department uploads: Parquet with one row per record and key-value metadata, checked on read.

Columns (all text): ``record_id`` (the warehouse record id, ``source:natural key``, as ingest makes it),
``name_bf``, ``dob_bf``, ``address_bf`` (base64 of each filter, null when nothing was known) and
``person_key`` (hex). Base64 text survives Parquet, DuckDB and PostgreSQL alike; DuckDB turns it into
a BIT value with :func:`justicelab.linkage.bloom.bit_sql`.

Metadata (keys ``justicelab.pprl.*``): format version, scheme fingerprint, key check value, source,
entity, row count, a SHA-256 over the rows, and when it was written. The file is not compressed:
encodings do not compress, and anyone can grep it for cleartext.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from justicelab.linkage.encoding import FILTERS, scheme_fingerprint
from justicelab.linkage.store import LinkageError

FORMAT_VERSION = "1"
COLUMNS = ("record_id", *(f.column for f in FILTERS), "person_key")
_PREFIX = "justicelab.pprl."
_META_KEYS = ("format_version", "scheme", "key_check", "source", "entity", "rows", "checksum", "created_at")
_EXPECTED = "a file written by `justicelab pprl encode`"


@dataclass(frozen=True)
class EncodedFile:
    """A validated encodings file: its rows (the columns above) and its metadata."""

    path: Path
    table: pa.Table
    meta: dict[str, str]

    @property
    def source(self) -> str:
        return self.meta["source"]

    @property
    def key_check(self) -> str:
        return self.meta["key_check"]


def checksum(table: pa.Table) -> str:
    """SHA-256 over the rows in file order: fields joined by US, rows ended by RS, a null as NUL."""
    digest = hashlib.sha256()
    joined = pc.binary_join_element_wise(*(table[c] for c in COLUMNS), "\x1f",
                                         null_handling="replace", null_replacement="\x00")
    for chunk in joined.chunks:
        digest.update(("\x1e".join(chunk.to_pylist()) + "\x1e").encode() if len(chunk) else b"")
    return digest.hexdigest()


def write_encoded(table: pa.Table, path: Path, *, source: str, entity: str, key_check: str) -> None:
    """Write the encodings with their metadata; the file appears whole or not at all."""
    table = table.select(list(COLUMNS))
    meta = {
        "format_version": FORMAT_VERSION, "scheme": scheme_fingerprint(), "key_check": key_check,
        "source": source, "entity": entity, "rows": str(table.num_rows), "checksum": checksum(table),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    table = table.replace_schema_metadata({f"{_PREFIX}{k}": v for k, v in meta.items()})
    tmp = path.with_name(f".{path.name}.partial")
    try:
        pq.write_table(table, tmp, compression="none")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_metadata(path: Path) -> dict[str, str]:
    """The file's ``justicelab.pprl.*`` metadata, without reading or checking the rows."""
    try:
        raw = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise LinkageError(f"{path}: file not found") from None
    except (OSError, pa.ArrowException) as exc:
        raise LinkageError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); "
                           f"expected {_EXPECTED}") from None
    meta = {k.decode(errors="replace").removeprefix(_PREFIX): v.decode(errors="replace")
            for k, v in raw.items() if k.startswith(_PREFIX.encode())}
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise LinkageError(f"{path}: the Parquet metadata lacks {', '.join(_PREFIX + k for k in missing)}; "
                           f"expected {_EXPECTED}")
    return meta


def _check_header(path: Path, meta: dict[str, str], schema: pa.Schema) -> None:
    if meta["format_version"] != FORMAT_VERSION:
        raise LinkageError(f"{path}: format version {meta['format_version']!r} is unknown; this platform reads "
                           f"version {FORMAT_VERSION}")
    if meta["scheme"] != scheme_fingerprint():
        raise LinkageError(
            f"{path}: encoded with scheme {meta['scheme'][:16]}…, but this platform's is {scheme_fingerprint()[:16]}…: "
            "the department and the platform must run the same justicelab version of the encoder")
    if not re.fullmatch(r"[0-9a-f]{16}", meta["key_check"]):
        raise LinkageError(f"{path}: metadata {_PREFIX}key_check is {meta['key_check']!r}; expected 16 hex "
                           "characters")
    if not meta["rows"].isdigit():
        raise LinkageError(f"{path}: metadata {_PREFIX}rows is {meta['rows']!r}; expected a whole number")
    for c in COLUMNS:
        if c not in schema.names:
            raise LinkageError(f"{path}: column {c} is missing; expected the columns {', '.join(COLUMNS)}")
        if not (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type)):
            raise LinkageError(f"{path}: column {c} is {schema.field(c).type}; expected text")
    extra = [c for c in schema.names if c not in COLUMNS]
    if extra:
        # Anything else could be cleartext that must not reach the platform.
        raise LinkageError(f"{path}: unexpected column(s) {', '.join(extra)}; an encodings file holds only "
                           f"{', '.join(COLUMNS)}")


# One row check: the column it names, SQL that is TRUE for a bad row, and SQL for what is wrong with it.
_RowCheck = tuple[str, str, str]


def _row_checks(source: str) -> list[_RowCheck]:
    src = source.replace("'", "''")
    checks: list[_RowCheck] = [
        ("record_id", "coalesce(record_id, '') = ''", "'is empty; expected the warehouse record id'"),
        ("record_id", f"NOT starts_with(record_id, '{src}:')",
         f"'is ' || record_id || '; expected a record id of source {src} ({src}:…)'"),
    ]
    for f in FILTERS:
        c, bits = f.column, f"bit_count(CAST(from_base64({f.column}) AS BIT))"
        pad = "=" * (-(f.length // 8) % 3)
        pattern = f"[A-Za-z0-9+/]{{{f.text_length - len(pad)}}}{pad}"
        checks += [
            (c, f"NOT regexp_full_match({c}, '[A-Za-z0-9+/=]*')",
             f"'holds characters other than base64 (A-Z, a-z, 0-9, +, /, =); expected a {f.length}-bit filter'"),
            (c, f"length({c}) <> {f.text_length}",
             f"'is ' || length({c}) || ' characters long; expected {f.text_length} (a {f.length}-bit filter "
             "in base64)'"),
            (c, f"NOT regexp_full_match({c}, '{pattern}')", f"'is not valid base64 of a {f.length}-bit filter'"),
            # Safe only because every value passed the format checks above (checks run in this order).
            (c, f"{bits} = 0", "'has no bit set; a missing value is stored as null, an encoding sets bits'"),
            (c, f"{bits} > {f.max_bits}",
             f"'has ' || {bits} || ' of {f.length} bits set; the encoder sets at most {f.max_bits} (a saturated "
             "filter would match everyone)'"),
        ]
    checks.append(("person_key", "NOT regexp_full_match(person_key, '[0-9a-f]{64}')",
                   "'expected 64 lowercase hex characters (an HMAC-SHA256)'"))
    return checks


def _first(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    return con.execute(sql).fetchone()


def _check_rows(path: Path, meta: dict[str, str], table: pa.Table) -> None:
    con = duckdb.connect()
    try:
        con.register("jl_enc", table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64())))
        for column, bad, what in _row_checks(meta["source"]):
            hit = _first(con, f"SELECT _row, record_id, {what} FROM jl_enc WHERE coalesce({bad}, false) "
                              "ORDER BY _row LIMIT 1")
            if hit:
                raise LinkageError(f"{path}: row {hit[0]} (record {hit[1]}), column {column}: {hit[2]}")
        dup = _first(con, "SELECT record_id, list(_row ORDER BY _row)[1:5] FROM jl_enc GROUP BY record_id "
                          "HAVING count(*) > 1 ORDER BY min(_row) LIMIT 1")
        if dup:
            raise LinkageError(f"{path}: rows {', '.join(map(str, dup[1]))} (record {dup[0]}), column record_id: "
                               "the record is encoded more than once; expected one row per record")
    finally:
        con.close()


def read_encoded(path: Path) -> EncodedFile:
    """Read an encodings file and refuse it, naming file, row, column and what was expected, unless it is
    whole (row count and checksum), of this platform's scheme, and every value is a plausible encoding."""
    meta = read_metadata(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise LinkageError(f"{path}: the rows cannot be read ({str(exc).splitlines()[0]}); expected "
                           f"{_EXPECTED}") from None
    _check_header(path, meta, table.schema)
    table = table.select(list(COLUMNS)).cast(pa.schema([(c, pa.string()) for c in COLUMNS]))
    _check_rows(path, meta, table)
    if table.num_rows != int(meta["rows"]):
        raise LinkageError(f"{path}: has {table.num_rows} rows, but {meta['rows']} were written: the file was "
                           "truncated or edited")
    if checksum(table) != meta["checksum"]:
        raise LinkageError(f"{path}: the rows do not match the checksum written with them: the file was edited "
                           "after encoding")
    return EncodedFile(path, table, meta)
