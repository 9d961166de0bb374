"""Forgetting records: every linkage row that names a record which is no longer kept (retention).

Per-record tables lose the rows naming a forgotten record: the person index, the links and the review queue
(either side), reviewers' decisions (either side) and uploaded encodings. Aggregates stay: run summaries,
person history (person ids and counts) and the trained model's term frequencies, which the next trained run
replaces. A person that loses a record may have been held together by it, so its other records are marked
to be rescored: the next incremental run then re-clusters that person as a full run would.
"""

from __future__ import annotations

from justicelab.linkage import store
from justicelab.warehouse import Warehouse

#: The fingerprint a surviving record of a person that lost a record gets: it matches no record, so the next
#: incremental run rescores the record (see :mod:`justicelab.linkage.region`).
RESCORE = "forgotten-neighbour"

#: Table -> the columns that may name a record.
RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    store.PERSON_INDEX: ("record_id",),
    store.PAIRS: ("record_l", "record_r"),
    store.REVIEWS: ("record_l", "record_r"),
    store.DECISIONS: ("record_l", "record_r"),
    store.PERSON_ENCODINGS: ("record_id",),
}


def forget_records(warehouse: Warehouse, records: str) -> dict[str, int]:
    """Remove the linkage rows naming a record that ``records`` (a SELECT of one column of record ids)
    returns; table -> rows removed. Runs inside the caller's transaction, before the records themselves are
    deleted (``records`` usually selects them)."""
    counts: dict[str, int] = {}
    for table, columns in RECORD_COLUMNS.items():
        if not warehouse.has_table(table):
            counts[table] = 0
            continue
        named = " OR ".join(f'"{c}" IN ({records})' for c in columns)
        counts[table] = warehouse.count(table, named)
        if not counts[table]:
            continue
        if table == store.PERSON_INDEX:
            warehouse.execute(f"""UPDATE "{table}" SET fingerprint = '{RESCORE}'
                                  WHERE person_id IN (SELECT person_id FROM "{table}" WHERE record_id IN ({records}))
                                  AND record_id NOT IN ({records})""")
        for c in columns:  # one simple semi-join each: an OR of two scans everything
            warehouse.execute(f'DELETE FROM "{table}" WHERE "{c}" IN ({records})')
    return counts
