"""A table of counts (or magnitudes) with its margins, and the linear relations that tie them together.

Every cell of the full cube is present: the product over dimensions of each dimension's *codes* (its
categories, then any group codes of a hierarchy, then the total). A margin is a cell with at least one
non-category code; each (margin, dimension) pair gives one relation ``margin = sum of its children along that
dimension``. The relations are explicit (:meth:`CountTable.relations`, :meth:`CountTable.relation_matrix`)
because the suppression solver and the attacker both reason with nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from scipy import sparse

from justicelab.errors import JusticelabError, SourceFileError

DEFAULT_TOTAL_LABELS = ("Total",)


class SuppressionError(JusticelabError):
    """A suppression request that cannot be met (an impossible constraint, a time limit, an unsafe result)."""


class _Total:
    """The total code of a dimension (a sentinel, so that no real category can be mistaken for it)."""

    _instance: _Total | None = None

    def __new__(cls) -> _Total:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TOTAL"


TOTAL: Any = _Total()


def natural_sorted(labels: Iterable[Any]) -> list[Any]:
    """Categories in reading order: numbers (or numeric text) by value, everything else alphabetically."""
    items = list(labels)

    def as_number(v: Any) -> float | None:
        if isinstance(v, bool):
            return None
        if isinstance(v, int | float):
            return float(v)
        try:
            return float(str(v).strip())
        except ValueError:
            return None

    numbers = [as_number(v) for v in items]
    if all(n is not None for n in numbers):
        return [v for _, v in sorted(zip(numbers, items, strict=True), key=lambda t: t[0] or 0.0)]
    return sorted(items, key=lambda v: str(v))


@dataclass(frozen=True)
class Dimension:
    """One dimension's codes: categories first, then group codes of a hierarchy, then the total if any."""

    name: str
    codes: tuple[Any, ...]
    n_categories: int
    children: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, name: str, categories: Sequence[Any], *, total: bool,
              hierarchy: Mapping[Any, Any] | None = None) -> Dimension:
        """Categories, optionally grouped by ``hierarchy`` (code -> parent code), topped by the total."""
        parents = dict(hierarchy or {})
        missing = [c for c in categories if parents and c not in parents]
        if missing:
            raise JusticelabError(f"dimension {name}: the hierarchy gives no parent for {missing[:5]}")
        groups = {p for p in parents.values() if p is not None} | {c for c in parents if c not in set(categories)}
        codes: list[Any] = list(categories) + _bottom_up(sorted(groups, key=str), parents)
        index = {c: i for i, c in enumerate(codes)}
        children: dict[int, list[int]] = {}
        for child, parent in parents.items():
            if parent is not None:
                children.setdefault(index[parent], []).append(index[child])
        if total:
            roots = [i for i, c in enumerate(codes) if parents.get(c) is None]
            codes.append(TOTAL)
            children[len(codes) - 1] = roots
        return cls(name, tuple(codes), len(categories), {k: tuple(sorted(v)) for k, v in children.items()})

    @property
    def has_total(self) -> bool:
        return bool(self.codes) and self.codes[-1] is TOTAL

    def code_index(self) -> dict[Any, int]:
        return {c: i for i, c in enumerate(self.codes)}

    def label(self, code: int, total_label: str = DEFAULT_TOTAL_LABELS[0]) -> Any:
        value = self.codes[code]
        return total_label if value is TOTAL else value


def _bottom_up(groups: Sequence[Any], parents: Mapping[Any, Any]) -> list[Any]:
    depth: dict[Any, int] = {}

    def height(g: Any, seen: frozenset[Any] = frozenset()) -> int:
        if g in depth:
            return depth[g]
        if g in seen:
            raise JusticelabError(f"hierarchy has a cycle through {g!r}")
        kids = [c for c, p in parents.items() if p == g and c in groups]
        depth[g] = 1 + max((height(k, seen | {g}) for k in kids), default=0)
        return depth[g]

    return sorted(groups, key=lambda g: (height(g), str(g)))


@dataclass
class CountTable:
    """Cell values over the full cube of codes (categories, groups, totals), margins consistent by construction.

    ``values`` is flat in C order over ``shape``; ``top`` optionally holds each cell's largest contributions
    (for dominance rules) and ``contributors`` how many contributors each cell has.
    """

    dimensions: tuple[Dimension, ...]
    values: np.ndarray
    value_name: str = "n"
    integer: bool = True
    top: np.ndarray | None = None
    contributors: np.ndarray | None = None
    source: str = "table"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(d.codes) for d in self.dimensions)

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def dims(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def coordinates(self) -> np.ndarray:
        """Each cell's code index in every dimension: an array of shape (cells, dimensions)."""
        return np.stack(np.unravel_index(np.arange(self.size), self.shape), axis=1)

    def is_margin(self) -> np.ndarray:
        coords = self.coordinates()
        return np.any(coords >= np.array([d.n_categories for d in self.dimensions]), axis=1)

    def key(self, cell: int) -> tuple[Any, ...]:
        coords = np.unravel_index(cell, self.shape)
        return tuple(d.codes[int(c)] for d, c in zip(self.dimensions, coords, strict=True))

    def describe(self, cell: int, total_label: str = DEFAULT_TOTAL_LABELS[0]) -> str:
        """``county=Alpine, year=Total``: how a person names a cell."""
        coords = np.unravel_index(cell, self.shape)
        return ", ".join(f"{d.name}={d.label(int(c), total_label)}"
                         for d, c in zip(self.dimensions, coords, strict=True))

    def relations(self) -> list[tuple[int, np.ndarray]]:
        """Every additive relation as (margin cell, the cells it adds up), one per margin and dimension."""
        out: list[tuple[int, np.ndarray]] = []
        shape = self.shape
        grids = np.indices(shape).reshape(len(shape), -1)
        for axis, dim in enumerate(self.dimensions):
            for parent, kids in dim.children.items():
                at = grids[:, grids[axis] == parent]
                totals = np.ravel_multi_index(tuple(at), shape)
                parts = []
                for kid in kids:
                    moved = at.copy()
                    moved[axis] = kid
                    parts.append(np.ravel_multi_index(tuple(moved), shape))
                stacked = np.stack(parts, axis=1)
                out.extend((int(t), stacked[i]) for i, t in enumerate(totals))
        return out

    def relation_matrix(self) -> sparse.csr_matrix:
        """The relations as a sparse matrix M (relations x cells): +1 at the margin, -1 at its parts; M v = 0."""
        rels = self.relations()
        rows, cols, vals = [], [], []
        for r, (total, parts) in enumerate(rels):
            rows.append(np.full(len(parts) + 1, r))
            cols.append(np.concatenate(([total], parts)))
            vals.append(np.concatenate(([1.0], np.full(len(parts), -1.0))))
        if not rels:
            return sparse.csr_matrix((0, self.size))
        return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                 shape=(len(rels), self.size))

    def to_arrow(self, values: np.ndarray | None = None, *, extra: Mapping[str, Any] | None = None) -> pa.Table:
        """One row per cell: dimension columns (null on a total), the value (``values`` overrides, NaN = null)."""
        coords = self.coordinates()
        cols: dict[str, Any] = {}
        for axis, dim in enumerate(self.dimensions):
            cols[dim.name] = [None if (v := dim.codes[int(c)]) is TOTAL else v for c in coords[:, axis]]
        vals = self.values if values is None else values
        missing = np.isnan(vals) if vals.dtype.kind == "f" else np.zeros(vals.size, dtype=bool)
        if self.integer:
            arr = pa.array(np.where(missing, 0, vals).astype(np.int64), mask=missing)
        else:
            arr = pa.array(vals.astype(np.float64), mask=missing)
        cols[self.value_name] = arr
        for name, column in (extra or {}).items():
            cols[name] = column
        return pa.table(cols)

    @classmethod
    def from_arrow(
        cls,
        data: pa.Table | duckdb.DuckDBPyRelation,
        dims: Sequence[str],
        value: str,
        *,
        totals: Sequence[str] | None = None,
        hierarchies: Mapping[str, Mapping[Any, Any]] | None = None,
        integer: bool = True,
        total_labels: Sequence[str] = DEFAULT_TOTAL_LABELS,
        source: str = "table",
        row_numbers: Sequence[int] | None = None,
    ) -> CountTable:
        """Build the full table from rows of ``dims + value``; margin rows (a total label or an empty dimension)
        are checked against the cells they total and every other margin is computed.

        ``totals`` names the dimensions to total over (None: those with margin rows in the data). Rows whose
        dimensions are all categories are the cells; a category combination with no row is a zero.
        """
        table = data.to_arrow_table() if isinstance(data, duckdb.DuckDBPyRelation) else data
        return _Builder(table, list(dims), value, totals, hierarchies or {}, integer,
                        {str(t).strip().casefold() for t in total_labels}, source, row_numbers).build()


class _Builder:
    """Validates rows and fills the cube; every error names the source, the row and the column."""

    def __init__(self, table: pa.Table, dims: list[str], value: str, totals: Sequence[str] | None,
                 hierarchies: Mapping[str, Mapping[Any, Any]], integer: bool, total_labels: set[str],
                 source: str, row_numbers: Sequence[int] | None) -> None:
        self.table, self.dims, self.value, self.totals = table, dims, value, totals
        self.hierarchies, self.integer, self.total_labels, self.source = hierarchies, integer, total_labels, source
        self.rows = list(row_numbers) if row_numbers is not None else list(range(1, table.num_rows + 1))

    def fail(self, row: int | None, column: str | None, message: str) -> SourceFileError:
        where = self.source + (f", row {row}" if row is not None else "") + (f", column {column}" if column else "")
        return SourceFileError(f"{where}: {message}")

    def is_total(self, v: Any) -> bool:
        return v is None or (isinstance(v, str) and (not v.strip() or v.strip().casefold() in self.total_labels))

    def build(self) -> CountTable:
        present = self.table.column_names
        if not self.dims:
            raise self.fail(None, None, "no dimension columns; expected at least one beside the value column")
        for c in [*self.dims, self.value]:
            if c not in present:
                raise self.fail(None, c, f"no such column; columns present: {', '.join(present)}")
        if self.value in self.dims:
            raise self.fail(None, self.value, "is both a dimension and the value column")
        if self.table.num_rows == 0:
            raise self.fail(None, None, "no rows; expected one row per cell")
        values = self._values()
        labels = {d: self.table.column(d).to_pylist() for d in self.dims}
        margin_dims = [d for d in self.dims if any(self.is_total(v) for v in labels[d])]
        totals = list(margin_dims if self.totals is None else self.totals)
        for d in totals:
            if d not in self.dims:
                raise self.fail(None, d, f"cannot total over {d!r}: not a dimension ({', '.join(self.dims)})")
        for d in margin_dims:
            if d not in totals:
                row = next(r for r, v in zip(self.rows, labels[d], strict=True) if self.is_total(v))
                raise self.fail(row, d, f"a total row, but {d} is not among the dimensions to total over "
                                        f"({', '.join(totals) or 'none'}); add it to the totals")
        dimensions = []
        for d in self.dims:
            hierarchy = self.hierarchies.get(d, {})
            groups = set(hierarchy.values())
            cats = natural_sorted({v for v in labels[d] if not self.is_total(v) and v not in groups}
                                  | ({k for k in hierarchy if k not in groups}))
            if not cats:
                raise self.fail(None, d, "holds only totals; expected at least one category")
            dimensions.append(Dimension.build(d, cats, total=d in totals, hierarchy=hierarchy or None))
        shape = tuple(len(dim.codes) for dim in dimensions)
        coords = np.empty((self.table.num_rows, len(self.dims)), dtype=np.int64)
        for axis, dim in enumerate(dimensions):
            index = dim.code_index()
            coords[:, axis] = [index[TOTAL] if self.is_total(v) else index[v] for v in labels[dim.name]]
        flat = np.ravel_multi_index(tuple(coords.T), shape)
        self._duplicates(flat, dimensions)
        cube = np.zeros(shape, dtype=np.float64)
        is_cell = np.all(coords < np.array([dim.n_categories for dim in dimensions]), axis=1)
        cube.reshape(-1)[flat[is_cell]] = values[is_cell]
        for axis, dim in enumerate(dimensions):
            for parent, kids in sorted(dim.children.items()):
                idx: list[Any] = [slice(None)] * len(shape)
                idx[axis] = parent
                kid_idx = list(idx)
                kid_idx[axis] = list(kids)
                cube[tuple(idx)] = cube[tuple(kid_idx)].sum(axis=axis)
        flat_cube = cube.reshape(-1)
        given = ~is_cell
        if given.any():
            got, want = values[given], flat_cube[flat[given]]
            bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-9, atol=1e-9 if self.integer else 1e-6))
            if bad.size:
                i = np.flatnonzero(given)[bad[0]]
                t = CountTable(tuple(dimensions), flat_cube)
                raise self.fail(self.rows[i], self.value,
                                f"the margin {t.describe(int(flat[i]))} is {_num(got[bad[0]])} but the cells it "
                                f"totals add up to {_num(want[bad[0]])}; expected margins that add up "
                                f"(or leave margin rows out and they are computed)")
        return CountTable(tuple(dimensions), flat_cube, self.value, self.integer, source=self.source)

    def _values(self) -> np.ndarray:
        col = self.table.column(self.value)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)):
            raw = col.to_pylist()
            out = np.empty(len(raw))
            for i, v in enumerate(raw):
                try:
                    out[i] = float(str(v).strip()) if v is not None and str(v).strip() else math.nan
                except ValueError:
                    raise self.fail(self.rows[i], self.value,
                                    f"{v!r} is not a number; expected a {self._expected()}") from None
        else:
            out = np.array(col.to_pylist(), dtype=object)
            out = np.array([math.nan if v is None else float(v) for v in out], dtype=np.float64)
        checks = [
            (np.isnan(out), "is empty"),
            (~np.isfinite(out) & ~np.isnan(out), "is not finite"),
            (out < 0, "is negative"),
        ]
        if self.integer:
            checks.append((np.isfinite(out) & (out != np.floor(out)), "is not a whole number"))
        for bad, what in checks:
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                shown = "" if np.isnan(out[i]) else f"{_num(out[i])} "
                raise self.fail(self.rows[i], self.value, f"{shown}{what}; expected a {self._expected()}")
        return out

    def _expected(self) -> str:
        return "count (a whole number 0, 1, 2, ...)" if self.integer else "non-negative number"

    def _duplicates(self, flat: np.ndarray, dimensions: list[Dimension]) -> None:
        order = np.argsort(flat, kind="stable")
        same = np.flatnonzero(flat[order][1:] == flat[order][:-1])
        if same.size:
            a, b = order[same[0]], order[same[0] + 1]
            t = CountTable(tuple(dimensions), np.zeros(int(np.prod([len(d.codes) for d in dimensions]))))
            raise self.fail(self.rows[b], None, f"the cell {t.describe(int(flat[b]))} is already given on row "
                                                f"{self.rows[a]}; expected one row per cell")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
