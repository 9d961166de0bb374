"""The read path: the one function every surface calls to read person-level rows, and its audit record.

:func:`read` composes the user's grants (:mod:`justicelab.gate.compose`), restricts the dataset's table
to each row region's decision (:func:`justicelab.gate.restrict`), runs the query in the warehouse and
writes exactly one ledger entry: ``read`` (user, purpose, dataset, fields, level per field, row count,
query fingerprint, grants used) or ``read.denied`` (with the reason, also raised as
:class:`~justicelab.errors.AccessDenied`; a read the gate cannot restrict as decided, e.g. a hierarchy
whose reference table is not loaded, fails closed and is recorded the same way with the error). The
entry commits before any row is handed back: if the ledger cannot be written, nothing is returned.

A surface may narrow a read with ``where`` (e.g. one person, two records) but only on columns the user
sees ``identified`` in that part of the table: filtering a de-identified part by a recorded value
would let the filter stand in for the value (look up a known person id, probe a date of birth), so such
parts are withheld, with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from justicelab.control import ControlDB, Level, query_fingerprint, record_denial, record_read
from justicelab.control.periods import as_utc, utcnow
from justicelab.errors import AccessDenied, GateError, JusticelabError
from justicelab.gate.compose import LINEAGE, RECORD_ID, SOURCE, Composition, compose
from justicelab.gate.decision import AccessDecision, AllOf, AnyOf, Compare, Not, PersonIn, predicate_fields
from justicelab.gate.decision import RowPredicate as Predicate
from justicelab.gate.deidentify import PERSON_ID, ColumnPlan, DeidentificationPolicy, load_policy
from justicelab.gate.pseudonym_cache import PseudonymCache
from justicelab.gate.restriction import plan, readable_table, restrict
from justicelab.gate.secret import GateSecret
from justicelab.standard import ResolvedEntity, Standard, load_standard
from justicelab.warehouse import Generaliser, Warehouse
from justicelab.workspace import Workspace

Planned = tuple[AccessDecision, list[ColumnPlan]]


@dataclasses.dataclass(frozen=True)
class GateResult:
    """What a read returned: the rows, the composition they were restricted by, and how each column was shown.

    ``parts`` pairs each row region that was read with its per-column plan; ``withheld`` says which
    regions a ``where`` filter could not be applied to, and why; ``entry`` is the ledger entry's number.
    """

    table: pa.Table
    composition: Composition
    parts: tuple[tuple[AccessDecision, tuple[ColumnPlan, ...]], ...]
    withheld: tuple[str, ...]
    expression: ir.Table
    fingerprint: str
    entry: int

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def row_count(self) -> int:
        return int(self.table.num_rows)

    def levels(self) -> dict[str, Level]:
        """Each returned column's level: the highest any read part shows it at."""
        return column_levels(self.parts, self.columns)


#: The largest row limit a database takes (a signed 64-bit integer).
MAX_LIMIT = 2**63 - 1


def read(warehouse: Warehouse, control_db: ControlDB, workspace: Workspace | Path, user: str, dataset: str,
         purpose: str, *, at: dt.datetime | None = None, fields: Sequence[str] | None = None,
         limit: int | None = None, where: Predicate | None = None, at_least: Level | None = None,
         standard: Standard | None = None, generaliser: Generaliser | None = None, secret: GateSecret | None = None,
         policy: DeidentificationPolicy | None = None, cache: bool = True) -> GateResult:
    """Read ``dataset``'s rows that ``user`` may see for ``purpose``, each column at its level; one ledger
    entry either way. ``at`` (default now) decides which grants and consents hold; the rows are always the
    warehouse's current ones, so no surface lets a reader choose it (tests and replays pass it). Raises
    :class:`AccessDenied` (recorded) when nothing may be read.

    ``fields`` asks for some columns only (each must be shown somewhere, else the read is denied);
    ``limit`` caps the rows; ``where`` narrows the rows (see the module doc); ``at_least`` keeps only the
    rows on which every one of ``fields`` is shown at that level or above (e.g. a linkage reviewer who must
    see names as recorded), withholding the others with the reason. A whole read (no ``where``, no ``limit``)
    on DuckDB keeps the pseudonyms it computes for the connection's next reads, unless ``cache`` is False
    (:mod:`justicelab.gate.pseudonym_cache`).
    """
    standard = standard or load_standard()
    entity = standard.entity(dataset)
    at = as_utc(at) if at else utcnow()
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise GateError(f"limit {limit}: expected 0 to {MAX_LIMIT:,} rows")
    asked = _check_fields(entity, fields)
    if at_least is not None and asked is None:
        raise GateError("at_least needs the fields it applies to")
    with control_db.session() as session:
        composition = compose(session, user, dataset, purpose, at, standard=standard)
    request = {"fields": asked, "limit": limit, "where": canonical(where) if where is not None else None,
               "at_least": at_least.value if at_least else None}
    try:
        result = _run(warehouse, workspace, entity, composition, asked, limit, where, at_least, standard,
                      generaliser, secret, policy, cache)
    except JusticelabError as exc:  # refused, or could not be restricted (fail closed): recorded either way
        reasons = list(exc.reasons) if isinstance(exc, AccessDenied) else [f"{type(exc).__name__}: {exc}"]
        with control_db.session() as session:
            record_denial(session, user, dataset=dataset, purpose=purpose, reason=str(exc),
                          details={"at": at.isoformat(), "grants": list(composition.grants),
                                   "reasons": reasons, **_request_details(request, where)})
        raise
    table, expression, parts, withheld = result
    fingerprint = query_fingerprint(json.dumps(
        {"composition": [canonical_decision(d) for d, _ in parts], "columns": table.column_names,
         "request": request}, sort_keys=True, default=str))
    levels = column_levels(parts, table.column_names)
    with control_db.session() as session:
        entry = record_read(
            session, user, dataset=dataset, purpose=purpose, fields=table.column_names, level=levels,
            row_count=table.num_rows, query_fingerprint=fingerprint, grants=composition.grants,
            details={"at": at.isoformat(), "grantee": composition.grantee,
                     "rows": [d.rows.describe() if d.rows is not None else "all rows" for d, _ in parts],
                     "withheld": list(withheld), **_request_details(request, where)})
    return GateResult(table, composition, tuple((d, tuple(p)) for d, p in parts), tuple(withheld), expression,
                      fingerprint, entry.seq)


def _check_fields(entity: ResolvedEntity, fields: Sequence[str] | None) -> list[str] | None:
    if fields is None:
        return None
    known = [*entity.field_names(), RECORD_ID, SOURCE, *LINEAGE, PERSON_ID]
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise GateError(f"{entity.name} has no field {', '.join(unknown)} (fields: {', '.join(known)})")
    if not fields:
        raise GateError("an empty field list reads nothing; leave it out to read every field you may see")
    return list(dict.fromkeys(fields))


def _request_details(request: dict[str, Any], where: Predicate | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if request["fields"] is not None:
        out["fields_asked"] = request["fields"]
    if request["limit"] is not None:
        out["limit"] = request["limit"]
    if where is not None:
        out["filter"] = request["where"]
    if request["at_least"] is not None:
        out["at_least"] = request["at_least"]
    return out


def column_levels(parts: Sequence[tuple[AccessDecision, Sequence[ColumnPlan]]],
                  columns: Sequence[str]) -> dict[str, Level]:
    """Each of ``columns``' level: the highest any part shows it at."""
    out: dict[str, Level] = {}
    for _, plans in parts:
        for p in plans:
            if p.shown:
                out[p.column] = max(out.get(p.column, Level.none), p.level)
    return {c: out[c] for c in columns if c in out}


def _run(warehouse: Warehouse, workspace: Workspace | Path, entity: ResolvedEntity, composition: Composition,
         fields: list[str] | None, limit: int | None, where: Predicate | None, at_least: Level | None,
         standard: Standard, generaliser: Generaliser | None, secret: GateSecret | None,
         policy: DeidentificationPolicy | None, cache: bool) -> tuple[pa.Table, ir.Table, list[Planned], list[str]]:
    composition.require_rows()
    policy = policy or load_policy()
    parts = list(composition.readable)
    withheld: list[str] = []
    if where is not None:
        parts, withheld = _narrow(parts, where, composition)
    if fields is not None:
        parts = [_only(p, fields) for p in parts]
        shown = {p.column for d in parts for p in plan(d, entity, fields, policy) if p.shown}
        hidden = [f for f in fields if f not in shown]
        if hidden:
            why = "; ".join(f"{f}: {_why_hidden(f, parts, entity, policy)}" for f in hidden)
            raise AccessDenied(f"{composition.user} may not see {', '.join(hidden)} of {entity.name} for purpose "
                               f"{composition.purpose!r}: {why}", dataset=entity.name,
                               level=composition.level.value, reasons=(why,))
        parts = [p for p in parts if any(pl.shown for pl in plan(p, entity, fields, policy))]
        if at_least is not None:
            parts, low = _at_least(parts, fields, at_least, composition)
            withheld += low
    table = readable_table(warehouse, entity)
    root = workspace.root if isinstance(workspace, Workspace) else Path(workspace)
    secret = secret or GateSecret.load_or_create(root)
    generaliser = generaliser or Generaliser.for_warehouse(standard, warehouse)
    # a lookup or a capped read touches few rows: hashing them in the query beats filling a cache
    pseudonyms = PseudonymCache.of(warehouse) if cache and where is None and limit is None else None
    try:
        restricted = [restrict(table, d, standard, generaliser, secret, policy=policy, cache=pseudonyms)
                      for d in parts]
        expression = union_parts(restricted, [c for c in table.columns])
        if limit is not None:
            expression = expression.limit(limit)
        result = expression.to_pyarrow()
    finally:
        if pseudonyms is not None:
            pseudonyms.trim()
    plans = [(d, [p for p in plan(d, entity, table.columns, policy) if p.shown]) for d in parts]
    return result, expression, plans, withheld


def union_parts(parts: Sequence[ir.Table], order: Sequence[str]) -> ir.Table:
    """One table from the parts' restricted tables (disjoint rows): UNION ALL over the columns any part shows.

    A column shown differently by two parts (a date as recorded in one, its month label in the other)
    becomes text in both; a column a part does not show is NULL on its rows.
    """
    if len(parts) == 1:
        return parts[0]
    columns = [c for c in order if any(c in p.columns for p in parts)]
    target: dict[str, Any] = {}
    for c in columns:
        types = {p[c].type().copy(nullable=True) for p in parts if c in p.columns}
        target[c] = types.pop() if len(types) == 1 else ibis.dtype("string")
    aligned = [p.select(**{c: (p[c].cast(target[c]) if c in p.columns else ibis.null(target[c]))
                           for c in columns}) for p in parts]
    return ibis.union(*aligned, distinct=False)


def _narrow(parts: list[AccessDecision], where: Predicate,
            composition: Composition) -> tuple[list[AccessDecision], list[str]]:
    """Each part with ``where`` added to its rows, if the part shows every column ``where`` reads identified."""
    needs = sorted(predicate_fields(where))
    kept, withheld = [], []
    for d in parts:
        low = [f for f in needs if d.access(f).level is not Level.identified]
        if low:
            rows = d.rows.describe() if d.rows is not None else "all rows"
            withheld.append(f"rows where {rows}: {', '.join(low)} not identified for {composition.user}, so they "
                            "cannot be looked up by it")
            continue
        kept.append(dataclasses.replace(d, rows=where if d.rows is None else AllOf((d.rows, where))))
    if not kept:
        raise AccessDenied(f"{composition.user} may not look up rows of {composition.dataset} by "
                           f"{', '.join(needs)} for purpose {composition.purpose!r}: "
                           + "; ".join(withheld), dataset=composition.dataset, level=composition.level.value,
                           reasons=tuple(withheld))
    return kept, withheld


def _at_least(parts: list[AccessDecision], fields: Sequence[str], level: Level,
              composition: Composition) -> tuple[list[AccessDecision], list[str]]:
    kept, withheld = [], []
    for d in parts:
        low = [f"{f} ({d.access(f).level.value})" for f in fields if d.access(f).level < level]
        if low:
            rows = d.rows.describe() if d.rows is not None else "all rows"
            withheld.append(f"rows where {rows}: {', '.join(low)} below {level.value}")
        else:
            kept.append(d)
    if not kept:
        raise AccessDenied(f"{composition.user} may not see {', '.join(fields)} of {composition.dataset} at "
                           f"{level.value} for purpose {composition.purpose!r}: " + "; ".join(withheld),
                           dataset=composition.dataset, level=composition.level.value, reasons=tuple(withheld))
    return kept, withheld


def _only(decision: AccessDecision, fields: Sequence[str]) -> AccessDecision:
    return dataclasses.replace(decision, fields=tuple(decision.access(f) for f in fields))


def _why_hidden(name: str, parts: Sequence[AccessDecision], entity: ResolvedEntity,
                policy: DeidentificationPolicy) -> str:
    whys: set[str] = set()
    for d in parts:
        access = d.access(name)
        if access.level < Level.deidentified:
            whys.add(f"{access.level.value} ({access.reason})")
        else:
            whys.update(p.why for p in plan(d, entity, [name], policy) if not p.shown)
    return "; ".join(sorted(whys)) or "no grant covers it"


def canonical(predicate: Predicate) -> Any:
    """A row predicate as plain JSON with every value (person sets sorted): what the fingerprint hashes."""
    if isinstance(predicate, Compare):
        value = list(predicate.value) if isinstance(predicate.value, tuple) else predicate.value
        return {"field": predicate.field, "op": predicate.op, "value": value}
    if isinstance(predicate, PersonIn):
        return {"person_in": sorted(predicate.person_ids)}
    if isinstance(predicate, Not):
        return {"not": canonical(predicate.part)}
    kind = "all" if isinstance(predicate, AllOf) else "any"
    assert isinstance(predicate, AllOf | AnyOf)
    return {kind: [canonical(p) for p in predicate.parts]}


def canonical_decision(decision: AccessDecision) -> dict[str, Any]:
    """A decision as plain JSON, its row restriction with every value (see :func:`canonical`)."""
    body = decision.as_dict()
    body["rows"] = canonical(decision.rows) if decision.rows is not None else None
    return body
