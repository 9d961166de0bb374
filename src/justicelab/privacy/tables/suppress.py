"""Suppress a table: primary rule, complementary cells (exact or modular), and the independent attacker's verdict.

:func:`suppress` never returns a table the attacker can narrow: it runs :func:`audit` on its own output and
raises :class:`SuppressionError` instead of returning an unsafe pattern.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from scipy import sparse

from justicelab.privacy.tables.attacker import Intervals, attack, verify
from justicelab.privacy.tables.complementary import ComplementarySolver, SolveStats
from justicelab.privacy.tables.modular import ModularSolver
from justicelab.privacy.tables.pairflows import flat_cube
from justicelab.privacy.tables.rules import Primary, threshold_rule
from justicelab.privacy.tables.table import DEFAULT_TOTAL_LABELS, TOTAL, CountTable, SuppressionError

Cost = Literal["cells", "value"]
Method = Literal["auto", "exact", "modular"]
MODULAR_FROM = 10_000  # cells: "auto" solves smaller tables (and any the modular method cannot take) exactly


@dataclass(frozen=True)
class Audit:
    """The independent attacker's intervals against each sensitive cell's required range."""

    intervals: Intervals
    required_low: np.ndarray
    required_high: np.ndarray
    unsafe: np.ndarray  # sensitive cells the attacker narrows below their protection range
    pinned: np.ndarray  # suppressed cells the attacker recovers exactly
    seconds: float

    @property
    def safe(self) -> bool:
        return self.unsafe.size == 0

    def narrowest(self, cells: np.ndarray) -> float:
        widths = self.intervals.width[cells]
        return float(widths.min()) if widths.size else float("inf")


EXACT_LIMIT = 200  # up to this many suppressed cells the audit computes every interval exactly


def audit(table: CountTable, suppressed: np.ndarray, primary: Primary, *, exact: bool | None = None,
          witnesses: sparse.spmatrix | sparse.sparray | None = None) -> Audit:
    """Run the attacker on the published table and compare with the protection every sensitive cell needs.

    A suppressed count is *recoverable* when its interval holds one whole number only (width below 1); a
    magnitude when its interval is a point. ``exact`` (default: when at most EXACT_LIMIT cells are
    suppressed and no ``witnesses`` are offered) computes every interval exactly instead of settling safe cells
    with witnesses.
    ``witnesses`` (rows: deviations from the true table, e.g. a solver's) are offered to the attacker as
    candidate tables; it checks each itself and solves its own LPs for whatever they leave unsettled.
    """
    start = time.perf_counter()
    published = np.where(suppressed, np.nan, table.values)
    v = table.values
    sens = primary.sensitive
    need_low = np.where(sens, v - primary.lower, np.nan)
    need_high = np.where(sens, v + primary.upper, np.nan)
    min_width = np.where(suppressed, 1.0 if table.integer else 1e-6 * np.maximum(1.0, v), 0.0)
    if exact is None:
        exact = witnesses is None and int(suppressed.sum()) <= EXACT_LIMIT
    relations = table.relations()
    tables = None if witnesses is None else (v, witnesses)
    intervals = (attack(published, relations) if exact else
                 verify(published, relations, need_low=need_low, need_high=need_high, min_width=min_width,
                        tables=tables))
    tol = 1e-6 * np.maximum(1.0, v)
    with np.errstate(invalid="ignore"):
        short = sens & ((intervals.high < need_high - tol) | (intervals.low > need_low + tol))
        pinned = suppressed & (intervals.width < min_width - 1e-9)
    return Audit(intervals, need_low, need_high, np.flatnonzero(short | (sens & ~suppressed)),
                 np.flatnonzero(pinned), time.perf_counter() - start)


@dataclass
class SuppressionResult:
    """A suppressed table: which cells are hidden and why, the solve, and the attacker's verification."""

    table: CountTable
    primary: Primary
    suppressed: np.ndarray
    stats: SolveStats
    audit: Audit
    rule: str
    protection: str = "reaches from v - L or below to v + U or above"

    @property
    def complementary(self) -> np.ndarray:
        return self.suppressed & ~self.primary.sensitive

    def published_values(self) -> np.ndarray:
        """Cell values with NaN where suppressed: everything an outsider sees."""
        return np.where(self.suppressed, np.nan, self.table.values)

    def to_arrow(self) -> pa.Table:
        """The publishable table: dimension columns (null on a total), the value (null when suppressed), and a
        ``suppressed`` flag. It never says which suppressed cells were primary: that would tell the reader
        those cells are small."""
        return self.table.to_arrow(self.published_values(), extra={"suppressed": pa.array(self.suppressed)})

    def cells(self, total_label: str = DEFAULT_TOTAL_LABELS[0]) -> list[dict[str, Any]]:
        """The suppressed cells for the data owner: value, primary or complementary, reason, attacker's range."""
        out = []
        iv = self.audit.intervals
        for cell in np.flatnonzero(self.suppressed):
            key = self.table.key(int(cell))
            row: dict[str, Any] = {d.name: total_label if k is TOTAL else k
                                   for d, k in zip(self.table.dimensions, key, strict=True)}
            row["value"] = _plain(self.table.values[cell], self.table.integer)
            primary = bool(self.primary.sensitive[cell])
            row["status"] = "primary" if primary else "complementary"
            row["reason"] = self.primary.reason[cell] if primary else "protects a primary cell"
            row["attacker_low"] = _plain(iv.low[cell], self.table.integer)
            row["attacker_high"] = _plain(iv.high[cell], self.table.integer)
            row["required_low"] = _plain(self.audit.required_low[cell], self.table.integer) if primary else None
            row["required_high"] = _plain(self.audit.required_high[cell], self.table.integer) if primary else None
            out.append(row)
        return out

    def summary(self) -> dict[str, Any]:
        """Counts, information loss, solve figures and the attacker's verdict, for people and for JSON."""
        v = self.table.values
        primary_cells = np.flatnonzero(self.primary.sensitive)
        lost = float(v[self.suppressed].sum())
        return {
            "rule": self.rule,
            "cells": self.table.size,
            "margin_cells": int(self.table.is_margin().sum()),
            "relations": len(self.table.relations()),
            "primary": int(self.primary.sensitive.sum()),
            "complementary": int(self.complementary.sum()),
            "suppressed": int(self.suppressed.sum()),
            "suppressed_share": round(float(self.suppressed.mean()), 4) if self.table.size else 0.0,
            "value_suppressed": _plain(lost, self.table.integer),
            "value_suppressed_share": round(lost / float(v.sum()), 4) if v.sum() else 0.0,
            "method": self.stats.method,
            "solve_seconds": round(self.stats.seconds, 3),
            "rounds": self.stats.iterations,
            "cuts": self.stats.cuts,
            "optimal": self.stats.optimal,
            "lower_bound": _plain(self.stats.bound, False),
            "attacker_seconds": round(self.audit.seconds, 3),
            "attacker_groups": self.audit.intervals.groups,
            "unsafe_cells": int(self.audit.unsafe.size),
            "recoverable_cells": int(self.audit.pinned.size),
            "narrowest_primary_interval": _plain(self.audit.narrowest(primary_cells), self.table.integer),
            "verified": self.verdict(),
        }

    def verdict(self) -> str:
        """One sentence on what the attacker could and could not learn."""
        if not self.audit.safe:
            return f"UNSAFE: the attacker narrows {self.audit.unsafe.size} sensitive cell(s) below their range"
        n = int(self.primary.sensitive.sum())
        if n == 0:
            return "nothing to protect: no sensitive cell"
        primary_cells = np.flatnonzero(self.primary.sensitive)
        width = self.audit.narrowest(primary_cells)
        return (f"safe: for each of the {n} sensitive cells the attacker's feasible interval {self.protection} "
                f"(narrowest interval at least {_fmt(width)} wide); {self.audit.pinned.size} suppressed cells "
                f"recoverable")


def _plain(value: float, integer: bool) -> Any:
    if value is None or np.isnan(value):
        return None
    if np.isinf(value):
        return "inf"
    nearest = float(np.rint(value))
    return int(nearest) if integer and abs(value - nearest) < 1e-6 else round(float(value), 6)


def _fmt(value: float) -> str:
    return "unbounded" if np.isinf(value) else f"{value:g}"


def _keep_mask(table: CountTable, keep: np.ndarray | Iterable[tuple[Any, ...]] | None) -> np.ndarray | None:
    if keep is None:
        return None
    if isinstance(keep, np.ndarray) and keep.dtype == bool:
        return keep
    index = [d.code_index() for d in table.dimensions]
    mask = np.zeros(table.size, dtype=bool)
    for key in keep:
        try:
            coords = tuple(ix[k] for ix, k in zip(index, key, strict=True))
        except (KeyError, ValueError):
            raise SuppressionError(f"keep: no cell {key!r} in the table (use TOTAL for a total)") from None
        mask[np.ravel_multi_index(coords, table.shape)] = True
    return mask


def cell_weights(table: CountTable, cost: Cost) -> np.ndarray:
    """What suppressing each cell costs: 1 per cell (ties broken towards hiding less: each cell adds its share
    of the table's total value, which sums to less than one cell), or its value (an empty cell costs the
    smallest value)."""
    v = table.values
    if cost == "cells":
        return 1.0 + v / (1.0 + float(v.sum()))
    if cost != "value":
        raise SuppressionError(f"cost {cost!r}: expected 'cells' or 'value'")
    positive = v[v > 0]
    return np.where(v > 0, v, positive.min() if positive.size else 1.0)


def _solver(table: CountTable, primary: Primary, weights: np.ndarray, keep: np.ndarray | None,
            method: Method) -> ComplementarySolver | ModularSolver:
    if method not in ("auto", "exact", "modular"):
        raise SuppressionError(f"method {method!r}: expected 'auto', 'exact' or 'modular'")
    fits = flat_cube(table)
    if method == "modular" and not fits:
        raise SuppressionError("the modular method takes three-way count tables with a total on every dimension "
                               "and no hierarchy; use method='exact'")
    if method == "modular" or (method == "auto" and fits and table.size >= MODULAR_FROM):
        return ModularSolver(table, primary, weights, keep)
    return ComplementarySolver(table.relation_matrix(), table.values, primary, weights, keep)


def suppress(
    table: CountTable,
    threshold: int = 11,
    *,
    primary: Primary | None = None,
    zeros: bool = False,
    protection: int | None = None,
    cost: Cost = "cells",
    keep: np.ndarray | Iterable[tuple[Any, ...]] | None = None,
    time_limit: float = 120.0,
    gap: float = 0.0,
    progress: Callable[[str], None] | None = None,
    method: Method = "auto",
) -> SuppressionResult:
    """Primary suppression (``primary``, else the threshold rule), complementary suppression, verified.

    ``method``: "exact" runs the whole-table cut loop (complementary.py): the pattern is optimal (least cost) unless
    ``gap`` allows a pattern within that share of the lower bound or the time limit ends the search first. "modular"
    (modular.py; three-way tables with every margin and no hierarchy, counts) solves the single-relation problem
    exactly, then proves every sensitive cell safe with flow witnesses and, for the rest, the attacker's own LP,
    hiding more where it finds a violated cut: seconds instead of minutes on large tables, about 1% above the lower
    bound. "auto" takes "modular" from MODULAR_FROM cells when it applies. Either way the result is safe, and the
    summary gives the method and the bound. Raises SuppressionError if no safe pattern is found in ``time_limit``
    seconds, or if the attacker can narrow a sensitive cell in the result (it then refuses to return the table).
    """
    needs = SuppressionResult.protection
    if primary is None:
        primary = threshold_rule(table, threshold, zeros=zeros, protection=protection)
        rule = f"counts 1-{threshold - 1}" + (" and zeros" if zeros else "") + " suppressed"
        needs = (f"includes 0 and {threshold}" if protection is None
                 else f"reaches from v - {protection} (or 0) to v + {protection}")
        rule += f"; each one's interval must {'include' if protection is None else 'reach'} " + (
            f"0 and {threshold}" if protection is None else f"v - {protection} (or 0) and v + {protection}")
    else:
        rule = "custom primary rule"
    solver = _solver(table, primary, cell_weights(table, cost), _keep_mask(table, keep), method)
    suppressed = solver.solve(time_limit=time_limit, gap=gap, progress=progress)
    witnesses = solver.witnesses if isinstance(solver, ModularSolver) else None
    if progress:
        progress("verifying with the independent attacker")
    report = audit(table, suppressed, primary, witnesses=witnesses)
    # A complementary cell the attacker pins exactly protects nothing (publishing it tells them nothing new):
    # the search's safe patterns grown greedily can hold some; publish them and check again.
    useless = report.pinned[~primary.sensitive[report.pinned]
                            & (report.intervals.width[report.pinned] <= 1e-9)]
    if useless.size:
        suppressed = suppressed.copy()
        suppressed[useless] = False
        report = audit(table, suppressed, primary, witnesses=witnesses)
    result = SuppressionResult(table, primary, suppressed, solver.stats, report, rule, needs)
    if not report.safe:
        first = int(report.unsafe[0])
        raise SuppressionError(
            f"refusing to publish: the attacker narrows {report.unsafe.size} sensitive cell(s), e.g. "
            f"{table.describe(first)} to [{report.intervals.low[first]:g}, {report.intervals.high[first]:g}]"
        )
    return result
