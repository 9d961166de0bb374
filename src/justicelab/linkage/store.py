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

import datetime as dt
import json
from collections.abc import Sequence
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


def person_ids(warehouse: Warehouse) -> dict[str, str]:
    """record id -> person id, as the index stands."""
    if not warehouse.has_table(PERSON_INDEX):
        return {}
    rows = warehouse.ibis.table(PERSON_INDEX).select("record_id", "person_id").to_pyarrow()
    return dict(zip(rows["record_id"].to_pylist(), rows["person_id"].to_pylist(), strict=True))
