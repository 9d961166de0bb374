"""Aggregate reads: an indicator computed through access control, for users whose grants give counts only.

``aggregate`` is the lowest level that gives anything: no rows, only counts through the indicator engine,
with the agreement's minimum cell size enforced. :func:`compute_gated` is that read path:

* every record-level dataset the indicator counts (its numerator's and a measure denominator's table, when
  the standard's entity is person events or incidents; population, reference and published aggregate tables
  are public) is checked with the gate's grant composition: the user needs ``aggregate`` or above on it for
  the purpose, on every field the request reads (dimensions, includes/excludes), else
  :class:`~justicelab.errors.AccessDenied` with the reason;
* only the rows the grants admit are counted: each row region of the composition with its row rule (consent,
  field values), applied in the database under the engine, which never sees another row;
* the answer comes with its totals (every margin the engine can compute: all but the dimensions whose values
  overlap and, for rates per resident, year), and every cell or total whose record count (the numerator, and a
  denominator that counts records) is between 1 and the minimum cell size - 1 is suppressed, with optimal
  complementary suppression (:func:`justicelab.privacy.tables.suppress`) so that no suppressed cell can be
  worked out from the published cells and totals of the same answer;
* one audit-ledger entry per read (``read`` at level ``aggregate``, with the cells and suppressed cells) or
  refusal (``read.denied``), committed before the answer is returned.

Answers to different questions are each protected on their own: a user who asks the same indicator by
county, then by county and sex, is not prevented from comparing the two (the ledger records both).

Layering: indicators and privacy are one layer; this module uses ``privacy.tables``, which imports nothing of
``indicators`` (parts of ``privacy`` import the engine), and the gate below both.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select

from justicelab.control import ControlDB, Level, query_fingerprint, record_denial, record_read
from justicelab.control.models import Dataset, Department
from justicelab.control.periods import as_utc, utcnow
from justicelab.errors import AccessDenied, GateError, JusticelabError
from justicelab.gate import (
    AnyOf,
    Composition,
    compose,
    readable_table,
    row_filter,  # the gate's own row-rule SQL: reads and counts agree
)
from justicelab.indicators.engine import IndicatorError, Request, build, execute
from justicelab.privacy.tables import TOTAL, CountTable, suppress, threshold_rule
from justicelab.standard import EntityKind, ResolvedEntity, Standard, load_standard
from justicelab.standard.indicators import Indicator, Measure
from justicelab.warehouse import Warehouse

RECORD_LEVEL = (EntityKind.person_event, EntityKind.incident)
TOTAL_OF, SUPPRESSED, SUPPRESSION = "total_of", "suppressed", "suppression"
# Hidden with the value on a suppressed cell: each of them, or a flag derived from the count, narrows it down.
HIDDEN = ("value", "numerator", "unstable", "unstable_reason", "previous", "change", "pct_change")
CHANGE = ("previous", "change", "pct_change")


@dataclass(frozen=True)
class GatedAnswer:
    """An indicator as ``user`` may see it for ``purpose``: the published cells and totals, and what was done.

    ``table`` has the engine's columns, ``total_of`` (the dimensions a total row adds up, empty on a cell),
    ``suppressed`` and ``suppression`` (why). ``datasets`` are the record-level datasets counted (none: the
    indicator reads published tables only, and nothing was checked); ``rows`` describes, per dataset, the
    rows counted; ``entry`` is the audit-ledger entry's number.
    """

    table: pa.Table
    indicator: str
    user: str
    purpose: str
    datasets: tuple[str, ...]
    min_cell_size: int | None
    agreements: tuple[str, ...]
    rows: Mapping[str, str]
    entry: int | None

    @property
    def cells(self) -> int:
        return int(self.table.num_rows)

    @property
    def totals(self) -> int:
        return self.table.num_rows - self.table.column(TOTAL_OF).null_count if self.datasets else 0

    @property
    def suppressed(self) -> int:
        return sum(1 for s in self.table.column(SUPPRESSED).to_pylist() if s) if self.datasets else 0


def record_measures(ind: Indicator, standard: Standard) -> list[tuple[str, Measure]]:
    """The indicator's measures over record-level tables, as (output column, measure)."""
    measures = [("numerator", ind.numerator)]
    if ind.denominator is not None and ind.denominator.measure is not None:
        measures.append(("denominator", ind.denominator.measure))
    return [(role, m) for role, m in measures if standard.entity(m.table).kind in RECORD_LEVEL]


def fields_read(ind: Indicator, measure: Measure, dims: Iterable[str]) -> list[str]:
    """The fields of ``measure``'s table a request by ``dims`` reads: dimension columns, includes and excludes."""
    mapping = measure.dimensions if measure.dimensions is not None else ind.dimensions
    columns = [mapping[d].column or mapping[d].year_of or mapping[d].bands_of or "" for d in dims if d in mapping]
    columns += [*measure.include, *measure.exclude]
    if measure.aggregate == "sum" and measure.column:
        columns.append(measure.column)
    return list(dict.fromkeys(c for c in columns if c))


def registered_record_datasets(control_db: ControlDB, indicator: str,
                               standard: Standard | None = None) -> dict[str, str]:
    """The record-level datasets ``indicator`` counts that the control plane holds (dataset -> owning
    department): a department shares them under its terms, so their counts go through
    :func:`compute_gated`, never around it."""
    standard = standard or load_standard()
    tables = [m.table for _, m in record_measures(standard.indicator(indicator), standard)]
    with control_db.session() as session:
        rows = session.execute(select(Dataset.name, Department.code)
                               .join(Department, Department.id == Dataset.owner_id)
                               .where(Dataset.name.in_(tables)))
        return dict(rows.tuples().all())


def compute_gated(warehouse: Warehouse, control_db: ControlDB, user: str, indicator: str,
                  by: Sequence[str] = ("year",), where: Mapping[str, Sequence[Any]] | None = None, *,
                  purpose: str, at: dt.datetime | None = None, change: bool = False,
                  standard: Standard | None = None, time_limit: float = 60.0) -> GatedAnswer:
    """``indicator`` by ``by`` (filtered by ``where``) as ``user`` may see it for ``purpose`` at ``at`` (default
    now): counted on the rows the grants admit, with totals, small cells suppressed; one ledger entry either
    way. Raises :class:`AccessDenied` (recorded) when a dataset it counts is not granted at ``aggregate``."""
    standard = standard or load_standard()
    ind = standard.indicator(indicator)
    at = as_utc(at) if at else utcnow()
    request = Request(indicator, tuple(dict.fromkeys(by)), {k: list(v) for k, v in (where or {}).items()}, change)
    build(warehouse, request, standard)  # a request the engine cannot answer fails here, before any access
    measures = record_measures(ind, standard)
    dims = [*request.by, *request.where]
    if not measures:  # published tables only (crime and clearances, population): nothing to check or hide
        table = execute(warehouse, build(warehouse, request, standard))
        return GatedAnswer(table, indicator, user, purpose, (), None, (), {}, None)
    datasets = list(dict.fromkeys(m.table for _, m in measures))
    with control_db.session() as session:
        compositions = {d: compose(session, user, d, purpose, at, standard=standard) for d in datasets}
    details: dict[str, Any] = {"at": at.isoformat(), "indicator": indicator, "by": list(request.by),
                               "where": request.where, "level": Level.aggregate.value}
    try:
        for _, m in measures:
            if m.aggregate == "sum":
                raise AccessDenied(f"{indicator} sums {m.column} over {m.table} records: an aggregate read "
                                   f"shows record counts only, each at least the minimum cell size",
                                   dataset=m.table, level=Level.aggregate.value)
            _require_aggregate(compositions[m.table], fields_read(ind, m, dims), indicator)
        threshold = _min_cell_size(compositions.values())
        counted = {d: _counted_rows(warehouse, standard.entity(d), compositions[d]) for d in datasets}
        view = _view(warehouse, counted, standard)
        answers = {subset: _run(build(view, Request(indicator, subset, request.where,
                                                            change and "year" in subset), standard))
                   for subset in margins(ind, request)}
        reason = (f"fewer than {threshold} records, or hidden so that such a cell cannot be worked out (minimum "
                  f"cell size of agreement {', '.join(_agreements(compositions.values()))})")
        table = publish(answers, request.by, [role for role, _ in measures], threshold, time_limit, reason)
    except JusticelabError as exc:  # refused, or could not be computed as granted (fail closed): recorded
        reasons = list(exc.reasons) if isinstance(exc, AccessDenied) else [f"{type(exc).__name__}: {exc}"]
        denied = next((d for d in datasets if isinstance(exc, AccessDenied) and exc.dataset == d), ",".join(datasets))
        with control_db.session() as session:
            record_denial(session, user, dataset=denied, purpose=purpose, reason=str(exc),
                          details={**details, "datasets": datasets, "reasons": reasons,
                                   "grants": sorted({g for c in compositions.values() for g in c.grants})})
        raise
    rows = {d: _describe_rows(c) for d, c in compositions.items()}
    agreements = _agreements(compositions.values())
    suppressed = sum(1 for s in table.column(SUPPRESSED).to_pylist() if s)
    fingerprint = query_fingerprint(json.dumps(
        {"request": {"indicator": indicator, "by": list(request.by), "where": request.where, "change": change},
         "parts": {d: [p.as_dict() for p in c.parts] for d, c in compositions.items()}},
        sort_keys=True, default=str))
    fields = sorted({f for _, m in measures for f in fields_read(ind, m, dims)})
    with control_db.session() as session:
        entry = record_read(
            session, user, dataset=",".join(datasets), purpose=purpose, fields=fields, level=Level.aggregate,
            row_count=table.num_rows, query_fingerprint=fingerprint,
            grants=sorted({g for c in compositions.values() for g in c.grants}),
            details={**details, "datasets": datasets, "cells": table.num_rows, "suppressed": suppressed,
                     "min_cell_size": threshold, "agreements": list(agreements), "rows": rows})
    return GatedAnswer(table, indicator, user, purpose, tuple(datasets), threshold, agreements, rows, entry.seq)


def _run(expr: ir.Table) -> pa.Table:
    """Run an expression through Ibis (which registers the in-memory tables a consent rule filters by)."""
    return expr.to_pyarrow()


def _require_aggregate(composition: Composition, fields: Sequence[str], indicator: str) -> None:
    """Refuse unless some grant gives ``aggregate`` or above on the dataset and, on every row region it admits,
    on each of ``fields``."""
    c = composition
    who = f"{c.user} may not compute {indicator} from {c.dataset} for purpose {c.purpose!r}"
    if c.level < Level.aggregate:
        reasons: tuple[str, ...]
        if c.problem:
            why, reasons = c.problem, (c.problem,)
        elif c.check is not None and not c.check.applicable:
            why = c.check.denial() or f"no grant on {c.dataset}"
            reasons = tuple(f"grant #{r.grant.id}: {', '.join(r.reasons)}" for r in c.check.refused) or (why,)
        else:
            why = "; ".join(c.notes) or f"the applicable grants give no field of {c.dataset} at aggregate or above"
            reasons = c.notes or (why,)
        raise AccessDenied(f"{who}: {why}", dataset=c.dataset, level=c.level.value, reasons=reasons)
    low = [f"{f} is {p.access(f).level.value} on rows where {p.rows.describe() if p.rows else 'all rows'} "
           f"({p.access(f).reason})" for p in c.parts for f in fields if p.access(f).level < Level.aggregate]
    if low:
        raise AccessDenied(f"{who}: it reads {', '.join(fields)}, and " + "; ".join(low), dataset=c.dataset,
                           level=c.level.value, reasons=tuple(low))


def _min_cell_size(compositions: Iterable[Composition]) -> int:
    sizes = [c.min_cell_size for c in compositions]
    if any(s is None for s in sizes):
        raise GateError("a grant's agreement gives no minimum cell size: no aggregate can be shown under it")
    return max(cast(list[int], sizes))


def _agreements(compositions: Iterable[Composition]) -> tuple[str, ...]:
    """The codes of the agreements the compositions' regions are under."""
    return tuple(sorted({code for c in compositions for p in c.parts if p.agreement
                         for code in p.agreement.split(", ")}))


def _counted_rows(warehouse: Warehouse, entity: ResolvedEntity, composition: Composition) -> ir.Table:
    """``entity``'s table cut to the rows some part of the composition admits (its row rules, or all rows)."""
    if not warehouse.has_table(entity.name):
        raise GateError(f"the warehouse has no {entity.name} table yet: ingest a source into it first")
    table = warehouse.ibis.table(entity.name)
    if any(p.rows is None for p in composition.parts):
        return table
    readable = readable_table(warehouse, entity)  # with person_id, which a consent rule filters on
    admitted = AnyOf(tuple(p.rows for p in composition.parts if p.rows is not None))
    return readable.filter(row_filter(readable, admitted)).select(*table.columns)


def _describe_rows(composition: Composition) -> str:
    parts = composition.parts
    if any(p.rows is None for p in parts):
        return "all rows"
    return " OR ".join(p.rows.describe() for p in parts if p.rows is not None)


class _CountedBackend:
    """The warehouse's Ibis backend as the engine sees it for one aggregate read: each record-level table
    holds only the rows counted, and a record-level table the read was not checked for cannot be opened."""

    def __init__(self, backend: BaseBackend, counted: Mapping[str, ir.Table], guarded: set[str]) -> None:
        self._backend, self._counted, self._guarded = backend, dict(counted), guarded

    def table(self, name: str, /, **kwargs: Any) -> ir.Table:
        if name in self._counted:
            return self._counted[name]
        if name in self._guarded:
            raise GateError(f"the indicator engine asked for {name}, which this aggregate read was not checked for")
        return self._backend.table(name, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _view(warehouse: Warehouse, counted: Mapping[str, ir.Table], standard: Standard) -> Warehouse:
    guarded = {name for name in standard.entities if standard.entity(name).kind in RECORD_LEVEL}
    backend = _CountedBackend(warehouse.ibis, counted, guarded)
    return Warehouse(cast(BaseBackend, backend), warehouse.kind, warehouse.url, warehouse.schema)


def totalled(ind: Indicator, by: Sequence[str]) -> list[str]:
    """The dimensions of ``by`` an answer can total over: not one whose values overlap (offences), and not year
    for a rate per resident per year."""
    per_year = ind.denominator is not None and ind.denominator.kind == "population"
    return [d for d in by if d not in ind.not_additive_over and not (per_year and d == "year")]


def margins(ind: Indicator, request: Request) -> list[tuple[str, ...]]:
    """The breakdowns whose answers are the request's cells and totals: ``by`` itself first, then ``by``
    without each combination of the dimensions it can total over."""
    over = totalled(ind, request.by)
    out = []
    for n in range(len(over) + 1):
        for dropped in itertools.combinations(over, n):
            out.append(tuple(d for d in request.by if d not in dropped))
    return out


def _order(values: Iterable[Any]) -> list[Any]:
    return sorted(set(values), key=lambda v: (v is None, v if v is not None else 0))


Key = tuple[tuple[str, ...], tuple[Any, ...]]  # (the breakdown an answer row belongs to, its dimension values)


@dataclass
class _Cube:
    """Every cell and total of an answer (a value or ``TOTAL`` per dimension), each count's value and which
    cells to hide."""

    keys: list[tuple[Any, ...]]
    values: dict[str, np.ndarray]
    hidden: np.ndarray


def publish(answers: Mapping[tuple[str, ...], pa.Table], by: Sequence[str], counts: Sequence[str], threshold: int,
            time_limit: float = 60.0, reason: str = "suppressed") -> pa.Table:
    """The cells (``answers[by]``) and totals (the other answers) with every cell whose record counts
    (``counts``: numerator, denominator) are 1 to ``threshold`` - 1 hidden, and enough others hidden that none
    of those can be worked out from the rest. A combination the engine does not answer is a known zero (its
    groups have no event); it is listed, as suppressed, only when it is hidden. Every hidden cell gets the same
    ``reason``: telling primary from complementary cells would say which ones are small."""
    by = tuple(by)
    rows = {s: t.to_pylist() for s, t in answers.items()}
    over = [d for d in by if any(d not in s for s in answers)]
    cube = _cube(rows[by], by, over, counts, threshold, time_limit)
    index = {s: {tuple(r[d] for d in s): r for r in rs} for s, rs in rows.items()}
    out: list[dict[str, Any]] = []
    hidden: dict[Key, bool] = {}
    for cell, key in enumerate(cube.keys):
        subset = tuple(d for d, v in zip(by, key, strict=True) if v is not TOTAL)
        values = tuple(v for v in key if v is not TOTAL)
        found = index[subset].get(values)
        if found is not None:
            _check_total(found, counts, cube, cell)
        mark = {TOTAL_OF: ", ".join(d for d in by if d not in subset) or None}
        hidden[(subset, values)] = bool(cube.hidden[cell])
        if cube.hidden[cell]:
            dims = {d: (None if v is TOTAL else v) for d, v in zip(by, key, strict=True)}
            out.append({**(found or {}), **dims, **dict.fromkeys((*HIDDEN, *counts)), **mark, SUPPRESSED: True,
                        SUPPRESSION: reason})
        elif found is not None:
            out.append({**found, **mark, SUPPRESSED: False, SUPPRESSION: None})
    for subset, rs in rows.items():  # totals over values no cell has (a year with residents but no event)
        for r in rs:
            key = tuple(r[d] for d in subset)
            if (subset, key) in hidden:
                continue
            if any(r.get(c) for c in counts):
                raise IndicatorError(f"the total for {dict(zip(subset, key, strict=True))} counts records no cell "
                                     "of the answer has: refusing an answer whose totals do not add up")
            out.append({**r, TOTAL_OF: ", ".join(d for d in by if d not in subset) or None, SUPPRESSED: False,
                        SUPPRESSION: None})
    _hide_changes(out, rows, by, hidden)
    return _as_table(out, answers[by].schema)


def _cube(cells: list[dict[str, Any]], by: tuple[str, ...], over: Sequence[str], counts: Sequence[str],
          threshold: int, time_limit: float) -> _Cube:
    """For each count, its additive table (cells and totals over ``over``) with primary and complementary
    suppression; a cell hidden for one count is hidden for all."""
    if not by:  # one number: nothing adds up to it
        values = {c: np.array([float(cells[0].get(c) or 0) if cells else 0.0]) for c in counts}
        hidden = np.zeros(1, dtype=bool)
        for v in values.values():
            hidden |= (v > 0) & (v < threshold)
        return _Cube([()], values, hidden)
    if not cells:
        return _Cube([], {c: np.zeros(0) for c in counts}, np.zeros(0, dtype=bool))
    categories = {d: _order(r[d] for r in cells) for d in by}
    codes = {d: {v: i for i, v in enumerate(categories[d])} for d in by}
    cube = _Cube([], {}, np.zeros(0, dtype=bool))
    for c in counts:
        data = pa.table({**{d: [codes[d][r[d]] for r in cells] for d in by},
                         "jl_count": [float(r.get(c) or 0) for r in cells]})
        table = CountTable.from_arrow(data, list(by), "jl_count", totals=list(over), source=f"the {c} counts")
        # without totals nothing can be worked out from the other cells: the small ones alone are hidden
        mask = (suppress(table, threshold, time_limit=time_limit).suppressed if over
                else threshold_rule(table, threshold).sensitive)
        if not cube.keys:
            cube.keys = [tuple(TOTAL if k >= dim.n_categories else categories[dim.name][dim.codes[k]]
                               for dim, k in zip(table.dimensions, coords, strict=True))
                         for coords in table.coordinates().tolist()]
            cube.hidden = mask.copy()
        cube.hidden |= mask
        cube.values[c] = table.values
    return cube


def _check_total(row: Mapping[str, Any], counts: Sequence[str], cube: _Cube, cell: int) -> None:
    """Fail closed when the engine's answer for a coarser breakdown is not the sum of the finer cells."""
    for c in counts:
        if abs(float(row.get(c) or 0) - float(cube.values[c][cell])) > 1e-6:
            raise IndicatorError(f"the {c} for {cube.keys[cell]} is {row.get(c)} in one breakdown and "
                                 f"{cube.values[c][cell]:g} added up from another: refusing an answer whose totals "
                                 "do not add up")


def _hide_changes(out: list[dict[str, Any]], rows: Mapping[tuple[str, ...], list[dict[str, Any]]],
                  by: tuple[str, ...], hidden: Mapping[Key, bool]) -> None:
    """A change from a hidden year (and ``previous``, its value) would give that year away: drop them."""
    leaks: set[Key] = set()
    for subset, rs in rows.items():
        if "year" not in subset or not rs or "previous" not in rs[0]:
            continue
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in rs:
            groups.setdefault(tuple(r[d] for d in subset if d != "year"), []).append(r)
        for group in groups.values():  # the engine's lag: the group's rows in year order
            for before, after in itertools.pairwise(sorted(group, key=lambda r: r["year"])):
                if hidden.get((subset, tuple(before[d] for d in subset))):
                    leaks.add((subset, tuple(after[d] for d in subset)))
    for r in out:
        subset = tuple(d for d in by if d not in (r[TOTAL_OF] or "").split(", "))
        if (subset, tuple(r[d] for d in subset)) in leaks:
            r.update(dict.fromkeys(CHANGE))


def _as_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    fields = [*(f.with_nullable(True) for f in schema), pa.field(TOTAL_OF, pa.string()),
              pa.field(SUPPRESSED, pa.bool_()), pa.field(SUPPRESSION, pa.string())]
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in fields} for r in rows], schema=pa.schema(fields))
