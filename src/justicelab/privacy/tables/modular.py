"""Complementary suppression for large three-way tables: sub-table by sub-table, then shown safe by witnesses.

The whole-table cut loop (complementary.py) is optimal, but each of its rounds solves linear programmes over
every hidden cell: on a 58 x 38 x 10 table with every margin (25,000 cells, 4,500 sensitive) it finds no pattern
in two minutes. This method works the way the modular methods of statistical offices do, smallest sub-tables
first, and then proves its pattern safe instead of searching further:

1. **Relations (one-way sub-tables).** One MILP over the single-relation cuts (each sensitive cell needs, in
   each of its relations, hidden partners able to absorb its protection). Every safe pattern meets them, so the
   MILP's optimum is a lower bound for the whole problem, and on count tables it is close to safe already.
2. **Flow witnesses (pairs of slices).** For every sensitive cell and direction, a witness from network flows
   (pairflows.py): a table the attacker cannot rule out, so every check it reaches is proven.
3. **Two-way slices.** For the checks still open, each slice through the cell is a two-way sub-table whose own
   attacker is a maximum flow; where it falls short, its minimum cut is a capacity cut (slicecuts.py). The
   master MILP is solved again with those cuts (preferring the cells it hid before), and the checks whose
   witnesses no longer lie inside the pattern are proven again.
4. **Shared LP witnesses.** A few LPs over every hidden cell, each pushing the open checks' cells their way,
   prove most of the checks left (their witnesses span many slices, beyond what flows find).
5. **Repair.** A check still open gets hypercubes (cubes.py) on top of its partial flow: the cheapest corners to
   hide, already hidden ones free. Hiding more never narrows an interval, so every proof stands.
6. **Pruning.** A complementary cell that no witness moves is published again: the witnesses stay valid, since
   none moves it.

The witnesses go to the independent attacker as *candidate tables*: it checks each against the published cells,
its own equations and non-negativity before using it, and solves its own linear programmes for anything they
leave unsettled, so a wrong witness can only cost time, never pass an unsafe table.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from justicelab.privacy.tables.complementary import LP_METHOD, ComplementarySolver, SolveStats
from justicelab.privacy.tables.cubes import Cubes
from justicelab.privacy.tables.pairflows import Checks, PairFlows
from justicelab.privacy.tables.rules import Primary
from justicelab.privacy.tables.slicecuts import slice_cuts
from justicelab.privacy.tables.table import CountTable, SuppressionError

FLOW_ROUNDS = 24  # partners tried per check (each round is one max-flow over all pending checks)
SLICE_ROUNDS = 1  # rounds of two-way slice cuts, master MILP and flow witnesses again (more: slower, rarely fewer)
LP_ROUNDS = 5  # at most this many shared-witness LPs (each about 0.1-0.5 s on 58 x 38 x 10)
LP_MIN_GAIN = 0.1  # stop the LPs once one proves fewer than this share of the open checks
MARGIN_COST = 2.0  # in a repair, hiding a margin cell counts as this many inner cells (totals matter most)
VALUE_SCALE = 50.0  # and a cell of value v as 1 + v / VALUE_SCALE cells: among cubes as small, the least value


class ModularSolver:
    """One flat three-way table's complementary suppression (see the module docstring)."""

    def __init__(self, table: CountTable, primary: Primary, weights: np.ndarray,
                 keep: np.ndarray | None = None) -> None:
        self.table = table
        self.primary = primary
        self.weights = weights.astype(np.float64)
        self.keep = np.zeros(table.size, dtype=bool) if keep is None else keep
        self.relations = ComplementarySolver(table.relation_matrix(), table.values, primary, weights, keep)
        self.stats = SolveStats(method="modular")
        self.witnesses = sparse.csr_matrix((0, table.size))

    def solve(self, time_limit: float = 120.0, gap: float = 0.0,
              progress: Callable[[str], None] | None = None) -> np.ndarray:
        """The suppression pattern, every sensitive cell's protection shown by a witness in ``self.witnesses``."""
        start = time.perf_counter()
        deadline = start + time_limit
        if (self.keep & self.primary.sensitive).any():
            raise SuppressionError("a sensitive cell is among the cells to keep published")
        solver = self.relations
        checks = Checks.of(self.primary)
        if checks.size == 0:
            self.stats.seconds = time.perf_counter() - start
            return self.primary.sensitive.copy()
        cuts = solver.relation_cuts()
        hidden, bound = solver.master_pattern(cuts, deadline)
        _say(progress, f"relations: {int(hidden.sum())} cells hidden, lower bound {bound:g}")
        rows = sparse.csr_matrix((checks.size, self.table.size))  # each check's witness (or partial one)
        proven = np.zeros(checks.size, dtype=bool)
        rows, proven = self._prove(checks, hidden, rows, proven)
        for _ in range(SLICE_ROUNDS):
            self.stats.iterations += 1
            open_ = np.flatnonzero(~proven)
            new, rhs = slice_cuts(self.table.shape, self.table.values, hidden, checks, open_)
            self.stats.history.append((int(hidden.sum()), int(open_.size), time.perf_counter() - start))
            _say(progress, f"round {self.stats.iterations}: {int(hidden.sum())} cells hidden, "
                           f"{checks.size - open_.size} of {checks.size} checks shown safe by flows, "
                           f"{new.shape[0]} two-way slice cuts")
            if new.shape[0] == 0 or time.perf_counter() > deadline:
                break
            cuts.add(new, rhs - 1e-6)
            hidden, round_bound = solver.master_pattern(cuts, deadline, prefer=hidden)
            bound = max(bound, round_bound)
            rows, proven = self._prove(checks, hidden, rows, proven)
        shared, proven = self._shared_witnesses(checks, proven, hidden)
        _say(progress, f"shared LP witnesses: {shared.shape[0]}; {int((~proven).sum())} checks still open")
        repairs = self._repair(checks, proven, rows, hidden)
        witnesses = sparse.vstack([rows[np.flatnonzero(proven)], shared, repairs], format="csr")
        moved = np.zeros(self.table.size, dtype=bool)
        moved[witnesses.indices[np.abs(witnesses.data) > 1e-9]] = True
        published_again = hidden & ~self.primary.sensitive & ~moved
        hidden &= ~published_again
        _say(progress, f"repair: {repairs.shape[0]} witnesses completed with hypercubes; "
                       f"{int(published_again.sum())} complementary cells no witness needs published again")
        self.witnesses = witnesses
        cost = float(self.weights[hidden].sum())
        self.stats.cuts = cuts.count
        self.stats.objective = cost
        self.stats.bound = min(bound, cost)
        self.stats.optimal = cost - self.stats.bound <= max(gap, 1e-4) * cost + 1e-9
        self.stats.seconds = time.perf_counter() - start
        return hidden

    def _prove(self, checks: Checks, hidden: np.ndarray, rows: sparse.csr_matrix, proven: np.ndarray
               ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Flow witnesses for every check whose witness no longer lies inside ``hidden`` (or never did)."""
        still = np.asarray(abs(rows) @ (~hidden).astype(np.float64)).ravel() == 0
        proven = proven & still
        todo = np.flatnonzero(~proven)
        if todo.size == 0:
            return rows, proven
        sub = Checks(checks.cell[todo], checks.direction[todo], checks.need[todo])
        found, moves = PairFlows(self.table.shape, self.table.values, hidden).prove(sub, FLOW_ROUNDS)
        keep = sparse.diags(np.where(np.isin(np.arange(checks.size), todo), 0.0, 1.0))
        place = sparse.csr_matrix((np.ones(todo.size), (todo, np.arange(todo.size))), shape=(checks.size, todo.size))
        rows = (keep @ rows + place @ moves).tocsr()
        proven = proven.copy()
        proven[todo[found]] = True
        return rows, proven

    def _shared_witnesses(self, checks: Checks, proven: np.ndarray, hidden: np.ndarray
                          ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Witnesses for checks the flows could not show, from LPs over every hidden cell: each pushes the open
        checks' cells their way with random weights, and its optimum, stretched as far as the cells' values
        allow in both directions along the same line, proves every check it reaches (one LP often proves
        many). Stops after LP_ROUNDS LPs or the first that proves less than LP_MIN_GAIN of the open checks."""
        solver = self.relations
        sup = np.flatnonzero(hidden)
        local = -np.ones(self.table.size, dtype=np.int64)
        local[sup] = np.arange(sup.size)
        sub = solver.MT[sup].tocoo()
        used, con = np.unique(sub.col, return_inverse=True)
        a_eq = sparse.csr_matrix((sub.data, (con, sub.row)), shape=(used.size, sup.size))
        value = self.table.values[sup]
        bounds = np.column_stack([-value, solver.UB[sup]])
        rng = np.random.default_rng(0)
        out: list[sparse.csr_matrix] = []
        proven = proven.copy()
        for _ in range(LP_ROUNDS):
            open_ = np.flatnonzero(~proven)
            if open_.size == 0:
                break
            c = np.zeros(sup.size)
            np.add.at(c, local[checks.cell[open_]],
                      -checks.direction[open_] * rng.uniform(0.5, 1.5, open_.size) / checks.need[open_])
            res = linprog(c, A_eq=a_eq, b_eq=np.zeros(used.size), bounds=bounds, method=LP_METHOD)
            if res.status != 0 or res.x is None:
                break
            z = np.where(np.abs(res.x) > 1e-9, res.x, 0.0)
            with np.errstate(divide="ignore"):
                up = float(np.min(value[z < 0] / -z[z < 0], initial=np.inf))
                down = float(np.min(value[z > 0] / z[z > 0], initial=np.inf))
            lines = [z] + ([up * z] if np.isfinite(up) else []) + ([-down * z] if np.isfinite(down) else [])
            before = int(proven.sum())
            for line in lines:
                reach = checks.direction[open_] * line[local[checks.cell[open_]]] >= checks.need[open_] - 1e-6
                if reach.any() and not proven[open_[reach]].all():
                    proven[open_[reach]] = True
                    out.append(sparse.csr_matrix((line[line != 0], (np.zeros(int((line != 0).sum())),
                                                  sup[line != 0])), shape=(1, self.table.size)))
            if int(proven.sum()) - before < LP_MIN_GAIN * open_.size:
                break
        if not out:
            return sparse.csr_matrix((0, self.table.size)), proven
        return sparse.vstack(out, format="csr"), proven

    def _repair(self, checks: Checks, proven: np.ndarray, flows: sparse.csr_matrix, hidden: np.ndarray
                ) -> sparse.csr_matrix:
        """Complete every check no flow proved with hypercubes on top of its partial flow, one check after the
        other (corners hidden for one are free for the next); ``hidden`` grows in place."""
        cost = (self.weights * np.where(self.table.is_margin(), MARGIN_COST, 1.0)
                * (1.0 + self.table.values / VALUE_SCALE))
        done = proven.copy()
        out: list[sparse.csr_matrix] = []
        start = flows
        cubes = Cubes(self.table.shape, self.table.values, cost, self.keep)
        for k in np.flatnonzero(~done).tolist():
            if done[k]:
                continue
            offset = _dense(start[k], self.table.size)
            cell, direction = int(checks.cell[k]), float(checks.direction[k])
            found_cube = cubes.protect(cell, direction, float(checks.need[k]) - direction * offset[cell], hidden,
                                       offset)
            if found_cube is None:
                raise SuppressionError(f"no hypercube protects {self.table.describe(cell)}: too many cells must "
                                       f"stay published")
            self._apply(k, *found_cube, start, hidden, checks, done, out)
        if not out:
            return sparse.csr_matrix((0, self.table.size))
        return sparse.vstack(out, format="csr")

    def _apply(self, k: int, cells: np.ndarray, amounts: np.ndarray, start: sparse.csr_matrix, hidden: np.ndarray,
               checks: Checks, done: np.ndarray, out: list[sparse.csr_matrix]) -> None:
        """Hide a repair's cells and record check k's witness (its partial flow plus the repair); mark every open
        check the witness reaches as done."""
        row = _dense(start[k], self.table.size)
        np.add.at(row, cells, amounts)
        hidden[cells] = True
        out.append(sparse.csr_matrix(row.reshape(1, -1)))
        open_ = np.flatnonzero(~done)
        reach = checks.direction[open_] * row[checks.cell[open_]] >= checks.need[open_] - 1e-9
        done[open_[reach]] = True
        done[k] = True


def _dense(row: sparse.csr_matrix, size: int) -> np.ndarray:
    out = np.zeros(size)
    out[row.indices] = row.data
    return out


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress:
        progress(message)
