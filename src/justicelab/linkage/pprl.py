"""Linking without cleartext identifiers: a department encodes its extract, the platform loads the encodings.

:func:`encode_extract` runs on the department's own machine (no workspace, no server): it reads the
extract with its ingest mapping exactly as ingest would, standardises the person fields exactly as the
linkage does, and writes only encodings. :func:`load_encodings` files them in the warehouse table
``person_encodings``, refusing a file encoded with a different secret than the uploads before it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pyarrow.compute as pc

from justicelab.ingest import LoadedMapping, stage_loadable
from justicelab.ingest.sql import ident, literal
from justicelab.linkage.encoded_file import COLUMNS, read_encoded, write_encoded
from justicelab.linkage.encoding import FILTER_COLUMNS, encode_records, key_check
from justicelab.linkage.records import gather
from justicelab.linkage.store import PERSON_ENCODINGS, LinkageError, next_id, utcnow
from justicelab.standard import Standard, load_standard
from justicelab.warehouse import Warehouse

Progress = Callable[[str], None]

ENCODINGS_SCHEMA = ibis.schema({
    "record_id": "string", "source": "string", "name_bf": "string", "dob_bf": "string", "address_bf": "string",
    "person_key": "string", "key_check": "string", "scheme": "string", "batch": "int64", "loaded_at": "timestamp",
})


@dataclass
class EncodeSummary:
    """What ``pprl encode`` did: rows read, records encoded, records with nothing to encode."""

    source: str
    entity: str
    out: Path
    rows_read: int
    records: int  # the records ingest would load (the rest it would quarantine: they are not encoded)
    encoded: int
    empty: int  # records with no identifier at all: kept, every encoding null
    filters: dict[str, int] = field(default_factory=dict)  # non-null encodings per column
    key_check: str = ""

    def as_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"measure": "source", "value": self.source}, {"measure": "entity", "value": self.entity},
            {"measure": "file", "value": str(self.out)}, {"measure": "rows read", "value": self.rows_read},
            {"measure": "records", "value": self.records}, {"measure": "encoded", "value": self.encoded},
            {"measure": "nothing to encode", "value": self.empty},
        ]
        rows += [{"measure": f"{c} present", "value": n} for c, n in self.filters.items()]
        return [*rows, {"measure": "key check", "value": self.key_check}]


def encode_rows(rows: pa.Table, source: str, entity: str, secret: bytes,
                standard: Standard | None = None) -> pa.Table:
    """Encode one entity's rows as ingest files them (``_record_id`` and the entity's fields): gathered and
    standardised exactly as the linkage gathers and standardises the warehouse's records (the same code, on
    a scratch warehouse in memory)."""
    with Warehouse.open(":memory:") as scratch:
        con = scratch.raw
        con.register("jl_rows", rows)
        con.execute(f"CREATE TABLE {ident(entity)} AS SELECT *, {literal(source)} AS _source FROM jl_rows")
        con.unregister("jl_rows")
        con.register("jl_gathered", gather(scratch, standard))
        return encode_records(con, "jl_gathered", secret)


def encode_extract(path: Path, loaded: LoadedMapping, secret: bytes, out: Path, *,
                   standard: Standard | None = None, progress: Progress | None = None) -> EncodeSummary:
    """Encode a department's extract (read with its ingest mapping) into an encodings file at ``out``."""
    report = progress or (lambda stage: None)
    standard = standard or load_standard()
    entity = standard.entity(loaded.mapping.entity)
    if "person" not in entity.includes:
        raise LinkageError(f"{loaded.path}: the mapping fills {entity.name}, which carries no person fields; "
                           "there is nothing to encode")
    con = duckdb.connect()
    try:
        report("reading")
        staged = stage_loadable(con, path, loaded, standard)
        rows = con.execute("SELECT * EXCLUDE (_source_row) FROM jl_loadable").to_arrow_table()
    finally:
        con.close()
    report("encoding")
    encoded = encode_rows(rows, loaded.source_name, entity.name, secret, standard)
    report("writing")
    write_encoded(encoded, out, source=loaded.source_name, entity=entity.name, key_check=key_check(secret))
    kept = (*FILTER_COLUMNS, "person_key")
    present = {c: encoded.num_rows - encoded[c].null_count for c in kept}
    n_encoded = int(pc.sum(functools.reduce(pc.or_, (pc.is_valid(encoded[c]) for c in kept))).as_py() or 0)
    return EncodeSummary(loaded.source_name, entity.name, out, staged.rows_read, encoded.num_rows, n_encoded,
                         encoded.num_rows - n_encoded, present, key_check(secret))


@dataclass
class LoadSummary:
    """What ``pprl load`` filed."""

    file: str
    source: str
    batch: int
    rows: int
    replaced: int  # earlier encodings of the same records, now replaced
    in_warehouse: int  # rows whose record is already ingested (the rest join once it is)
    key_check: str

    def as_rows(self) -> list[dict[str, Any]]:
        return [{"measure": k.replace("_", " "), "value": v} for k, v in self.__dict__.items()]


def _refuse_other_secret(warehouse: Warehouse, path: Path, check: str) -> None:
    table = ident(PERSON_ENCODINGS)
    earlier = warehouse.execute(f"SELECT key_check, count(DISTINCT batch) FROM {table} GROUP BY key_check "
                                "ORDER BY 2 DESC")
    if any(kc != check for kc, _ in earlier):
        uploads = sum(int(n) for _, n in earlier)
        raise LinkageError(
            f"{path} was encoded with a different secret than the {uploads} earlier upload"
            f"{'' if uploads == 1 else 's'} (key check {check} ≠ {earlier[0][0]}); every department must "
            "encode with the same secret file")


def load_encodings(warehouse: Warehouse, path: Path) -> LoadSummary:
    """Validate an encodings file and file its rows in ``person_encodings`` as one batch, all or nothing.

    The first upload fixes the workspace's key check value; re-loading records replaces their encodings.
    """
    enc = read_encoded(path)
    warehouse.ensure_table(PERSON_ENCODINGS, ENCODINGS_SCHEMA)
    table = ident(PERSON_ENCODINGS)
    with warehouse.transaction():
        if warehouse.kind == "postgres":
            # Two uploads at once must not both see an empty table and fix different secrets.
            warehouse.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        _refuse_other_secret(warehouse, path, enc.key_check)
        batch = next_id(warehouse, PERSON_ENCODINGS, "batch")
        n = enc.table.num_rows
        rows = enc.table.select(list(COLUMNS))
        for name, value, kind in (("source", enc.source, pa.string()), ("key_check", enc.key_check, pa.string()),
                                  ("scheme", enc.meta["scheme"], pa.string()), ("batch", batch, pa.int64()),
                                  ("loaded_at", utcnow(), pa.timestamp("us"))):
            rows = rows.append_column(name, pa.array([value] * n, kind))
        warehouse.insert_arrow(PERSON_ENCODINGS, rows)
        older = f"batch <> {batch} AND record_id IN (SELECT record_id FROM {table} WHERE batch = {batch})"
        replaced = int(warehouse.scalar(f"SELECT count(*) FROM {table} WHERE {older}") or 0)
        warehouse.execute(f"DELETE FROM {table} WHERE {older}")
    entity = enc.meta["entity"]
    in_warehouse = int(warehouse.scalar(
        f"SELECT count(*) FROM {table} e JOIN {ident(entity)} r ON r._record_id = e.record_id "
        f"WHERE e.batch = {batch}") or 0) if warehouse.has_table(entity) else 0
    return LoadSummary(str(path), enc.source, batch, n, replaced, in_warehouse, enc.key_check)
