"""Optimal complementary suppression: a mixed-integer programme solved by cut generation with HiGHS.

The model is Fischetti and Salazar's (1999). A binary x_j says whether cell j is suppressed; primary cells
are fixed at 1; the objective is the total weight of suppressed cells. For a pattern x, the attacker's
largest rise of a sensitive cell p is the linear programme

    max z_p  subject to  M z = 0,  -LB_j x_j <= z_j <= UB_j x_j

(z is the deviation from the true values, M the relations; LB_j = the cell's value so no cell goes negative,
UB_j a finite cap: a cap only tells the attacker more, so protection against it is protection against the
uncapped attacker). By duality, for any multipliers lambda on the relations, with g = e_p + M^T lambda,

    max z_p  <=  sum_j (g_j+ UB_j + g_j- LB_j) x_j,

so a pattern protects p upwards by U_p only if every such inequality has a right side of at least U_p; the
lambda of the attacker's optimum gives one the current pattern violates (a *capacity cut*). Downwards is the
same with -e_p. The loop: solve the master MILP over the cuts found so far; check every sensitive cell
against the attacker; add the violated cuts; repeat until no cut is violated. The pattern is then optimal
for the model and safe. Each round also grows the master's pattern greedily until it is safe: the master's
optimum is a lower bound, the best grown pattern an upper bound, so a time limit or an accepted gap still
returns a safe pattern with a known distance from the optimum.

A check is settled as cheaply as possible. A *witness* (any z the attacker cannot rule out, with z_p at the
needed rise) proves it safe; witnesses are sought first in a small neighbourhood of p (the suppressed cells
linked to it through a few relations, the others held at their true values: that attacker knows more, so a
witness there is a witness everywhere), batched as one block-diagonal LP; then by LPs with random objectives
over all suppressed cells at once (each optimum is a vertex that proves many checks); then in larger
neighbourhoods, and last over p's whole connected group of suppressed cells, where the check is exact and the
optimal multipliers give the violated cut. A witness found once stays valid while its cells stay suppressed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from justicelab.privacy.tables.rules import Primary
from justicelab.privacy.tables.table import SuppressionError

# How a pattern is checked, cheapest first: neighbourhoods given as (k largest suppressed cells followed per
# relation, depth), shared witnesses over all suppressed cells, and last each cell's whole group.
STAGES: tuple[tuple[int, int] | str, ...] = ((2, 2), "witnesses", (4, 3), (12, 3), "group")
MAX_BLOCK_VARIABLES = 20_000  # per batched attacker LP
MAX_EXACT_CHECKS = 20  # whole-group checks per round once some cut is found
MIP_GAP = 1e-4  # HiGHS's relative optimality tolerance for the master: "optimal" means within this
CERTIFY_ROUNDS = 200  # at most this many shared-witness LPs per check
CERTIFY_PATIENCE = 2  # stop after this many LPs in a row prove nothing new
ZERO = 1e-7  # multipliers' noise below this is zero
PREFER_DISCOUNT = 1e-3  # master_pattern: the discount on preferred cells (well below one cell's cost)
LP_METHOD = "highs-ipm"  # interior point then crossover: a vertex and its duals, about 3x faster here than simplex


@dataclass
class SolveStats:
    """How the solve went: rounds of the master MILP, cuts, attacker LPs, time, optimality."""

    iterations: int = 0
    cuts: int = 0
    attacker_blocks: int = 0
    master_seconds: float = 0.0
    check_seconds: float = 0.0
    seconds: float = 0.0
    optimal: bool = True
    objective: float = 0.0
    bound: float = 0.0
    history: list[tuple[int, int, float]] = field(default_factory=list)  # (master cells, failed checks, seconds)
    method: str = "exact"  # "exact": the whole-table cut loop; "modular": see modular.py


def _tol(need: np.ndarray) -> np.ndarray:
    return np.asarray(1e-6 * np.maximum(1.0, need))


class Cuts:
    """Rows of sum_j coef_j x_j >= rhs, kept as sparse pieces until the master needs them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.blocks: list[sparse.csr_matrix] = []
        self.rhs: list[np.ndarray] = []

    def add(self, rows: sparse.csr_matrix, rhs: np.ndarray) -> None:
        if rows.shape[0]:
            self.blocks.append(rows)
            self.rhs.append(rhs)

    @property
    def count(self) -> int:
        return sum(b.shape[0] for b in self.blocks)

    def matrix(self) -> tuple[sparse.csr_matrix, np.ndarray]:
        if not self.blocks:
            return sparse.csr_matrix((0, self.n)), np.zeros(0)
        return sparse.vstack(self.blocks, format="csr"), np.concatenate(self.rhs)


class ComplementarySolver:
    """One table's complementary suppression problem (see the module docstring)."""

    def __init__(self, relations: sparse.csr_matrix, values: np.ndarray, primary: Primary, weights: np.ndarray,
                 keep: np.ndarray | None = None) -> None:
        self.M = relations.tocsr().astype(np.float64)
        self.MT = self.M.T.tocsr()
        self.incidence = (abs(self.M) > 0).astype(np.float64).tocsc()
        self.n = values.size
        self.values = values.astype(np.float64)
        self.primary = primary
        self.weights = weights.astype(np.float64)
        self.keep = np.zeros(self.n, dtype=bool) if keep is None else keep
        needs = np.concatenate([primary.upper, primary.lower])
        self.LB = self.values.copy()
        self.UB = np.full(self.n, float(self.values.max(initial=0.0) + needs.max(initial=0.0) + 1.0))
        cells = np.flatnonzero(primary.sensitive)
        # Checks: (cell, direction, need) for every sensitive cell and direction with something to protect.
        self.check_cell = np.concatenate([cells, cells])
        self.check_dir = np.concatenate([np.ones(cells.size), -np.ones(cells.size)])
        self.check_need = np.concatenate([primary.upper[cells], primary.lower[cells]])
        wanted = self.check_need > 0
        self.check_cell, self.check_dir, self.check_need = (
            self.check_cell[wanted], self.check_dir[wanted], self.check_need[wanted])
        self.safe_with: dict[int, np.ndarray] = {}
        self.stats = SolveStats()

    # --- cuts ------------------------------------------------------------------------------------

    def cut_rows(self, g: sparse.csr_matrix, need: np.ndarray) -> sparse.csr_matrix:
        """Capacity-cut rows from rows of g: g+ * UB + g- * LB, noise dropped, each capped at its right side."""
        g = g.tocoo()
        keep = np.abs(g.data) > ZERO
        rows, cols, data = g.row[keep], g.col[keep], g.data[keep]
        coef = np.where(data > 0, data * self.UB[cols], -data * self.LB[cols])
        coef = np.minimum(coef, need[rows])
        nz = coef > ZERO
        return sparse.csr_matrix((coef[nz], (rows[nz], cols[nz])), shape=(g.shape[0], self.n))

    def initial_cuts(self) -> tuple[sparse.csr_matrix, np.ndarray]:
        """For each sensitive cell, relation and direction: the single-relation cut (lambda = that relation)."""
        rel_of = self.MT[self.check_cell].tocoo()  # row k: check k; col r: a relation holding the cell
        k, r, m = rel_of.row, rel_of.col, rel_of.data
        starts, ends = self.M.indptr[r], self.M.indptr[r + 1]
        lengths = ends - starts
        owner = np.repeat(np.arange(k.size), lengths)
        pos = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
        cols, mr = self.M.indices[pos], self.M.data[pos]
        s = self.check_dir[k]
        # lambda = -s * m_rp * e_r makes g_p vanish: g_j = -s * m_rp * m_rj elsewhere in the relation.
        g = -s[owner] * m[owner] * mr
        g[cols == self.check_cell[k][owner]] = 0.0
        gm = sparse.csr_matrix((g, (owner, cols)), shape=(k.size, self.n))
        need = self.check_need[k]
        return self.cut_rows(gm, need), need - _tol(need)

    def relation_cuts(self) -> Cuts:
        """The single-relation cuts (each relation on its own, a one-way table, protects its sensitive cells)
        that the sensitive cells alone do not meet: they hold for every safe pattern."""
        rows, rhs = self.initial_cuts()
        unmet = np.asarray(rows @ self.primary.sensitive.astype(np.float64)).ravel() < rhs
        cuts = Cuts(self.n)
        cuts.add(rows[np.flatnonzero(unmet)], rhs[unmet])
        return cuts

    def master_pattern(self, cuts: Cuts, deadline: float, prefer: np.ndarray | None = None
                       ) -> tuple[np.ndarray, float]:
        """The least-cost pattern meeting ``cuts``, and the MILP's lower bound (valid for the whole problem when
        every cut is). ``prefer``: cells kept at a slightly lower cost, so that among equally cheap patterns
        the one closest to them wins (the bound then may sit up to that discount below the true one)."""
        if cuts.count == 0:
            return self.primary.sensitive.copy(), float(self.weights[self.primary.sensitive].sum())
        saved = self.weights
        if prefer is not None:
            self.weights = saved * np.where(prefer, 1.0 - PREFER_DISCOUNT, 1.0)
        try:
            res = self._master(cuts, self.primary.sensitive.astype(np.float64), np.where(self.keep, 0.0, 1.0),
                               deadline)
        finally:
            self.weights = saved
        if res.status == 2:
            raise SuppressionError("no suppression pattern protects every sensitive cell while keeping the cells "
                                   "asked to stay published")
        if res.x is None:
            raise SuppressionError("no pattern met the relations' conditions in the time allowed; allow more time")
        self.stats.cuts = cuts.count
        dual = getattr(res, "mip_dual_bound", None)
        return res.x > 0.5, float(dual) if dual is not None and np.isfinite(dual) else 0.0

    # --- the attacker, batched -------------------------------------------------------------------

    def _neighbourhoods(self, x: np.ndarray, checks: np.ndarray, stage: tuple[int, int] | None
                        ) -> list[np.ndarray]:
        """For each check, the suppressed cells near its cell: ``stage`` = (k, depth) follows, from each cell,
        the k largest suppressed cells of each of its relations, ``depth`` steps out; None: the whole group."""
        sup = np.flatnonzero(x)
        local = -np.ones(self.n, dtype=np.int64)
        local[sup] = np.arange(sup.size)
        inc = self.incidence[:, sup].tocsr()  # relations x suppressed cells
        starts = local[self.check_cell[checks]]
        if stage is None:
            adj = (inc.T @ inc).tocsr()
            _, label = connected_components(adj, directed=False)
            members: dict[int, np.ndarray] = {}
            out = []
            for s in starts:
                if label[s] not in members:
                    members[label[s]] = sup[label == label[s]]
                out.append(members[label[s]])
            return out
        k, depth = stage
        coo = inc.tocoo()
        order = np.lexsort((-self.values[sup][coo.col], coo.row))
        rows, cols = coo.row[order], coo.col[order]
        first = np.searchsorted(rows, rows, side="left")
        rank = np.arange(rows.size) - first
        top = rank < k
        reps = sparse.csr_matrix((np.ones(int(top.sum())), (rows[top], cols[top])), shape=inc.shape)
        step = (inc.T @ reps).tocsr()  # cell -> the k largest suppressed cells of each of its relations
        reach = sparse.csr_matrix((np.ones(starts.size), (np.arange(starts.size), starts)),
                                  shape=(starts.size, sup.size))
        for _ in range(depth):
            reach = reach + reach @ step
            reach.data[:] = 1.0
        return [sup[reach.indices[reach.indptr[i]:reach.indptr[i + 1]]] for i in range(starts.size)]

    def _attack(self, x: np.ndarray, checks: np.ndarray, cells: list[np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix, list[np.ndarray]]:
        """Solve the blocks; per check: the attacker's optimum, the cut's value at x, the cut rows, and the
        cells the optimum moves (its witness)."""
        sizes = np.array([c.size for c in cells])
        allc = np.concatenate(cells)
        owner = np.repeat(np.arange(len(cells)), sizes)
        sub = self.MT[allc].tocoo()  # row: variable (a cell in a block), col: relation
        key = owner[sub.row].astype(np.int64) * self.M.shape[0] + sub.col
        ukey, con = np.unique(key, return_inverse=True)
        a_eq = sparse.csr_matrix((sub.data, (con, sub.row)), shape=(ukey.size, allc.size))
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        p = self.check_cell[checks]
        s = self.check_dir[checks]
        at_p = first + np.array([np.flatnonzero(c == q)[0] for c, q in zip(cells, p, strict=True)], dtype=np.int64)
        c = np.zeros(allc.size)
        c[at_p] = -s
        bounds = np.column_stack([-self.LB[allc], self.UB[allc]])
        res = linprog(c, A_eq=a_eq, b_eq=np.zeros(ukey.size), bounds=bounds, method=LP_METHOD)
        self.stats.attacker_blocks += len(cells)
        if res.status != 0 or res.x is None:
            raise SuppressionError(f"the attacker's linear programme failed: {res.message}")
        optimum = s * res.x[at_p]
        moved = np.abs(res.x) > ZERO
        supports = [allc[first[i]:first[i] + sizes[i]][moved[first[i]:first[i] + sizes[i]]]
                    for i in range(len(cells))]
        lam = res.eqlin.marginals
        block_of_con = ukey // self.M.shape[0]
        rel_of_con = ukey % self.M.shape[0]
        lam_m = sparse.csr_matrix((lam, (block_of_con, rel_of_con)), shape=(len(cells), self.M.shape[0]))
        # linprog minimises -s z_p; its equality marginals lambda give reduced costs -s e_p - M^T lambda, so
        # the bound on max s z_p is built from g = s e_p + M^T lambda.
        g = lam_m @ self.M + sparse.csr_matrix((s, (np.arange(len(cells)), p)), shape=(len(cells), self.n))
        rows = self.cut_rows(g.tocsr(), self.check_need[checks])
        value_at_x = np.asarray(rows @ x.astype(np.float64)).ravel()
        return optimum, value_at_x, rows, supports

    def _certify(self, x: np.ndarray, pending: np.ndarray) -> np.ndarray:
        """Checks proven safe by shared witnesses. Each LP maximises a random positive combination of the
        pending cells' moves (up for an upward check, down for a downward one) over all suppressed cells at
        once; its optimum is a vertex, where many cells sit at a bound, so one solution usually proves many
        checks. Any feasible z is a table the attacker cannot rule out: s_k z_p >= need_k proves check k."""
        sup = np.flatnonzero(x)
        local = -np.ones(self.n, dtype=np.int64)
        local[sup] = np.arange(sup.size)
        sub = self.MT[sup].tocoo()
        used, con = np.unique(sub.col, return_inverse=True)
        a_eq = sparse.csr_matrix((sub.data, (con, sub.row)), shape=(used.size, sup.size))
        bounds = np.column_stack([-self.LB[sup], self.UB[sup]])
        rng = np.random.default_rng(len(pending))
        done = np.zeros(pending.size, dtype=bool)
        idle = 0
        for _ in range(CERTIFY_ROUNDS):
            open_ = np.flatnonzero(~done)
            if open_.size == 0:
                break
            ids = pending[open_]
            c = np.zeros(sup.size)
            np.add.at(c, local[self.check_cell[ids]],
                      -self.check_dir[ids] * rng.uniform(0.5, 1.5, ids.size) / self.check_need[ids])
            res = linprog(c, A_eq=a_eq, b_eq=np.zeros(used.size), bounds=bounds, method=LP_METHOD)
            self.stats.attacker_blocks += 1
            if res.status != 0 or res.x is None:
                break
            z = res.x
            need = self.check_need[ids]
            reached = self.check_dir[ids] * z[local[self.check_cell[ids]]] >= need - _tol(need)
            if not reached.any():
                idle += 1
                if idle >= CERTIFY_PATIENCE:
                    break
                continue
            idle = 0
            witness = sup[np.abs(z) > ZERO]
            for i in ids[reached]:
                self.safe_with[int(i)] = witness
            done[open_[reached]] = True
        return done

    def check(self, x: np.ndarray, exact_budget: int = MAX_EXACT_CHECKS
              ) -> tuple[sparse.csr_matrix, np.ndarray, int]:
        """The cuts the pattern violates (none when it is safe) and how many checks failed.

        Order: checks whose earlier witness still lies inside the pattern are safe; then small neighbourhoods
        (cheap, and their witnesses are small so they stay valid as the pattern changes); then shared
        witnesses over all suppressed cells; then larger neighbourhoods; last each remaining cell's whole
        group (at most ``exact_budget`` of them once some cut has been found: the pattern is unsafe anyway).
        """
        pending = np.array([i for i in range(self.check_cell.size)
                            if i not in self.safe_with or not x[self.safe_with[i]].all()], dtype=np.int64)
        found_rows: list[sparse.csr_matrix] = []
        found_rhs: list[np.ndarray] = []
        unsafe = 0
        for stage in STAGES:
            if pending.size == 0:
                break
            if stage == "witnesses":
                pending = pending[~self._certify(x, pending)]
                continue
            if stage == "group" and found_rows and pending.size > exact_budget:
                pending = pending[:exact_budget]
            cells = self._neighbourhoods(x, pending, stage if isinstance(stage, tuple) else None)
            next_pending = []
            for chunk in _chunks(pending, cells):
                ids = pending[chunk]
                optimum, value_at_x, rows, supports = self._attack(x, ids, [cells[i] for i in chunk])
                need = self.check_need[ids]
                tol = _tol(need)
                violated = value_at_x < need - tol
                safe = ~violated & (optimum >= need - tol)
                for i in np.flatnonzero(safe):
                    self.safe_with[int(ids[i])] = supports[i]
                if violated.any():
                    found_rows.append(rows[np.flatnonzero(violated)])
                    found_rhs.append(need[violated] - tol[violated])
                    unsafe += int(violated.sum())
                rest = np.flatnonzero(~violated & ~safe)
                if stage == "group" and rest.size:
                    # Exact check, yet the duals' cut is not violated: numerical trouble; cut off x itself.
                    row, rhs = self._no_good(x)
                    found_rows.append(row)
                    found_rhs.append(np.array([rhs]))
                    unsafe += int(rest.size)
                next_pending.extend(chunk[rest].tolist())
            pending = pending[np.array(next_pending, dtype=np.int64)] if next_pending else np.array([], np.int64)
        if not found_rows:
            return sparse.csr_matrix((0, self.n)), np.array([]), 0
        return sparse.vstack(found_rows, format="csr"), np.concatenate(found_rhs), unsafe

    def _no_good(self, x: np.ndarray) -> tuple[sparse.csr_matrix, float]:
        """The cut that excludes exactly x: sum of x_j off the pattern - sum on it >= 1 - |pattern|."""
        coef = np.where(x, -1.0, 1.0)
        return sparse.csr_matrix(coef.reshape(1, -1)), 1.0 - float(x.sum())

    def _master(self, cuts: Cuts, lower: np.ndarray, upper: np.ndarray, deadline: float) -> Any:
        a, rhs = cuts.matrix()
        t0 = time.perf_counter()
        res = milp(self.weights, integrality=np.ones(self.n), bounds=Bounds(lower, upper),
                   constraints=LinearConstraint(a, rhs, np.inf),
                   options={"time_limit": max(deadline - time.perf_counter(), 0.01), "mip_rel_gap": MIP_GAP,
                            "disp": False})
        self.stats.master_seconds += time.perf_counter() - t0
        return res

    def meet(self, cols: np.ndarray, coef: np.ndarray, rhs: float, x: np.ndarray) -> bool:
        """Grow the pattern ``x`` (in place) until the cut sum coef_j x_j >= rhs holds, hiding the cells of
        most capacity per unit of cost first; False if the cells it may hide cannot meet it."""
        have = float(coef[x[cols]].sum())
        free = (~x[cols]) & (~self.keep[cols]) & (coef > 0)
        order = np.argsort(-coef[free] / self.weights[cols[free]], kind="stable")
        for j, cj in zip(cols[free][order], coef[free][order], strict=True):
            if have >= rhs:
                break
            x[j] = True
            have += cj
        return have >= rhs

    def repair(self, x: np.ndarray, rows: sparse.csr_matrix, rhs: np.ndarray, cuts: Cuts,
               deadline: float) -> np.ndarray | None:
        """A safe pattern grown from x: satisfy each violated cut with the cells of most capacity per unit of
        cost, check again, repeat (suppressing more never narrows an interval, so this ends). None if out of
        time. (Measured against growing x with the master MILP instead: as good, and faster per round.)"""
        x = x.copy()
        while rows.shape[0]:
            for i in range(rows.shape[0]):
                if not self.meet(rows.indices[rows.indptr[i]:rows.indptr[i + 1]],
                                 rows.data[rows.indptr[i]:rows.indptr[i + 1]], float(rhs[i]), x):
                    return None
            if time.perf_counter() > deadline:
                return None
            t0 = time.perf_counter()
            rows, rhs, _ = self.check(x)
            self.stats.check_seconds += time.perf_counter() - t0
            cuts.add(rows, rhs)
        return x

    # --- the loop --------------------------------------------------------------------------------

    def solve(self, time_limit: float = 120.0, gap: float = 0.0,
              progress: Callable[[str], None] | None = None) -> np.ndarray:
        """The suppression pattern (a boolean per cell): every sensitive cell protected, least total weight.

        Each round's master gives a lower bound on the least weight, and its pattern grown until safe an
        upper bound; the loop ends when the master's pattern is itself safe (optimal), when the best safe
        pattern is within ``gap`` (relative) of the bound, or at ``time_limit`` with the best safe pattern.
        """
        start = time.perf_counter()
        deadline = start + time_limit
        x = self.primary.sensitive.copy()
        if (self.keep & self.primary.sensitive).any():
            raise SuppressionError("a sensitive cell is among the cells to keep published")
        if self.check_cell.size == 0 or self.M.shape[0] == 0:
            # Nothing to protect, or no totals to infer from: the sensitive cells alone are safe.
            self.stats.optimal = True
            self.stats.seconds = time.perf_counter() - start
            return x
        cuts = Cuts(self.n)
        cuts.add(*self.initial_cuts())
        lower = self.primary.sensitive.astype(np.float64)
        upper = np.where(self.keep, 0.0, 1.0)
        best: np.ndarray | None = None
        best_cost = np.inf
        bound = 0.0
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self.stats.iterations += 1
            res = self._master(cuts, lower, upper, deadline)
            if res.status == 2:
                raise SuppressionError("no suppression pattern protects every sensitive cell while keeping "
                                       "the cells asked to stay published")
            if res.x is None:
                break
            dual = getattr(res, "mip_dual_bound", None)
            bound = max(bound, float(dual) if dual is not None and np.isfinite(dual) else 0.0)
            x = res.x > 0.5
            t0 = time.perf_counter()
            rows, rhs_new, unsafe = self.check(x)
            self.stats.check_seconds += time.perf_counter() - t0
            cost = float(self.weights[x].sum())
            if rows.shape[0] == 0:
                if cost < best_cost:
                    best, best_cost = x, cost
                if res.status == 0:  # the master's optimum is safe: nothing cheaper exists
                    bound = max(bound, cost)
                self._record(x, 0, start, progress, cuts, best_cost, bound)
                break
            cuts.add(rows, rhs_new)
            grown = self.repair(x, rows, rhs_new, cuts, deadline)
            if grown is not None and float(self.weights[grown].sum()) < best_cost:
                best, best_cost = grown, float(self.weights[grown].sum())
            self._record(x, unsafe, start, progress, cuts, best_cost, bound)
            if best is not None and best_cost - bound <= max(gap, MIP_GAP) * best_cost + 1e-9:
                break
        if best is None:
            raise SuppressionError(f"no safe suppression pattern found within {time_limit:g} seconds "
                                   f"({self.stats.iterations} rounds); allow more time")
        self.stats.cuts = cuts.count
        self.stats.objective = best_cost
        self.stats.bound = min(bound, best_cost)
        self.stats.optimal = best_cost - self.stats.bound <= MIP_GAP * best_cost + 1e-9
        self.stats.seconds = time.perf_counter() - start
        return best

    def _record(self, x: np.ndarray, unsafe: int, start: float, progress: Callable[[str], None] | None,
                cuts: Cuts, best: float, bound: float) -> None:
        self.stats.history.append((int(x.sum()), unsafe, time.perf_counter() - start))
        if progress:
            progress(f"round {self.stats.iterations}: master {int(x.sum())} cells, {unsafe} protection checks "
                     f"failed; best safe {best:g}, lower bound {bound:g}, {cuts.count} cuts")


def _chunks(pending: np.ndarray, cells: list[np.ndarray]) -> list[np.ndarray]:
    """Split the checks into groups whose blocks together stay under the LP size limit."""
    out: list[np.ndarray] = []
    current: list[int] = []
    size = 0
    for i, c in enumerate(cells):
        if current and size + c.size > MAX_BLOCK_VARIABLES:
            out.append(np.array(current, dtype=np.int64))
            current, size = [], 0
        current.append(i)
        size += c.size
    if current:
        out.append(np.array(current, dtype=np.int64))
    return out
