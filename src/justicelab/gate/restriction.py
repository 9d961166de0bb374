"""Turn a warehouse table into what an access decision allows: rows filtered, then every column at its own level.

Rows are filtered on the recorded values (row rules, consent on the real ``person_id``) before any column
is pseudonymised or generalised; a column the decision does not grant is never selected. The result is
one Ibis expression: the database does all the work, on DuckDB and PostgreSQL alike.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from justicelab.control.levels import Level
from justicelab.errors import AccessDenied, GateError
from justicelab.gate.decision import AccessDecision, AllOf, Compare, Not, PersonIn, RowPredicate, predicate_fields
from justicelab.gate.deidentify import (
    PERSON_ID,
    ColumnPlan,
    DeidentificationPolicy,
    Treatment,
    column_plan,
    load_policy,
)
from justicelab.gate.pseudonym_cache import PSEUDONYM, VALUE, PseudonymCache
from justicelab.gate.pseudonyms import Pseudonymiser, grantee_key
from justicelab.gate.secret import GateSecret
from justicelab.linkage.store import PERSON_INDEX
from justicelab.standard import ResolvedEntity, Standard
from justicelab.warehouse import Generaliser, Warehouse

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def readable_table(warehouse: Warehouse, entity: ResolvedEntity) -> ir.Table:
    """``entity``'s warehouse table with each record's ``person_id`` from the person index (NULL if unlinked)."""
    if not warehouse.has_table(entity.name):
        raise GateError(f"the warehouse has no {entity.name} table yet: ingest a source into it first")
    table = warehouse.ibis.table(entity.name)
    if PERSON_ID in table.columns:
        return table
    if entity.person_bearing and warehouse.has_table(PERSON_INDEX):
        index = warehouse.ibis.table(PERSON_INDEX)
        index = index.filter(index.entity == entity.name).select(jl_index_record=index.record_id,
                                                                  person_id=index.person_id)
        joined = table.left_join(index, table._record_id == index.jl_index_record)
        return joined.select(*table.columns, PERSON_ID)
    return table.mutate(person_id=ibis.null("string"))


def plan(decision: AccessDecision, entity: ResolvedEntity, columns: Sequence[str],
         policy: DeidentificationPolicy | None = None) -> list[ColumnPlan]:
    """What each of ``columns`` becomes under ``decision`` (dropped ones included, with why): ``access check``."""
    return [column_plan(entity, c, decision.access(c).level, policy) for c in columns]


def restrict(table: ir.Table, decision: AccessDecision, standard: Standard, generaliser: Generaliser,
             secret: GateSecret, *, entity: str | None = None, policy: DeidentificationPolicy | None = None,
             cache: PseudonymCache | None = None) -> ir.Table:
    """``table`` (a table of entity ``entity``, by default the decision's dataset) restricted to ``decision``.

    With ``cache`` (the warehouse connection's, for a whole read) the pseudonyms of the restricted rows are
    cached first, then joined rather than computed (see :mod:`justicelab.gate.pseudonym_cache`).
    Raises :class:`AccessDenied` when the decision allows no rows (``aggregate``/``none``) or leaves no
    column to show, and :class:`GateError` when it names a column the table does not have.
    """
    decision.require_rows()
    resolved = standard.entity(entity or decision.dataset)
    policy = policy or load_policy()
    policy.check(standard)
    columns = list(table.columns)
    granted = [f.field for f in decision.fields if f.level >= Level.deidentified]
    unknown = [c for c in granted if c not in columns]
    if unknown:
        raise GateError(f"access decision for {decision.dataset} grants {', '.join(unknown)}, which the table "
                        f"does not have (it has {', '.join(columns)})")
    if decision.rows is not None:
        missing = sorted(predicate_fields(decision.rows) - set(columns))
        if missing:
            raise AccessDenied(f"{decision.dataset}: the row restriction ({decision.rows.describe()}) reads "
                               f"{', '.join(missing)}, which this table does not have, so no row can be shown"
                               + (" (build the person index with `justicelab link run`)" if PERSON_ID in missing
                                  else ""), dataset=decision.dataset, level=decision.level.value)
        table = table.filter(row_filter(table, decision.rows))
    plans = [p for p in plan(decision, resolved, columns, policy) if p.shown]
    if not plans:
        raise AccessDenied(f"{decision.grantee} may not read rows of {decision.dataset}: no field granted at "
                           f"{decision.level.value} remains once de-identified (direct identifiers are dropped)",
                           dataset=decision.dataset, level=decision.level.value)
    pseudonymiser = Pseudonymiser.for_table(grantee_key(secret, decision.grantee), table)
    keys = [p.column for p in plans if p.treatment is Treatment.pseudonymise]
    cached = cache.maps(table, (resolved.name, decision.rows), pseudonymiser, keys) if cache and keys else {}
    joined = _with_cached_pseudonyms(table, cached)
    person_keys = [c for c in keys if c in policy.person_keys and c not in cached]
    joined = pseudonymiser.keyed(_with_person_pseudonyms(joined, table, person_keys, pseudonymiser))
    return joined.select(**{p.column: _column(joined, p, pseudonymiser, generaliser) for p in plans})


def _pseudonym_column(column: str) -> str:
    return f"jl_pseudonym_{column}"


def _cached_column(column: str) -> str:
    return f"jl_cached_{column}"


def _as_text(value: ir.Value) -> ir.StringValue:
    return value if value.type().is_string() else value.cast("string")


def _with_cached_pseudonyms(table: ir.Table, maps: dict[str, ir.Table]) -> ir.Table:
    """Join each column's cached pseudonym (NULL where the map lacks the value: it is then computed)."""
    result = table
    for column, mapping in maps.items():
        value = f"jl_cached_value_{column}"
        found = mapping.select(**{value: mapping[VALUE], _cached_column(column): mapping[PSEUDONYM]})
        result = result.left_join(found, _as_text(result[column]) == found[value])
    return result


def _with_person_pseudonyms(result: ir.Table, table: ir.Table, columns: Sequence[str],
                            pseudonymiser: Pseudonymiser) -> ir.Table:
    """Join each person key's pseudonym, computed once per distinct person of ``table`` rather than per record.

    A person has many records (a high-frequency utilizer, by definition), and the HMAC is most of the gate's
    cost, so hashing the distinct keys and joining them back is cheaper; record keys are unique and are hashed
    in place.
    """
    for column in columns:
        values = pseudonymiser.keyed(table.select(**{f"jl_value_{column}": table[column]}).distinct())
        value = values[f"jl_value_{column}"]
        mapping = values.select(value, **{_pseudonym_column(column): pseudonymiser.expr(value, column, values)})
        result = result.left_join(mapping, result[column] == mapping[f"jl_value_{column}"])
    return result


def _column(table: ir.Table, plan: ColumnPlan, pseudonymiser: Pseudonymiser, generaliser: Generaliser) -> ir.Value:
    value = table[plan.column]
    if plan.treatment is Treatment.keep:
        return value
    if plan.treatment is Treatment.pseudonymise:
        if _pseudonym_column(plan.column) in table.columns:
            return table[_pseudonym_column(plan.column)]
        computed = pseudonymiser.expr(value, plan.column, table)
        if _cached_column(plan.column) in table.columns:  # COALESCE evaluates `computed` only where the map lacks it
            return ibis.coalesce(table[_cached_column(plan.column)], computed)
        return computed
    if plan.treatment is Treatment.generalise:
        assert plan.hierarchy is not None and plan.hierarchy_level is not None
        return generaliser.expr(value, plan.hierarchy, plan.hierarchy_level)
    raise GateError(f"column {plan.column}: a dropped column cannot be shown")


def row_filter(table: ir.Table, predicate: RowPredicate) -> ir.BooleanValue:
    """The row predicate as an Ibis boolean; a rule on a missing (NULL) value keeps no row."""
    if isinstance(predicate, Compare):
        col = table[predicate.field]
        if predicate.op == "is null":
            return col.isnull()
        if predicate.op == "is not null":
            return col.notnull()
        if predicate.op in ("in", "not in"):
            values = list(predicate.value) if isinstance(predicate.value, tuple) else []
            if not values:
                return ibis.literal(predicate.op == "not in") & col.notnull()
            test = col.isin(values) if predicate.op == "in" else col.notin(values)
            return test & col.notnull()
        return _COMPARE[predicate.op](col, predicate.value) & col.notnull()
    if isinstance(predicate, PersonIn):
        if not predicate.person_ids:
            return ibis.literal(False)
        persons = ibis.memtable({"person_id": sorted(predicate.person_ids)}, schema={"person_id": "string"})
        return table[PERSON_ID].isin(persons.person_id) & table[PERSON_ID].notnull()
    if isinstance(predicate, Not):  # NULL (unknown) counts as "does not hold", so NOT keeps that row
        return ~row_filter(table, predicate.part).fill_null(False)
    if isinstance(predicate, AllOf):
        result: ir.BooleanValue = ibis.literal(True)
        for part in predicate.parts:
            result = result & row_filter(table, part)
        return result
    result = ibis.literal(False)
    for part in predicate.parts:
        result = result | row_filter(table, part)
    return result
