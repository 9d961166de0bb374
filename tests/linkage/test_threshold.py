"""The label-free threshold: the one that maximises the F1 the model's own probabilities expect."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from justicelab.linkage.threshold import expected_f1_threshold


def brute_force(p: list[float]) -> float:
    """Expected F1 at every distinct threshold, computed directly."""
    total = sum(p)
    best = 0.0
    for t in set(p):
        accepted = [x for x in p if x >= t]
        best = max(best, 2 * sum(accepted) / (len(accepted) + total))
    return best


@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=60))
def test_matches_brute_force(p):
    t, f1 = expected_f1_threshold(p)
    if sum(p) == 0:
        assert (t, f1) == (1.0, 0.0)
        return
    assert np.isclose(f1, brute_force(p))
    accepted = [x for x in p if x >= t]
    assert np.isclose(f1, 2 * sum(accepted) / (len(accepted) + sum(p)))


def test_a_clear_split_accepts_the_sure_pairs_and_no_unlikely_one():
    p = [0.99] * 90 + [0.6] * 5 + [0.01] * 1000
    t, f1 = expected_f1_threshold(p)
    assert 0.5 < t <= 0.6  # the 0.6 pairs are more likely matches than not: worth accepting
    assert f1 > 0.9


def test_no_pairs():
    assert expected_f1_threshold([]) == (1.0, 0.0)
