"""Quarantined rows through the gate: ``quarantine show`` and ``quarantine export``.

A quarantined row is a source row as delivered (every column of the extract, unparsed) that did not load:
it has no person id, no parsed values, so no row rule can be applied to it and no field can be
de-identified. Showing it therefore needs ``identified`` access to every field of the target dataset on
every row, i.e. grants without a row rule (typically the owning department's data team, under an agreement
whose purpose covers data quality). Each look is recorded in the audit ledger like a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from justicelab.control import ControlDB, Level, query_fingerprint, record_denial, record_read
from justicelab.control.periods import as_utc, utcnow
from justicelab.errors import AccessDenied
from justicelab.gate.compose import Composition, compose
from justicelab.ingest.batches import batch, quarantined_rows
from justicelab.standard import Standard, load_standard
from justicelab.warehouse import Warehouse


def _denial(composition: Composition) -> str | None:
    """Why the composition does not give identified access to every field on every row (None if it does)."""
    denied = composition.denial()
    if denied is not None:
        return str(denied)
    everywhere = [p for p in composition.parts if p.rows is None]
    names = [f.field for f in composition.parts[0].fields] if composition.parts else []
    low = sorted({f for p in composition.parts for f in names if p.access(f).level is not Level.identified})
    if not everywhere:
        rules = "; ".join(p.rows.describe() for p in composition.parts if p.rows is not None)
        return (f"{composition.user}'s grants on {composition.dataset} for purpose {composition.purpose!r} hold only "
                f"on some rows ({rules}); quarantined rows are unparsed source rows that no row rule can be "
                "checked against, so they need identified access without a row rule")
    if low:
        return (f"{composition.user} does not see {', '.join(low)} of {composition.dataset} identified for purpose "
                f"{composition.purpose!r}; quarantined rows are source rows as delivered, so they need identified "
                "access to every field")
    return None


def read_quarantine(warehouse: Warehouse, control_db: ControlDB, user: str, batch_id: int, purpose: str, *,
                    limit: int | None = None, at: dt.datetime | None = None,
                    standard: Standard | None = None) -> list[dict[str, Any]]:
    """The quarantined rows of ``batch_id``, if ``user`` has identified access to the whole target dataset for
    ``purpose``; one ledger entry (``read`` or ``read.denied``) either way."""
    standard = standard or load_standard()
    at = as_utc(at) if at else utcnow()
    info = batch(warehouse, batch_id)
    dataset = str(info["entity"])
    with control_db.session() as session:
        composition = compose(session, user, dataset, purpose, at, standard=standard)
    why = _denial(composition)
    details = {"at": at.isoformat(), "quarantine_batch": batch_id, "source": info.get("source"), "limit": limit}
    if why is not None:
        with control_db.session() as session:
            record_denial(session, user, dataset=dataset, purpose=purpose, reason=why,
                          details={**details, "grants": list(composition.grants)})
        raise AccessDenied(why if why.startswith(f"{user} may not") else
                           f"{user} may not see quarantined rows of {dataset}: {why}", dataset=dataset,
                           level=composition.level.value, reasons=(why,))
    rows = quarantined_rows(warehouse, batch_id, limit)
    columns = sorted({c for r in rows for c in r["record"]})
    fingerprint = query_fingerprint(f"quarantine batch={batch_id} limit={limit} purpose={purpose}")
    with control_db.session() as session:
        record_read(session, user, dataset=dataset, purpose=purpose, fields=columns, level=Level.identified,
                    row_count=len(rows), query_fingerprint=fingerprint, grants=composition.grants, details=details)
    return rows
