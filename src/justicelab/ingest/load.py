"""The load step: one transaction that files a staged batch into the warehouse.

Input (tables visible to the warehouse connection):
  ``jl_load``        valid rows: ``_record_id``, ``_source_row`` and the entity's fields;
  ``jl_quarantine``  rejected rows: ``source_row``, ``record``, ``reasons``.

Rows whose natural key is new are inserted; rows whose key exists and whose content
differs replace the old version (each changed field is written to ``ingest_changes``);
rows identical to what is stored are left alone, keeping their original lineage.
The SQL is portable between DuckDB and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from justicelab.ingest.checks import StagingSQL
from justicelab.ingest.sql import ident, literal
from justicelab.standard import ResolvedEntity
from justicelab.warehouse import BATCHES, CHANGES, QUARANTINE, Warehouse


@dataclass
class LoadCounts:
    batch_id: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    changed_fields: dict[str, int]


@dataclass
class BatchMeta:
    source: str
    entity: str
    department: str | None
    file_path: str
    file_sha256: str
    file_bytes: int
    mapping_path: str
    mapping_sha256: str
    format: str
    encoding: str | None
    delimiter: str | None
    header_row: int | None
    started_at: dt.datetime
    rows_read: int
    notes: str


def _ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"


def next_batch_id(w: Warehouse) -> int:
    """The id of the batch being filed (inside its transaction, so two loads cannot take the same id)."""
    if w.kind == "postgres":
        w.execute(f"LOCK TABLE {ident(BATCHES)} IN EXCLUSIVE MODE")
    return int(w.scalar(f"SELECT coalesce(max(batch_id), 0) + 1 FROM {ident(BATCHES)}"))


def source_has_rows(w: Warehouse, entity: ResolvedEntity, source: str) -> bool:
    return bool(w.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {ident(entity.name)} WHERE _source = {literal(source)} LIMIT 1) x"
    ))


def _file_quarantine_and_log(w: Warehouse, entity: ResolvedEntity, meta: BatchMeta, batch_id: int,
                             loaded: int, inserted: int, updated: int, unchanged: int) -> int:
    """Insert ``jl_quarantine`` and the batch log row; refuse to commit a batch that lost rows."""
    src = literal(meta.source)
    w.execute(
        f"INSERT INTO {ident(QUARANTINE)} (batch_id, source, entity, source_row, record, reasons) "
        f"SELECT {batch_id}, {src}, {literal(entity.name)}, source_row, record, reasons FROM jl_quarantine"
    )
    quarantined = int(w.scalar("SELECT count(*) FROM jl_quarantine") or 0)
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    values = [
        str(batch_id), src, literal(meta.entity), literal(meta.department), literal(meta.file_path),
        literal(meta.file_sha256), str(meta.file_bytes), literal(meta.mapping_path), literal(meta.mapping_sha256),
        literal(meta.format), literal(meta.encoding), literal(meta.delimiter),
        literal(meta.header_row), _ts(meta.started_at), _ts(finished), str(meta.rows_read), str(loaded),
        str(inserted), str(updated), str(unchanged), str(quarantined), literal(meta.notes),
    ]
    w.execute(f"INSERT INTO {ident(BATCHES)} VALUES ({', '.join(values)})")
    if meta.rows_read != loaded + quarantined:
        # Invariant 2: never commit a batch that lost or invented rows.
        raise AssertionError(
            f"{meta.file_path}: read {meta.rows_read} rows but loaded {loaded} and quarantined {quarantined}"
        )
    return quarantined


def load_batch(warehouse: Warehouse, entity: ResolvedEntity, meta: BatchMeta, loaded: int) -> LoadCounts:
    """File ``jl_load`` (``loaded`` valid rows) and ``jl_quarantine`` as one new batch, comparing with
    what the source delivered before. Must run inside ``warehouse.transaction()``."""
    w = warehouse
    table = ident(entity.name)
    batch_id = next_batch_id(w)
    fields = entity.field_names()
    src = literal(meta.source)
    updated = unchanged = 0
    changed_fields: dict[str, int] = {}
    rows = "jl_load"
    if source_has_rows(w, entity, meta.source):
        # jl_load may be a view that parses the source on every scan: copy it once for the comparisons.
        w.execute("DROP TABLE IF EXISTS jl_load_rows")
        w.execute("CREATE TEMP TABLE jl_load_rows AS SELECT * FROM jl_load")
        rows = "jl_load_rows"
        same = " AND ".join(f"o.{ident(f)} IS NOT DISTINCT FROM n.{ident(f)}" for f in fields)
        w.execute("DROP TABLE IF EXISTS jl_match")
        w.execute(
            f"CREATE TEMP TABLE jl_match AS SELECT n._record_id, o._batch_id AS previous_batch_id, "
            f"CASE WHEN {same} THEN 1 ELSE 0 END AS same "
            f"FROM {rows} n JOIN {table} o ON o._record_id = n._record_id"
        )
        unchanged = int(w.scalar("SELECT count(*) FROM jl_match WHERE same = 1") or 0)
        updated = int(w.scalar("SELECT count(*) FROM jl_match WHERE same = 0") or 0)
        if updated:
            for f in fields:
                w.execute(
                    f"INSERT INTO {ident(CHANGES)} (batch_id, previous_batch_id, entity, record_id, field, "
                    f"old_value, new_value) SELECT {batch_id}, o._batch_id, {literal(entity.name)}, n._record_id, "
                    f"{literal(f)}, CAST(o.{ident(f)} AS VARCHAR), CAST(n.{ident(f)} AS VARCHAR) "
                    f"FROM {rows} n JOIN {table} o ON o._record_id = n._record_id "
                    f"WHERE o.{ident(f)} IS DISTINCT FROM n.{ident(f)}"
                )
            for f, n in w.execute(
                f"SELECT field, count(*) FROM {ident(CHANGES)} WHERE batch_id = {batch_id} GROUP BY field"
            ):
                changed_fields[str(f)] = int(n)
            w.execute(
                f"DELETE FROM {table} WHERE _record_id IN (SELECT _record_id FROM jl_match WHERE same = 0)"
            )
    cols = ", ".join(ident(f) for f in fields)
    skip = " WHERE _record_id NOT IN (SELECT _record_id FROM jl_match WHERE same = 1)" if unchanged else ""
    w.execute(
        f"INSERT INTO {table} (_record_id, _source, _batch_id, _source_row, {cols}) "
        f"SELECT _record_id, {src}, {batch_id}, _source_row, {cols} FROM {rows}{skip}"
    )
    inserted = loaded - updated - unchanged
    quarantined = _file_quarantine_and_log(w, entity, meta, batch_id, loaded, inserted, updated, unchanged)
    return LoadCounts(batch_id, inserted, updated, unchanged, quarantined, changed_fields)


def load_fresh(warehouse: Warehouse, entity: ResolvedEntity, meta: BatchMeta, parse: StagingSQL,
               build_quarantine: Callable[[], None]) -> LoadCounts:
    """First delivery of a source into a DuckDB warehouse: one parse, straight into the table.

    Needs one staged row per source row (``_row`` = ``_source_row``), which holds unless an adapter
    reshaped the file.

    Rows that pass every check are inserted as they are parsed; duplicates of a natural key within the
    delivery are then taken out again (the first stays), and the rows that did not arrive are the
    ones to quarantine (``jl_bad``, ``jl_dups``). Must run inside ``warehouse.transaction()``.
    """
    w = warehouse
    table = ident(entity.name)
    batch_id = next_batch_id(w)
    cols = ", ".join(ident(f) for f in entity.field_names())
    w.execute(
        f"INSERT INTO {table} (_record_id, _source, _batch_id, _source_row, {cols}) {parse.cte} "
        f"SELECT {parse.record_id}, {literal(meta.source)}, {batch_id}, _source_row, {parse.fields} "
        f"FROM v WHERE NOT {parse.bad}"
    )
    this_batch = f"FROM {table} WHERE _batch_id = {batch_id}"
    has_dups = w.scalar(f"SELECT count(*) <> count(DISTINCT _record_id) {this_batch}")
    w.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE jl_dups AS
        SELECT _source_row AS _row, _source_row, first_row FROM (
            SELECT _source_row, min(_source_row) OVER (PARTITION BY _record_id) AS first_row {this_batch}) d
        WHERE _source_row <> first_row
        """
        if has_dups
        else "CREATE OR REPLACE TEMP TABLE jl_dups (_row BIGINT, _source_row BIGINT, first_row BIGINT)"
    )
    if has_dups:
        w.execute(f"DELETE FROM {table} WHERE _batch_id = {batch_id} "
                  "AND _source_row IN (SELECT _source_row FROM jl_dups)")
    w.execute(
        f"CREATE OR REPLACE TEMP TABLE jl_bad AS SELECT _row FROM jl_raw "
        f"WHERE _source_row NOT IN (SELECT _source_row {this_batch}) "
        "AND _source_row NOT IN (SELECT _source_row FROM jl_dups)"
    )
    build_quarantine()
    loaded = int(w.scalar(f"SELECT count(*) {this_batch}") or 0)
    quarantined = _file_quarantine_and_log(w, entity, meta, batch_id, loaded, loaded, 0, 0)
    return LoadCounts(batch_id, loaded, 0, 0, quarantined, {})
