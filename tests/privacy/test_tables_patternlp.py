"""The warm attacker LP (patternlp.py) against scipy's cold one, through pattern changes in both directions."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from justicelab.privacy.tables import CountTable
from justicelab.privacy.tables.complementary import ComplementarySolver
from justicelab.privacy.tables.patternlp import PatternLP
from justicelab.privacy.tables.rules import threshold_rule
from tests.privacy.test_tables import cube


def cold(table: CountTable, upper: np.ndarray, hidden: np.ndarray, cell: int, direction: float) -> float:
    """The attacker's furthest move by scipy's linprog, built from scratch."""
    m = table.relation_matrix().tocsr()
    cols = np.flatnonzero(hidden)
    c = np.zeros(cols.size)
    c[np.flatnonzero(cols == cell)[0]] = -direction
    res = linprog(c, A_eq=m[:, cols], b_eq=np.zeros(m.shape[0]),
                  bounds=np.column_stack([-table.values[cols], upper[cols]]), method="highs")
    assert res.status == 0
    return float(-res.fun)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_warm_verdicts_match_cold_ones_as_the_pattern_grows_and_shrinks(data):
    shape = tuple(data.draw(st.integers(2, 4)) for _ in range(3))
    values = np.array(data.draw(st.lists(st.integers(0, 30), min_size=int(np.prod(shape)),
                                         max_size=int(np.prod(shape))))).reshape(shape)
    table = cube(values)
    primary = threshold_rule(table, 11)
    solver = ComplementarySolver(table.relation_matrix(), table.values, primary, np.ones(table.size))
    lp = PatternLP(solver.M, table.values, solver.UB)
    for _ in range(3):  # each draw a new pattern: cells are added and removed between solves
        hidden = np.array(data.draw(st.lists(st.booleans(), min_size=table.size, max_size=table.size)))
        if not hidden.any():
            continue
        lp.set_pattern(hidden)
        for cell in data.draw(st.lists(st.sampled_from(np.flatnonzero(hidden).tolist()), min_size=1, max_size=3)):
            direction = data.draw(st.sampled_from([1.0, -1.0]))
            reach, z, g = lp.push(cell, direction)
            assert abs(reach - cold(table, solver.UB, hidden, cell, direction)) < 1e-6
            # The optimum is a table the attacker cannot rule out: relations hold, published cells unmoved,
            # no cell below zero.
            assert np.allclose(solver.M @ z, 0.0, atol=1e-6)
            assert np.all(z[~hidden] == 0.0)
            assert np.all(table.values + z >= -1e-6)
            # Duality: the capacity cut's left side at this pattern equals the attacker's optimum, so when the
            # cell cannot move far enough the cut is violated (that is what the solver's grow step relies on).
            coef = np.where(g > 0, g * solver.UB, -g * solver.LB)
            assert abs(float(coef[hidden].sum()) - reach) < 1e-5 * max(1.0, reach)


def test_push_many_proves_several_cells_with_one_solve():
    table = cube(np.array([[[3, 20], [25, 4]], [[30, 5], [6, 40]]]))
    primary = threshold_rule(table, 11)
    solver = ComplementarySolver(table.relation_matrix(), table.values, primary, np.ones(table.size))
    lp = PatternLP(solver.M, table.values, solver.UB)
    hidden = np.zeros(table.size, dtype=bool)
    hidden[:] = True
    lp.set_pattern(hidden)
    small = np.flatnonzero(primary.sensitive)
    z = lp.push_many(small, np.ones(small.size))
    assert np.allclose(solver.M @ z, 0.0, atol=1e-6)
    assert (z[small] > 0).sum() >= 2  # one vertex moves several of the small cells up at once
