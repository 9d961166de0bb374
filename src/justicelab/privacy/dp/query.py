"""The true table a DP release adds noise to: one GROUP BY in the warehouse, contributions clamped per person in SQL.

The warehouse (DuckDB or PostgreSQL, through Ibis) filters the records in scope, keeps at most the contribution
bound's number of records per person where person ids exist (a window over the person's records), maps each
dimension onto its public domain and groups. Only the grouped counts or sums come back to Python, where they
fill the full cross product of the domains: a group with no records is a zero, like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np

from justicelab.linkage.store import PERSON_INDEX
from justicelab.privacy.dp.domains import Dimension, in_domain
from justicelab.standard import ResolvedEntity
from justicelab.warehouse import Warehouse


@dataclass(frozen=True)
class Contribution:
    """How many records one person can add to the release, and whether the warehouse enforces it."""

    bound: int
    #: Where person ids came from ("" when there are none and the bound is the user's declaration).
    person_source: str

    @property
    def enforced(self) -> bool:
        return bool(self.person_source)

    def describe(self) -> str:
        unit = f"at most {self.bound} record{'s' if self.bound != 1 else ''} per person"
        if self.enforced:
            return f"{unit}, enforced: records beyond it dropped per person ({self.person_source})"
        return (f"{unit}, declared: no person ids to enforce it (each record is protected as one person; "
                f"run `justicelab link run` to link records to persons)")


@dataclass(frozen=True)
class SumSpec:
    """A summed column, each record's value rounded to a whole number and clamped to ``[lower, upper]``."""

    column: str
    lower: int
    upper: int


#: Where a release's records come from: given the entity, the dimensions and the summed column, the rows to count
#: (e.g. read through the gate as a user). Called once, after the budget check, so a refusal reads nothing.
RowSource = Callable[[ResolvedEntity, Sequence[Dimension], SumSpec | None], ir.Table]


def _person_ids(wh: Warehouse, t: ir.Table, entity: ResolvedEntity, *,
                join_index: bool = True) -> tuple[ir.Table, str]:
    """The table with a ``_pid`` column (the person id, else the record id), and where the ids came from
    (``join_index``: may join the person index on the record id, which only fits the warehouse table as stored)."""
    if "person_id" in t.columns:
        return t.mutate(_pid=ibis.coalesce(t.person_id.cast("string"), t._record_id)), "the person_id column"
    if join_index and wh.has_table(PERSON_INDEX):
        index = wh.ibis.table(PERSON_INDEX)
        index = index.filter((index.entity == entity.name) & index.person_id.notnull())
        if index.count().execute() > 0:
            index = index.select(_idx_record=index.record_id, _idx_person=index.person_id)
            joined = t.left_join(index, t._record_id == index._idx_record)
            joined = joined.mutate(_pid=ibis.coalesce(joined._idx_person, joined._record_id))
            return joined.drop("_idx_record", "_idx_person"), "the person index; unlinked records count alone"
    return t, ""


def true_table(wh: Warehouse, entity: ResolvedEntity, dims: Sequence[Dimension], *, bound: int,
               value: SumSpec | None = None, records: RowSource | None = None) -> tuple[np.ndarray, Contribution]:
    """The exact counts (or clamped sums) over the full cross product of the domains, as an int64 array, of
    the rows ``records`` gives (default: the warehouse table as stored)."""
    t = records(entity, dims, value) if records is not None else wh.ibis.table(entity.name)
    columns: dict[str, ir.Value] = {}
    scopes: list[str] = []
    for i, dim in enumerate(dims):
        scope, expr = in_domain(t, dim)
        columns[f"_d{i}"] = expr
        if scope is not None:
            columns[f"_in{i}"] = scope
            scopes.append(f"_in{i}")
    if value is not None:
        raw = t[value.column].cast("float64").round().cast("int64").fill_null(0)
        columns["_v"] = ibis.greatest(ibis.least(raw, value.upper), value.lower)
    t = t.mutate(**columns)
    for scope_column in scopes:
        t = t.filter(t[scope_column])
    t, source = _person_ids(wh, t, entity, join_index=records is None) if entity.person_bearing else (t, "")
    if source:
        rank = ibis.row_number().over(ibis.window(group_by=t._pid, order_by=t._record_id))
        t = t.mutate(_rank=rank)
        t = t.filter(t._rank < bound)
    metric = t._v.sum() if value is not None else t.count()
    keys = [f"_d{i}" for i in range(len(dims))]
    rows = (t.group_by(keys).aggregate(_m=metric) if keys else t.aggregate(_m=metric)).to_pyarrow()
    shape = tuple(d.size for d in dims)
    table = np.zeros(shape, dtype=np.int64)
    positions = [{v: j for j, v in enumerate(d.values)} for d in dims]
    key_values = [rows[k].to_pylist() for k in keys]
    for r, m in enumerate(rows["_m"].to_pylist()):
        table[tuple(pos[col[r]] for pos, col in zip(positions, key_values, strict=True))] += int(m or 0)
    return table, Contribution(bound, source)
