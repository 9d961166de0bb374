"""Primary suppression: which cells are sensitive, and how far an attacker's interval must reach around each.

A rule returns a :class:`Primary`: per cell, whether it is sensitive and its *protection levels*. For a
sensitive cell of value v with upper level U and lower level L, a safe publication leaves an attacker (who
knows every published cell, every relation and that no cell is negative) unable to narrow the cell below
``[v - L, v + U]``: the largest value they can prove possible is at least v + U, the smallest at most v - L.

* :func:`threshold_rule` (counts): cells of 1 to threshold-1 are sensitive; zeros are published unless asked.
  The default *range* protection is U = threshold - v and L = v: the attacker can neither rule out that the
  cell is empty nor that it reaches the threshold, so the cell cannot be pinned inside 1..threshold-1.
  ``protection=P`` asks instead for U = P and L = min(P, v) (the classical fixed protection level).
* :func:`nk_rule` and :func:`p_percent_rule` (magnitudes with contributors): the dominance rules, with the
  textbook protection levels (the amount the cell's upper bound must exceed it so that the rule would pass
  at that bound); the lower level is the same amount, capped at the value.
* :func:`frequency_rule` (magnitudes): fewer than ``min_contributors`` contributors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from justicelab.errors import JusticelabError
from justicelab.privacy.tables.table import CountTable


@dataclass(frozen=True)
class Primary:
    """Sensitive cells and their protection levels (zero where a cell is not sensitive)."""

    sensitive: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    reason: np.ndarray

    @classmethod
    def none(cls, size: int) -> Primary:
        return cls(np.zeros(size, dtype=bool), np.zeros(size), np.zeros(size), np.full(size, None, dtype=object))

    def __or__(self, other: Primary) -> Primary:
        """Both rules at once: sensitive under either, the larger protection levels, both reasons."""
        reason = np.array([" and ".join(r for r in (a, b) if r) or None
                           for a, b in zip(self.reason, other.reason, strict=True)], dtype=object)
        return Primary(self.sensitive | other.sensitive, np.maximum(self.upper, other.upper),
                       np.maximum(self.lower, other.lower), reason)

    @property
    def count(self) -> int:
        return int(self.sensitive.sum())


def threshold_rule(table: CountTable, threshold: int = 11, *, zeros: bool = False,
                   protection: int | None = None) -> Primary:
    """Counts from 1 to threshold-1 (and 0 when ``zeros``) are sensitive; protection as the module says."""
    if threshold < 1:
        raise JusticelabError(f"threshold {threshold}: expected 1 or more (11 suppresses counts 1 to 10)")
    if protection is not None and protection < 1:
        raise JusticelabError(f"protection {protection}: expected 1 or more")
    v = table.values
    sensitive = (v < threshold) & ((v > 0) | zeros)
    if protection is None:
        upper, lower = threshold - v, v.copy()
    else:
        upper, lower = np.full(v.size, float(protection)), np.minimum(float(protection), v)
    how = f"count below {threshold}"
    reason = _reasons(sensitive, how)
    reason[sensitive & (v == 0)] = "zero count"
    return Primary(sensitive, np.where(sensitive, upper, 0.0), np.where(sensitive, lower, 0.0), reason)


def _reasons(sensitive: np.ndarray, text: str) -> np.ndarray:
    out = np.full(sensitive.size, None, dtype=object)
    out[sensitive] = text
    return out


def _top(table: CountTable, n: int, rule: str) -> np.ndarray:
    if table.top is None or table.top.shape[1] < n:
        raise JusticelabError(f"the {rule} needs each cell's {n} largest contributions: build the table with "
                              f"contributor_table(..., top={n})")
    return table.top[:, :n]


def nk_rule(table: CountTable, n: int = 1, k: float = 75.0) -> Primary:
    """(n, k) dominance: sensitive when the n largest contributors hold more than k% of the cell's total.

    Protection level: U = (100/k) * (x1 + ... + xn) - total, the rise after which the n largest would hold k%.
    """
    if not 0 < k < 100 or n < 1:
        raise JusticelabError(f"(n, k) = ({n}, {k}): expected n >= 1 and 0 < k < 100")
    v = table.values
    top = _top(table, n, "(n, k) rule").sum(axis=1)
    sensitive = (v > 0) & (top > k / 100.0 * v)
    level = np.where(sensitive, 100.0 / k * top - v, 0.0)
    reason = _reasons(sensitive, f"{n} largest contributors hold more than {k:g}%")
    return Primary(sensitive, level, np.minimum(level, v), reason)


def p_percent_rule(table: CountTable, p: float = 10.0) -> Primary:
    """p% rule: sensitive when the second largest contributor could estimate the largest within p%.

    That is when total - x1 - x2 < p/100 * x1; protection level U = p/100 * x1 - (total - x1 - x2).
    """
    if not 0 < p <= 100:
        raise JusticelabError(f"p = {p}: expected 0 < p <= 100")
    v = table.values
    top = _top(table, 2, "p% rule")
    x1, x2 = top[:, 0], top[:, 1]
    rest = v - x1 - x2
    sensitive = (v > 0) & (rest < p / 100.0 * x1)
    level = np.where(sensitive, p / 100.0 * x1 - rest, 0.0)
    reason = _reasons(sensitive, f"p% rule (p = {p:g})")
    return Primary(sensitive, level, np.minimum(level, v), reason)


def frequency_rule(table: CountTable, min_contributors: int = 3, *, protection_share: float = 0.1) -> Primary:
    """Magnitudes from fewer than ``min_contributors`` contributors are sensitive (protection: a share of v)."""
    if table.contributors is None:
        raise JusticelabError("the frequency rule needs each cell's number of contributors: build the table "
                              "with contributor_table(...)")
    v = table.values
    sensitive = (table.contributors > 0) & (table.contributors < min_contributors)
    level = np.where(sensitive, np.maximum(protection_share * v, 1e-9), 0.0)
    reason = _reasons(sensitive, f"fewer than {min_contributors} contributors")
    return Primary(sensitive, level, np.minimum(level, v), reason)
