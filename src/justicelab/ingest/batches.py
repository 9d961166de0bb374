"""Reading the batch log and quarantine back: status, batch lists, quarantined rows and their export.

These return Arrow tables or plain rows built with Ibis, so they work on DuckDB and PostgreSQL alike.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from justicelab.errors import JusticelabError
from justicelab.standard import Standard, load_standard
from justicelab.warehouse import BATCHES, QUARANTINE, Warehouse, ensure_ingest_tables


def table_counts(warehouse: Warehouse, standard: Standard | None = None) -> pa.Table:
    """Rows per standard table that exists in the warehouse, with its batches and sources."""
    standard = standard or load_standard()
    present = set(warehouse.ibis.list_tables())
    rows: list[dict[str, Any]] = []
    for name, entity in standard.entities.items():
        if name not in present:
            continue
        t = warehouse.ibis.table(name)
        agg = t.aggregate(
            rows=t.count(), batches=t._batch_id.nunique(), sources=t._source.nunique()
        ).to_pyarrow().to_pylist()[0]
        rows.append({"table": name, "kind": entity.kind.value, **agg})
    return pa.Table.from_pylist(rows, schema=pa.schema(
        [("table", pa.string()), ("kind", pa.string()), ("rows", pa.int64()), ("batches", pa.int64()),
         ("sources", pa.int64())]
    ))


def list_batches(warehouse: Warehouse, source: str | None = None) -> pa.Table:
    """The batch log, newest first."""
    ensure_ingest_tables(warehouse)
    t = warehouse.ibis.table(BATCHES)
    if source:
        t = t.filter(t.source == source)
    cols = ["batch_id", "source", "entity", "file_path", "rows_read", "rows_loaded", "rows_inserted",
            "rows_updated", "rows_unchanged", "rows_quarantined", "finished_at"]
    return t.select(*cols).order_by(ibis.desc("batch_id")).to_pyarrow()


def batch(warehouse: Warehouse, batch_id: int) -> dict[str, Any]:
    ensure_ingest_tables(warehouse)
    t = warehouse.ibis.table(BATCHES)
    rows = t.filter(t.batch_id == batch_id).to_pyarrow().to_pylist()
    if not rows:
        raise JusticelabError(f"no batch {batch_id} in the batch log (see `justicelab status`)")
    return rows[0]


def quarantine_summary(warehouse: Warehouse) -> pa.Table:
    """Batches that quarantined rows, with the count per rule."""
    ensure_ingest_tables(warehouse)
    t = warehouse.ibis.table(BATCHES)
    t = t.filter(t.rows_quarantined > 0)
    return t.select("batch_id", "source", "entity", "file_path", "rows_read", "rows_quarantined").order_by(
        ibis.desc("batch_id")
    ).to_pyarrow()


def quarantined_rows(warehouse: Warehouse, batch_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    """Quarantined rows of one batch: source row, the record as read, and every reason."""
    batch(warehouse, batch_id)
    t = warehouse.ibis.table(QUARANTINE)
    t = t.filter(t.batch_id == batch_id).order_by("source_row")
    if limit:
        t = t.limit(limit)
    out = []
    for r in t.to_pyarrow().to_pylist():
        out.append(
            {"source_row": r["source_row"], "record": json.loads(r["record"]), "reasons": json.loads(r["reasons"])}
        )
    return out


def describe_reason(reason: dict[str, Any]) -> str:
    where = f"column {reason['column']}" if reason.get("column") else (reason.get("field") or "row")
    value = f" (value {reason['value']!r})" if reason.get("value") is not None else ""
    return f"{where}: {reason['message']} [{reason['rule']}]{value}"


def export_quarantine(warehouse: Warehouse, batch_id: int, out: Path) -> int:
    """Write a batch's quarantined rows to CSV: the source row number, the original columns, the reasons.

    The file can be corrected and delivered again; the corrected rows then load by natural key.
    """
    rows = quarantined_rows(warehouse, batch_id)
    columns: list[str] = []
    for r in rows:
        for c in r["record"]:
            if c not in columns:
                columns.append(c)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["_source_row", *columns, "_reasons"])
        for r in rows:
            writer.writerow(
                [r["source_row"], *[r["record"].get(c) for c in columns],
                 "; ".join(describe_reason(x) for x in r["reasons"])]
            )
    return len(rows)
