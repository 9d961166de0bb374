"""Choosing a match threshold without labels: the one that maximises the F1 the model itself expects.

If the model's match probabilities are calibrated, the pairs scored hold ``sum(p)`` true matches, and
accepting every pair with probability at least ``t`` is expected to accept ``sum(p >= t)`` pairs of which
``sum(p | p >= t)`` are true. The expected F1 at ``t`` is then ``2 * sum(p | p >= t) / (n(p >= t) + sum(p))``,
and the best ``t`` is found by one pass over the probabilities sorted from the highest down. No answer key
is read: it is the rule a department can apply to a one-off linkage (FEBRL4's two files, a research extract)
where nobody will review the uncertain pairs. ``link run`` keeps its fixed threshold and review band instead,
because there a reviewer settles the pairs in between.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def expected_f1_threshold(probabilities: Iterable[float]) -> tuple[float, float]:
    """The threshold that maximises the expected F1 of accepting pairs at or above it, and that F1.

    Ties go to the highest threshold (the fewest links for the same expected F1). An empty input gives
    (1.0, 0.0)."""
    p = np.sort(np.asarray(list(probabilities), dtype=np.float64))[::-1]
    if p.size == 0 or p.sum() <= 0:
        return 1.0, 0.0
    expected_true = p.sum()
    true_accepted = np.cumsum(p)
    accepted = np.arange(1, p.size + 1)
    f1 = 2.0 * true_accepted / (accepted + expected_true)
    # a threshold accepts every pair at its value: only the last of equal probabilities is a real cut
    last_of_value = np.r_[p[1:] != p[:-1], True]
    f1 = np.where(last_of_value, f1, -np.inf)
    best = int(np.argmax(f1))
    return float(p[best]), float(f1[best])
