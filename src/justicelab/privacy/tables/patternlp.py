"""The attacker's linear programme for one table, kept warm across checks and patterns (HiGHS through highspy).

For a suppression pattern x and a check (cell p, direction s), the attacker's largest move of p is

    max s z_p  subject to  M z = 0,  -v_j x_j <= z_j <= UB_j x_j

(complementary.py derives it). One model holds it for the whole solve: its columns are the hidden cells, added and
deleted as the pattern changes, and a check is only an objective coefficient. HiGHS's simplex then starts each solve
from the previous optimal basis: about 10 ms on the 58 x 38 x 10 table, where a fresh solve of the same programme
(scipy's ``linprog``) takes 0.2-0.6 s. Each solve gives the check's verdict exactly: either its optimum is a witness
(a table the attacker cannot rule out, with p moved far enough), or its row duals are the multipliers of a capacity
cut the pattern violates.
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy import sparse

from justicelab.privacy.tables.table import SuppressionError


class PatternLP:
    """The attacker's LP over the hidden cells of a table (see the module docstring). A published cell is
    fixed at its true value, so it has no column: HiGHS prices only the cells that can move."""

    def __init__(self, relations: sparse.csr_matrix, values: np.ndarray, upper: np.ndarray) -> None:
        self.M = relations.tocsr().astype(np.float64)
        self.columns = self.M.tocsc()
        self.values = values.astype(np.float64)
        self.upper = upper.astype(np.float64)
        self.n = values.size
        self.hidden = np.zeros(self.n, dtype=bool)
        self.cells = np.zeros(0, dtype=np.int64)  # the LP's columns, in order
        self.where = -np.ones(self.n, dtype=np.int64)  # a cell's column, -1 when published
        self.highs = highspy.Highs()
        for option, value in (("output_flag", False), ("presolve", "off")):
            self.highs.setOptionValue(option, value)
        self.solved = False
        rows = self.M.shape[0]
        self.highs.addRows(rows, np.zeros(rows), np.zeros(rows), 0, np.zeros(0, np.int32), np.zeros(0, np.int32),
                           np.zeros(0))
        self.costed = np.zeros(0, dtype=np.int32)  # the columns whose cost is set

    def set_pattern(self, hidden: np.ndarray) -> None:
        """Hidden cells may move (down to zero, up to their cap); published ones are fixed."""
        gone = self.hidden[self.cells] & ~hidden[self.cells]
        if gone.any():
            self._uncost()
            self.highs.deleteCols(int(gone.sum()), np.flatnonzero(gone).astype(np.int32))
            self.cells = self.cells[~gone]
        new = np.flatnonzero(hidden & ~self.hidden)
        if new.size:
            block = self.columns[:, new]
            self.highs.addCols(new.size, np.zeros(new.size), -self.values[new], self.upper[new], block.nnz,
                               block.indptr[:-1].astype(np.int32), block.indices.astype(np.int32), block.data)
            self.cells = np.concatenate([self.cells, new])
        self.hidden = hidden.copy()
        self.where[:] = -1
        self.where[self.cells] = np.arange(self.cells.size)

    def push(self, cell: int, direction: float) -> tuple[float, np.ndarray, np.ndarray]:
        """The attacker's furthest move of hidden ``cell`` in ``direction`` under the current pattern: the move,
        the deviation z reaching it (over every cell), and g = s e_p + M^T lambda (the capacity cut's
        multipliers, see complementary.py)."""
        z, lam = self._solve(np.array([cell]), np.array([-float(direction)]))
        g = self.M.T @ lam
        g[cell] += direction
        return float(direction * z[cell]), z, g

    def push_many(self, cells: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """A deviation maximising sum weights_i z_{cells_i}: one vertex that often moves many cells as far as
        they can go at once (a witness for each it moves far enough)."""
        order = np.argsort(cells, kind="stable")
        unique, first = np.unique(cells[order], return_index=True)
        summed = np.add.reduceat(weights[order], first)
        return self._solve(unique, -summed)[0]

    def _solve(self, cells: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._uncost()
        columns = self.where[cells].astype(np.int32)
        self.highs.changeColsCost(columns.size, columns, costs.astype(np.float64))
        self.costed = columns
        # The first solve starts cold, where dual simplex is about twice as fast; after it, primal simplex keeps
        # the basis primal feasible through cost changes and added columns.
        self.highs.setOptionValue("simplex_strategy", 4 if self.solved else 1)
        self.highs.run()
        self.solved = True
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            status = self.highs.modelStatusToString(self.highs.getModelStatus())
            raise SuppressionError(f"the attacker's linear programme ended {status}")
        solution = self.highs.getSolution()
        z = np.zeros(self.n)
        z[self.cells] = np.asarray(solution.col_value)
        return z, np.asarray(solution.row_dual)

    def _uncost(self) -> None:
        if self.costed.size:
            self.highs.changeColsCost(self.costed.size, self.costed, np.zeros(self.costed.size))
            self.costed = np.zeros(0, dtype=np.int32)
