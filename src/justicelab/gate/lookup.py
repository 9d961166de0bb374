"""Looking up one person's or a few records' rows through the gate: ``person show``, ``link explain``,
``link review``.

Each dataset is one :func:`justicelab.gate.read` (one ledger entry), narrowed by a ``where`` on the real
person id or record id. The gate allows such a lookup only where the user sees that id ``identified``
(a de-identified part cannot be searched by a known id), so these surfaces show nothing a read could not.

``person show`` reads every person-bearing dataset in the warehouse, whether or not the person has
records in it, so that a withheld dataset ("no grant") never tells whether the person appears there.
Linkage review shows both records' identifying values and how they compare, so it needs every linkage
field the dataset has at ``identified`` on the record's row (:data:`LINKAGE_FIELDS`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justicelab.control import ControlDB, Level
from justicelab.errors import AccessDenied, GateError
from justicelab.gate.compose import RECORD_ID, SOURCE
from justicelab.gate.decision import Compare, PersonIn
from justicelab.gate.read import read
from justicelab.linkage.store import PERSON_INDEX
from justicelab.standard import Standard, load_standard
from justicelab.warehouse import BATCHES, Generaliser, Warehouse
from justicelab.workspace import Workspace

#: What ``person show`` prints of each record (when the user may see it).
PERSON_COLUMNS = ("last_name", "first_name", "middle_name", "date_of_birth", "sex", "address")
#: The fields the person index compares (``linkage/model.py``): a reviewer sees them all, so needs them identified.
LINKAGE_FIELDS = ("source_person_id", "last_name", "first_name", "middle_name", "date_of_birth", "age", "sex",
                  "race_ethnicity", "address", "zip")


@dataclass
class Lookup:
    """Rows found through the gate, and each dataset withheld (or partly withheld) with the reason."""

    records: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[dict[str, str]] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)


def _departments(warehouse: Warehouse) -> dict[str, str]:
    if not warehouse.has_table(BATCHES):
        return {}
    rows = warehouse.ibis.table(BATCHES).select("source", "department").distinct().to_pyarrow().to_pylist()
    return {r["source"]: r["department"] for r in rows if r["department"]}


def person_lookup(warehouse: Warehouse, control_db: ControlDB, workspace: Workspace | Path, user: str,
                  person_id: str, purpose: str, *, at: dt.datetime | None = None,
                  standard: Standard | None = None, generaliser: Generaliser | None = None) -> Lookup:
    """Every record of ``person_id`` that ``user`` may see for ``purpose``, dataset by dataset."""
    if not warehouse.has_table(PERSON_INDEX):
        raise GateError("no person index yet: run `justicelab link run`")
    standard = standard or load_standard()
    generaliser = generaliser or Generaliser.for_warehouse(standard, warehouse)
    departments = _departments(warehouse)
    out = Lookup()
    for entity in sorted(standard.entities.values(), key=lambda e: e.name):
        if not entity.person_bearing or not warehouse.has_table(entity.name):
            continue
        try:
            result = read(warehouse, control_db, workspace, user, entity.name, purpose, at=at, standard=standard,
                          generaliser=generaliser, where=PersonIn(frozenset({person_id}), "the person asked for"))
        except AccessDenied as exc:
            out.withheld.append({"dataset": entity.name, "reason": str(exc)})
            continue
        out.entries.append(result.entry)
        out.withheld += [{"dataset": entity.name, "reason": w} for w in result.withheld]
        for row in result.table.to_pylist():
            record = {"dataset": entity.name, "record_id": row.get(RECORD_ID), "source": row.get(SOURCE),
                      "department": departments.get(row.get(SOURCE) or "")}
            record.update({c: row.get(c) for c in PERSON_COLUMNS})
            out.records.append(record)
    return out


def datasets_of(warehouse: Warehouse, record_ids: Sequence[str]) -> dict[str, str]:
    """record id -> the dataset (entity) the person index files it under; a GateError naming any unknown one."""
    if not warehouse.has_table(PERSON_INDEX):
        raise GateError("no person index yet: run `justicelab link run`")
    index = warehouse.ibis.table(PERSON_INDEX)
    rows = (index.filter(index.record_id.isin(list(record_ids))).select("record_id", "entity").distinct()
            .to_pyarrow().to_pylist())
    found = {r["record_id"]: r["entity"] for r in rows}
    missing = [r for r in record_ids if r not in found]
    if missing:
        raise GateError(f"record {', '.join(repr(m) for m in missing)} is not in the warehouse's person index "
                        "(record ids look like 'jail_bookings:B20-000001'; see `justicelab person show`)")
    return found


def review_lookup(warehouse: Warehouse, control_db: ControlDB, workspace: Workspace | Path, user: str,
                  record_ids: Sequence[str], purpose: str, *, at: dt.datetime | None = None,
                  standard: Standard | None = None, generaliser: Generaliser | None = None,
                  strict: bool = True) -> Lookup:
    """The records ``user`` may review: each with every linkage field identified, one read per dataset.

    ``strict`` raises :class:`AccessDenied` unless every record is readable so (``link explain``, a
    review's decision); otherwise the unreadable ones are only reported (``link review list``).
    """
    standard = standard or load_standard()
    wanted = list(dict.fromkeys(record_ids))
    by_dataset: dict[str, list[str]] = {}
    for record, dataset in datasets_of(warehouse, wanted).items():
        by_dataset.setdefault(dataset, []).append(record)
    generaliser = generaliser or Generaliser.for_warehouse(standard, warehouse)
    out = Lookup()
    for dataset, records in sorted(by_dataset.items()):
        entity = standard.entity(dataset)
        fields = [RECORD_ID, *(f for f in LINKAGE_FIELDS if f in entity.field_names())]
        try:
            result = read(warehouse, control_db, workspace, user, dataset, purpose, at=at, standard=standard,
                          generaliser=generaliser, fields=fields, at_least=Level.identified,
                          where=Compare(RECORD_ID, "in", tuple(sorted(records)), "the records asked for"))
        except AccessDenied as exc:
            if strict:
                raise
            out.withheld.append({"dataset": dataset, "reason": str(exc)})
            continue
        out.entries.append(result.entry)
        rows = {r[RECORD_ID]: r for r in result.table.to_pylist()}
        unseen = [r for r in records if r not in rows]
        if unseen:
            why = (f"{user} may not see {', '.join(unseen)} with its linkage fields identified for purpose "
                   f"{purpose!r}" + (f" ({'; '.join(result.withheld)})" if result.withheld else ""))
            if strict:
                raise AccessDenied(why, dataset=dataset, level=result.composition.level.value,
                                   reasons=tuple(result.withheld))
            out.withheld.append({"dataset": dataset, "reason": why})
        out.records += [{"dataset": dataset, **rows[r]} for r in records if r in rows]
    return out
