"""An independent attacker: what the published table and its additive relations reveal about each hidden cell.

It is written apart from the solver on purpose (its own equations in the cells' values, published cells
substituted, no capacities on the exact problems) so that it can check the solver. It sees only the
published values (NaN where a cell is hidden) and the relations (each a margin and the cells it adds up).

* :func:`attack` solves, for every hidden cell, min and max of that cell over all non-negative tables that
  agree with every published cell and relation: the exact feasible interval (two LPs per hidden cell, each
  over the cell's connected group of hidden cells only, since groups sharing no relation are independent).
* :func:`verify` answers the auditor's question faster on large tables: is every hidden cell's interval at
  least as wide as required? It first collects *witnesses* (feasible tables found by LPs with random
  objectives over all hidden cells; each is a table the attacker cannot rule out, so the interval contains
  every value a witness gives the cell), then solves the exact LPs only for cells the witnesses do not settle.
  Anyone may offer it candidate tables (``tables``: a base table and deviations from it, as the modular solver
  does); it checks each against the published cells, its own equations and non-negativity, uses those that
  pass as witnesses and ignores the rest, so a wrong candidate can only cost time.

This is the linear-programming attacker of the literature. An attacker who also uses that counts are whole
numbers can round the bounds inwards; the audit therefore calls a count *recoverable* when its interval holds
a single whole number (width below 1), and protection levels are whole numbers for counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

WITNESS_LPS = 200  # at most
WITNESS_PATIENCE = 2  # stop after this many witnesses in a row settle nothing new
LP_METHOD = "highs-ipm"  # interior point, then crossover to an exact vertex: about 3x faster than simplex here


@dataclass(frozen=True)
class Intervals:
    """Per cell: values the attacker cannot rule out, low to high (NaN for published cells). Where ``exact``
    they are the attacker's bounds (``high`` inf when nothing bounds the cell); elsewhere the true interval
    contains [low, high] (witnessed values; a side that failed its requirement is always the exact bound)."""

    low: np.ndarray
    high: np.ndarray
    exact: np.ndarray
    groups: int
    largest_group: int
    lps: int

    @property
    def width(self) -> np.ndarray:
        return self.high - self.low


class _System:
    """The hidden cells' equations: each relation with its published cells moved to the right-hand side."""

    def __init__(self, published: np.ndarray, relations: Sequence[tuple[int, Iterable[int]]]) -> None:
        self.published = np.asarray(published, dtype=np.float64)
        self.hidden = np.flatnonzero(np.isnan(self.published))
        position = {int(c): i for i, c in enumerate(self.hidden)}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        rhs: list[float] = []
        for total, parts in relations:
            terms = [(int(total), 1.0)] + [(int(q), -1.0) for q in parts]
            unknown = [(position[c], a) for c, a in terms if c in position]
            if not unknown:
                continue
            r = len(rhs)
            rows.extend([r] * len(unknown))
            cols.extend(u for u, _ in unknown)
            vals.extend(a for _, a in unknown)
            rhs.append(-sum(a * self.published[c] for c, a in terms if c not in position))
        self.a = csr_matrix((vals, (rows, cols)), shape=(len(rhs), self.hidden.size))
        self.b = np.array(rhs)
        self.group = self._groups()
        self._lps: dict[int, tuple[np.ndarray, csr_matrix | None, np.ndarray | None]] = {}

    def _groups(self) -> np.ndarray:
        """Connected groups of hidden cells (union-find over shared equations): a group label per hidden cell."""
        parent = np.arange(self.hidden.size)

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for r in range(self.a.shape[0]):
            cells = self.a.indices[self.a.indptr[r]:self.a.indptr[r + 1]]
            root = find(int(cells[0]))
            for other in cells[1:]:
                o = find(int(other))
                if o != root:
                    parent[o] = root
        return np.array([find(i) for i in range(self.hidden.size)], dtype=np.int64)

    def _group_lp(self, g: int) -> tuple[np.ndarray, csr_matrix | None, np.ndarray | None]:
        if g not in self._lps:
            members = np.flatnonzero(self.group == g)
            rows = np.unique(self.a[:, members].tocoo().row) if self.a.shape[0] else np.array([], np.int64)
            self._lps[g] = (members, self.a[rows][:, members] if rows.size else None,
                            self.b[rows] if rows.size else None)
        return self._lps[g]

    def exact(self, u: int, *, low: bool = True, high: bool = True) -> tuple[float, float, int]:
        """Min and max of hidden cell u over its group (NaN for a side not asked): an LP per side, no cap
        (the max may be inf)."""
        members, a, b = self._group_lp(int(self.group[u]))
        at = int(np.flatnonzero(members == u)[0])
        out = [np.nan, np.nan]
        for side, sense in ((0, 1.0), (1, -1.0)):
            if not (low, high)[side]:
                continue
            c = np.zeros(members.size)
            c[at] = sense
            res = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method=LP_METHOD)
            if res.status == 3:
                out[side] = np.inf
            elif res.status == 2:
                raise ValueError("the published table contradicts its own relations (no table fits it)")
            elif res.status != 0:
                raise RuntimeError(f"the attacker's LP failed: {res.message}")
            else:
                out[side] = sense * res.fun
        return out[0], out[1], int(low) + int(high)


def attack(published: np.ndarray, relations: Sequence[tuple[int, Iterable[int]]]) -> Intervals:
    """The exact feasible interval of every hidden cell (NaN in ``published``) given the relations."""
    system = _System(published, relations)
    low = np.full(system.published.size, np.nan)
    high = np.full(system.published.size, np.nan)
    lps = 0
    for u, cell in enumerate(system.hidden):
        low[cell], high[cell], n = system.exact(u)
        lps += n
    exact = np.zeros(system.published.size, dtype=bool)
    exact[system.hidden] = True
    return Intervals(low, high, exact, *_group_sizes(system), lps)


def _group_sizes(system: _System) -> tuple[int, int]:
    if system.hidden.size == 0:
        return 0, 0
    sizes = np.unique(system.group, return_counts=True)[1]
    return int(sizes.size), int(sizes.max())


def _candidate_values(system: _System, base: np.ndarray, deviations: sparse.spmatrix | sparse.sparray
                      ) -> tuple[np.ndarray, np.ndarray, int]:
    """Per hidden cell, the least and greatest value over the candidate tables ``base + row`` that agree with
    every published cell, satisfy every equation and hold no negative cell (and the count of those)."""
    h = system.hidden
    none = np.full(h.size, np.inf), np.full(h.size, -np.inf), 0
    base = np.asarray(base, dtype=np.float64)
    shown = ~np.isnan(system.published)
    scale = max(1.0, float(np.abs(base).max(initial=0.0)))
    if base.shape != system.published.shape or np.abs(base[shown] - system.published[shown]).max(
            initial=0.0) > 1e-9 * scale:
        return none
    base_h = base[h]
    if (base_h < -1e-9).any() or (system.a.shape[0] and np.abs(system.a @ base_h - system.b).max() > 1e-6 * scale):
        return none
    z = sparse.csr_matrix(deviations, dtype=np.float64)
    if z.shape[1] != base.size:
        return none
    off = np.asarray(abs(z[:, np.flatnonzero(shown)]).sum(axis=1)).ravel() > 0  # moves a published cell
    zh = z[:, h].tocsr()
    residual = (system.a @ zh.T).tocsc() if system.a.shape[0] else sparse.csc_matrix((0, zh.shape[0]))
    broken = np.zeros(zh.shape[0], dtype=bool)
    if residual.nnz:
        worst = np.asarray(abs(residual).max(axis=0).todense()).ravel()
        broken = worst > 1e-6 * scale
    coo = zh.tocoo()
    value = base_h[coo.col] + coo.data
    negative = np.zeros(zh.shape[0], dtype=bool)
    negative[coo.row[value < -1e-9]] = True
    valid = ~(off | broken | negative)
    keep = valid[coo.row]
    wmin, wmax = base_h.copy(), base_h.copy()
    np.minimum.at(wmin, coo.col[keep], value[keep])
    np.maximum.at(wmax, coo.col[keep], value[keep])
    return wmin, wmax, int(valid.sum())


def verify(published: np.ndarray, relations: Sequence[tuple[int, Iterable[int]]], *,
           need_low: np.ndarray, need_high: np.ndarray, min_width: np.ndarray, seed: int = 0,
           tables: tuple[np.ndarray, sparse.spmatrix | sparse.sparray] | None = None) -> Intervals:
    """Enough of each hidden cell's interval to judge it: where the interval must reach down to ``need_low``,
    up to ``need_high`` (NaN: no requirement) and be at least ``min_width`` wide, witnesses settle what they
    can and exact LPs the rest. A cell that fails gets its exact interval.

    ``tables`` = (base, deviations) offers candidate witnesses ``base + row`` for each row of the sparse matrix
    ``deviations``; each is checked here and used only if the attacker cannot rule it out."""
    system = _System(published, relations)
    h = system.hidden
    size = system.published.size
    low, high = np.full(size, np.nan), np.full(size, np.nan)
    exact = np.zeros(size, dtype=bool)
    lps = 0
    if h.size:
        known = system.published[~np.isnan(system.published)]
        cap = 2.0 * float(np.abs(known).sum()) + 1e6  # witnesses may be capped: they only need to be feasible
        wmin, wmax = np.full(h.size, np.inf), np.full(h.size, -np.inf)
        if tables is not None:
            wmin, wmax, _ = _candidate_values(system, *tables)
        nl, nh, mw = need_low[h], need_high[h], min_width[h]

        def sides() -> tuple[np.ndarray, np.ndarray]:
            """Per hidden cell: is its low side settled, is its high side settled (width counts for both)."""
            tol = 1e-6 * np.maximum(1.0, np.abs(np.nan_to_num(nh)))
            with np.errstate(invalid="ignore"):
                ok_width = wmax - wmin >= mw - 1e-6
                ok_low = (np.isnan(nl) | (wmin <= nl + tol)) & ok_width
                ok_high = (np.isnan(nh) | (wmax >= nh - tol)) & ok_width
            return ok_low, ok_high

        def settled() -> np.ndarray:
            ok_low, ok_high = sides()
            return ok_low & ok_high

        rng = np.random.default_rng(seed)
        idle = 0
        for _ in range(WITNESS_LPS):
            open_ = np.flatnonzero(~settled())
            if open_.size == 0:
                break
            # Push each unsettled cell towards the side it still lacks (a random side when it lacks both).
            lacks_high = ~np.isnan(nh[open_]) & (wmax[open_] < nh[open_])
            lacks_low = ~np.isnan(nl[open_]) & (wmin[open_] > nl[open_])
            direction = np.where(lacks_high & ~lacks_low, 1.0, np.where(lacks_low & ~lacks_high, -1.0,
                                 rng.choice([-1.0, 1.0], open_.size)))
            c = np.zeros(h.size)
            c[open_] = -direction * rng.uniform(0.5, 1.5, open_.size)
            res = linprog(c, A_eq=system.a if system.a.shape[0] else None,
                          b_eq=system.b if system.a.shape[0] else None, bounds=(0, cap), method=LP_METHOD)
            lps += 1
            if res.status == 2:
                raise ValueError("the published table contradicts its own relations (no table fits it)")
            if res.status != 0 or res.x is None:
                break
            before = settled().sum()
            wmin, wmax = np.minimum(wmin, res.x), np.maximum(wmax, res.x)
            if settled().sum() == before:
                idle += 1
                if idle >= WITNESS_PATIENCE:
                    break
            else:
                idle = 0
        low[h], high[h] = wmin, wmax
        ok_low, ok_high = sides()
        for u in np.flatnonzero(~(ok_low & ok_high)):
            cell = h[u]
            lo, hi, n = system.exact(int(u), low=not ok_low[u], high=not ok_high[u])
            low[cell] = wmin[u] if np.isnan(lo) else lo
            high[cell] = wmax[u] if np.isnan(hi) else hi
            exact[cell] = not (ok_low[u] or ok_high[u])
            lps += n
    return Intervals(low, high, exact, *_group_sizes(system), lps)
