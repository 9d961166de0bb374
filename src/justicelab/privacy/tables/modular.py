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
4. **The exact attacker, grown until safe.** The checks still open go to the attacker's own LP over every
   hidden cell, kept warm between solves (patternlp.py: milliseconds each). A few solves push all open cells
   at once (one optimum often proves many); then each open check alone: its optimum proves it, or its duals
   give the capacity cut the pattern violates, met by hiding the cells of most capacity per unit of cost, and
   the check is solved again. Hiding more never narrows an interval, so every proof made stands.
5. **Pruning.** A complementary cell that no witness moves is published again: the witnesses stay valid, since
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

from justicelab.privacy.tables.complementary import ComplementarySolver, SolveStats
from justicelab.privacy.tables.pairflows import Checks, PairFlows
from justicelab.privacy.tables.patternlp import PatternLP
from justicelab.privacy.tables.rules import Primary
from justicelab.privacy.tables.slicecuts import slice_cuts
from justicelab.privacy.tables.table import CountTable, SuppressionError

FLOW_ROUNDS = 24  # partners tried per check (each round is one max-flow over all pending checks)
SLICE_ROUNDS = 1  # rounds of two-way slice cuts, master MILP and flow witnesses again (more: slower, rarely fewer)
SHARED_SOLVES = 10  # at most this many LP solves pushing every open check at once, before one check at a time
SHARED_MIN_GAIN = 0.05  # stop those once one proves fewer than this share of the open checks


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
        open_before = int((~proven).sum())
        hidden_before = int(hidden.sum())
        rows, proven, solves = self._grow(checks, hidden, rows, proven)
        witnesses = rows[np.flatnonzero(proven)]
        moved = np.zeros(self.table.size, dtype=bool)
        moved[witnesses.indices[np.abs(witnesses.data) > 1e-9]] = True
        published_again = hidden & ~self.primary.sensitive & ~moved
        hidden &= ~published_again
        _say(progress, f"exact attacker: {open_before} open checks settled in {solves} LP solves, "
                       f"{int(hidden.sum()) + int(published_again.sum()) - hidden_before} cells hidden more; "
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
        rows = _replace_rows(rows, todo, moves)
        proven = proven.copy()
        proven[todo[found]] = True
        return rows, proven

    def _grow(self, checks: Checks, hidden: np.ndarray, rows: sparse.csr_matrix, proven: np.ndarray
              ) -> tuple[sparse.csr_matrix, np.ndarray, int]:
        """Make every open check safe by hiding more. The attacker's exact LP (kept warm) either proves a check
        (its optimum is the witness, and may prove other open checks too) or gives the capacity cut the pattern
        violates; the cells of most capacity per unit of cost are hidden until the cut is met, and the check
        is tried again. ``hidden`` grows in place; hiding more never narrows an interval, so every proof
        already made stands. Returns the witnesses, every check proven, and how many LPs were solved."""
        solver = self.relations
        lp = PatternLP(solver.M, self.table.values, solver.UB)
        lp.set_pattern(hidden)
        settled = proven.copy()
        found: list[tuple[np.ndarray, np.ndarray]] = []  # (checks, the deviation proving them)
        rng = np.random.default_rng(0)
        solves = 0
        for _ in range(SHARED_SOLVES):
            left = np.flatnonzero(~settled)
            if left.size == 0:
                break
            z = lp.push_many(checks.cell[left], checks.direction[left] * rng.uniform(0.5, 1.5, left.size)
                             / checks.need[left])
            solves += 1
            hit = left[checks.reached_by(z, left)]
            settled[hit] = True
            found.append((hit, z))
            if hit.size < SHARED_MIN_GAIN * left.size:
                break
        left = np.flatnonzero(~settled)
        queue = left[np.lexsort((checks.direction[left], checks.cell[left]))].tolist()
        while queue:
            k = queue.pop(0)
            if settled[k]:
                continue
            lp.set_pattern(hidden)
            reach, z, g = lp.push(int(checks.cell[k]), float(checks.direction[k]))
            solves += 1
            need = float(checks.need[k])
            if reach >= need - 1e-6:
                others = np.flatnonzero(~settled)
                hit = others[checks.reached_by(z, others)]
                settled[hit] = True
                found.append((hit, z))
                continue
            cut = solver.cut_rows(sparse.csr_matrix(g.reshape(1, -1)), np.array([need]))
            if not solver.meet(cut.indices, cut.data, need - 1e-6, hidden):
                raise SuppressionError(f"no pattern protects {self.table.describe(int(checks.cell[k]))}: too "
                                       f"many cells must stay published")
            queue.append(k)
        found = [(ks, z) for ks, z in found if ks.size]
        if not found:
            return rows, proven, solves
        witnesses = sparse.csr_matrix(np.vstack([np.where(np.abs(z) > 1e-9, z, 0.0) for _, z in found]))
        ks = np.concatenate([ks for ks, _ in found])
        which = np.repeat(np.arange(len(found)), [ks.size for ks, _ in found])
        proven = proven.copy()
        proven[ks] = True
        return _replace_rows(rows, ks, witnesses[which]), proven, solves


def _replace_rows(rows: sparse.csr_matrix, ks: np.ndarray, new: sparse.csr_matrix) -> sparse.csr_matrix:
    """``rows`` with rows ``ks`` replaced by ``new``."""
    keep = np.ones(rows.shape[0])
    keep[ks] = 0.0
    place = sparse.csr_matrix((np.ones(ks.size), (ks, np.arange(ks.size))), shape=(rows.shape[0], ks.size))
    return (sparse.diags(keep) @ rows + place @ new).tocsr()


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress:
        progress(message)
