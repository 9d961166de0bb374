"""The copies of a record that retention removes with it, from the warehouse's other tables.

* linkage: the rows naming the record (:mod:`justicelab.linkage.forget`);
* ``ingest_changes``: the record's earlier field values, kept when a re-delivery changed them;
* ``ingest_quarantine``: the rows its sources' deliveries quarantined, which are not records yet and so
  have no checked date. A quarantined row goes when its batch was loaded before the cutoff (a delivery holds
  no event after its own day), or when its event date, parsed as the batch's mapping parses it, is before
  the cutoff. A row of a later batch with an unreadable date stays until its batch is older than the cutoff.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from justicelab.ingest.quarantine_dates import quarantined_event_dates
from justicelab.ingest.sql import ident, literal
from justicelab.standard import Standard
from justicelab.warehouse import BATCHES, CHANGES, QUARANTINE, Warehouse


def remove_copies(warehouse: Warehouse, dataset: str, field: str, cutoff: dt.date, records: str,
                  standard: Standard, root: Path | None = None) -> dict[str, int]:
    """Remove the copies of the records ``records`` (a SELECT of their ids) selects and the quarantined rows
    of ``dataset`` older than ``cutoff`` (by ``field``); table -> rows removed. Runs inside the caller's
    transaction, before the records themselves are deleted."""
    # The linkage is the same layer as the control plane; imported here so that reading the control plane
    # does not load the linkage engine.
    from justicelab.linkage.forget import forget_records

    counts = forget_records(warehouse, records)
    counts[CHANGES] = _delete(warehouse, CHANGES, f"entity = {literal(dataset)} AND record_id IN ({records})")
    counts[QUARANTINE] = _expire_quarantine(warehouse, dataset, field, cutoff, standard, root)
    return counts


def _delete(warehouse: Warehouse, table: str, where: str) -> int:
    if not warehouse.has_table(table):
        return 0
    n = warehouse.count(table, where)
    if n:
        warehouse.execute(f"DELETE FROM {ident(table)} WHERE {where}")
    return n


def _expire_quarantine(warehouse: Warehouse, dataset: str, field: str, cutoff: dt.date, standard: Standard,
                       root: Path | None) -> int:
    if not (warehouse.has_table(QUARANTINE) and warehouse.has_table(BATCHES)):
        return 0
    from justicelab.linkage.store import id_table

    dates = quarantined_event_dates(warehouse, dataset, field, cutoff, standard, root)
    stale = dates.filter(pc.less(dates["event_date"], pa.scalar(cutoff, pa.date32())))["row_key"]
    with id_table(warehouse, stale.combine_chunks()) as held:
        return _delete(warehouse, QUARANTINE, (
            f"entity = {literal(dataset)} AND (batch_id IN (SELECT batch_id FROM {ident(BATCHES)} "
            f"WHERE started_at < {literal(cutoff)}) OR CAST(batch_id AS VARCHAR) || ':' || "
            f"CAST(source_row AS VARCHAR) IN (SELECT id FROM {ident(held)}))"))
