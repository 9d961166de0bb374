"""Where the person index lives in the warehouse: its tables, and reading them back.

``person_index``   one row per person-bearing record: its person id (or why it could not be linked)
``link_runs``      one row per run: when, what kind, the trained model, counts, thresholds
``link_pairs``     the accepted links of the latest run with their match weight and comparison levels
``person_history`` what each run did to person ids: new, merged, split, retired, and why
``link_reviews``   the clerical review queue (uncertain pairs with their explanation)
``link_decisions`` reviewers' must-link and cannot-link decisions, honoured by every later run
``link_term_frequencies`` the term frequencies the latest trained model scores with (part of the model)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import ibis
import pyarrow as pa

from justicelab.errors import JusticelabError
from justicelab.warehouse import Warehouse

PERSON_INDEX = "person_index"
RUNS = "link_runs"
PAIRS = "link_pairs"
HISTORY = "person_history"
REVIEWS = "link_reviews"
DECISIONS = "link_decisions"
PERSON_ENCODINGS = "person_encodings"  # keyed Bloom-filter encodings per record (encoding.py)
TERM_FREQUENCIES = "link_term_frequencies"

SCHEMAS: dict[str, ibis.Schema] = {
    PERSON_INDEX: ibis.schema({
        "record_id": "string", "person_id": "string", "source": "string", "entity": "string",
        "run_id": "int64", "linkable": "boolean", "fingerprint": "string",
    }),
    RUNS: ibis.schema({
        "run_id": "int64", "kind": "string", "started_at": "timestamp", "finished_at": "timestamp",
        "model_version": "string", "model_json": "string", "records": "int64", "unlinkable": "int64",
        "pairs_scored": "int64", "links": "int64", "persons": "int64", "threshold": "float64",
        "review_low": "float64", "reviews_added": "int64", "notes": "string",
    }),
    PAIRS: ibis.schema({
        "run_id": "int64", "record_l": "string", "record_r": "string", "match_probability": "float64",
        "match_weight": "float64", "levels": "string", "basis": "string",
    }),
    HISTORY: ibis.schema({
        "run_id": "int64", "event": "string", "person_id": "string", "related": "string", "records": "int64",
        "detail": "string",
    }),
    REVIEWS: ibis.schema({
        "review_id": "int64", "run_id": "int64", "record_l": "string", "record_r": "string",
        "match_probability": "float64", "match_weight": "float64", "levels": "string", "status": "string",
        "decided_by": "string", "decided_at": "timestamp", "note": "string", "reason": "string",
    }),
    DECISIONS: ibis.schema({
        "decision_id": "int64", "record_l": "string", "record_r": "string", "decision": "string",
        "decided_by": "string", "decided_at": "timestamp", "review_id": "int64", "note": "string",
    }),
    TERM_FREQUENCIES: ibis.schema({
        "run_id": "int64", "column_name": "string", "value": "string", "tf": "float64",
    }),
}


class LinkageError(JusticelabError):
    """The person index cannot be built or changed as asked."""


def utcnow() -> dt.datetime:
    """Naive UTC, as the timestamp columns store it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def append_rows(warehouse: Warehouse, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Append plain rows to one of the tables above, typed by its schema (inside the caller's transaction)."""
    schema = SCHEMAS[table].to_pyarrow()
    warehouse.insert_arrow(table, pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows],
                                                       schema=schema))


def ensure_link_tables(warehouse: Warehouse) -> None:
    for name, schema in SCHEMAS.items():
        warehouse.ensure_table(name, schema)


def next_id(warehouse: Warehouse, table: str, column: str) -> int:
    return int(warehouse.scalar(f'SELECT coalesce(max("{column}"), 0) FROM "{table}"') or 0) + 1


def latest_run(warehouse: Warehouse) -> dict[str, Any] | None:
    """The newest run's row, with its model parsed, or None before the first run."""
    if not warehouse.has_table(RUNS):
        return None
    t = warehouse.ibis.table(RUNS)
    rows = t.order_by(ibis.desc("run_id")).limit(1).to_pyarrow().to_pylist()
    if not rows:
        return None
    run = rows[0]
    run["model"] = json.loads(run.pop("model_json"))
    return dict(run)


def run_model(warehouse: Warehouse, run_id: int) -> dict[str, Any]:
    """The model a run scored with (stored links and reviews are read back with it)."""
    t = warehouse.ibis.table(RUNS)
    rows = t.filter(t.run_id == run_id).select("model_json").to_pyarrow().to_pylist()
    if not rows:
        raise LinkageError(f"run {run_id} is not in {RUNS}")
    return dict(json.loads(rows[0]["model_json"]))


def term_frequencies(warehouse: Warehouse) -> pa.Table | None:
    """The stored term frequencies (column_name, value, tf), or None if the index predates storing them."""
    if not warehouse.has_table(TERM_FREQUENCIES) or warehouse.count(TERM_FREQUENCIES) == 0:
        return None
    return warehouse.ibis.table(TERM_FREQUENCIES).select("column_name", "value", "tf").to_pyarrow()


def highest_person_ids(warehouse: Warehouse, prefix: str, n: int = 20) -> list[str]:
    """The highest ``prefix`` ids the index and its history ever held (ids are never reused), found in the
    warehouse: ids are zero-padded, so the longest and then greatest texts are the highest numbers."""
    return [p for table in (PERSON_INDEX, HISTORY) for (p,) in warehouse.execute(
        f"""SELECT person_id FROM "{table}" WHERE person_id LIKE '{prefix}%'
            ORDER BY length(person_id) DESC, person_id DESC LIMIT {int(n)}""")]


def id_table(warehouse: Warehouse, ids: Sequence[str] | pa.Array) -> contextlib.AbstractContextManager[str]:
    """A one-column table (``id``) holding ``ids`` that the warehouse's own SQL can join with while the
    block runs (see :func:`held_table`). Yields its name."""
    return held_table(warehouse, pa.table({"id": pa.array(ids, pa.string())}))


@contextlib.contextmanager
def held_table(warehouse: Warehouse, table: pa.Table) -> Iterator[str]:
    """``table`` (text columns) as a table the warehouse's own SQL can join with while the block runs: an
    Arrow view on DuckDB, a temporary table on PostgreSQL. Yields its name."""
    name = f"jl_held_{uuid.uuid4().hex[:12]}"
    if warehouse.kind == "duckdb":
        warehouse.raw.register(name, table)
        try:
            yield name
        finally:
            warehouse.raw.unregister(name)
        return
    columns = ", ".join(f'"{c}" TEXT' for c in table.column_names)
    warehouse.execute(f'CREATE TEMPORARY TABLE "{name}" ({columns})')
    try:
        warehouse.insert_arrow(name, table)
        warehouse.execute(f'ANALYZE "{name}"')
        yield name
    finally:
        # inside a failed transaction the drop fails too; the rollback drops the table anyway
        with contextlib.suppress(Exception):
            warehouse.execute(f'DROP TABLE IF EXISTS "{name}"')


def query_arrow(warehouse: Warehouse, sql: str, schema: pa.Schema) -> pa.Table:
    """The rows of a query on the warehouse as an Arrow table of ``schema`` (for results bounded by what
    changed: on PostgreSQL they pass through Python)."""
    if warehouse.kind == "duckdb":
        return warehouse.raw.execute(sql).to_arrow_table().cast(schema)
    rows = warehouse.execute(sql)
    return pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema=schema)


def person_ids(warehouse: Warehouse) -> dict[str, str]:
    """record id -> person id, as the index stands."""
    if not warehouse.has_table(PERSON_INDEX):
        return {}
    rows = warehouse.ibis.table(PERSON_INDEX).select("record_id", "person_id").to_pyarrow()
    return dict(zip(rows["record_id"].to_pylist(), rows["person_id"].to_pylist(), strict=True))
