"""Repeated releases: the error of the noise and of the published figures matches the accuracy that is stated.

Each check is a binomial or variance test whose false-failure probability is below 1e-7 (tolerances from the
exact distributions, many draws), so the suite does not flake; the oracle for the discrete Laplace is scipy's
``dlaplace``, not OpenDP.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from justicelab.privacy.dp import dp_counts, least_squares, levels_for, plan_noise, round_consistent, set_budget
from justicelab.privacy.dp.postprocess import project, standard_errors
from justicelab.warehouse import Warehouse
from tests.privacy.test_dp_release import COUNTIES, add_deaths

TAIL = 1e-8  # per side, per check
REPEATS = 1500


def band(n: int, p: float) -> tuple[float, float]:
    """The range a Binomial(n, p) count stays in except with probability 2 * TAIL."""
    return float(stats.binom.ppf(TAIL, n, p)), float(stats.binom.isf(TAIL, n, p))


def laplace_miss(scale: float, accuracy: float) -> float:
    """P(|X| >= accuracy) for the discrete Laplace of this scale, from scipy (X is a whole number)."""
    return float(2 * stats.dlaplace.sf(np.ceil(accuracy) - 1, 1.0 / scale))


def _repeat(plan, truth: np.ndarray, repeats: int = REPEATS):
    """Raw noisy levels, least-squares estimates and published cells of ``repeats`` independent releases."""
    levels = levels_for(truth.ndim)
    raw, estimates, published = [], [], []
    for _ in range(repeats):
        noisy = plan.release([project(truth, lv) for lv in levels])
        estimate = least_squares(truth.shape, levels, noisy, plan.variances())
        raw.append(noisy)
        estimates.append(estimate)
        published.append(round_consistent(estimate))
    return levels, raw, np.array(estimates), np.array(published)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    rng = np.random.default_rng(7)  # the table, not the noise: DP noise is never seeded
    counts = rng.integers(20, 90, size=60)
    counts[::3] = 0  # a third of the groups are empty
    return counts


def test_laplace_noise_and_published_counts_match_the_stated_accuracy(truth):
    plan = plan_noise(mechanism="laplace", epsilon=1.0, delta=0.0, shares=[0.5, 0.5], sensitivity=1)
    levels, raw, estimates, published = _repeat(plan, truth)
    acc_total, acc_cell = plan.accuracy(0.05)
    for k, (scale, acc) in enumerate(zip(plan.scales, (acc_total, acc_cell), strict=True)):
        errors = np.concatenate([np.ravel(r[k] - project(truth, levels[k])) for r in raw])
        p = laplace_miss(scale, acc)
        assert p <= 0.05  # OpenDP's statement holds for the exact distribution
        lo, hi = band(errors.size, p)
        assert lo <= (np.abs(errors) >= acc).sum() <= hi
        if errors.size > 10_000:  # sample variance within 6% of the exact one (sd of the ratio ~0.8% here)
            assert errors.var() == pytest.approx(stats.dlaplace(1.0 / scale).var(), rel=0.06)
    cells_error = published - truth
    assert (cells_error.sum(axis=1) == published.sum(axis=1) - truth.sum()).all()
    misses = (np.abs(cells_error) >= acc_cell).sum()
    assert misses <= band(cells_error.size, 0.05)[1]  # published cells are at least as accurate as stated
    se_total, se_cell = standard_errors(truth.shape, levels, plan.variances())
    assert (estimates - truth).std() == pytest.approx(se_cell, rel=0.05)  # the stated std_error
    assert abs((estimates - truth).mean()) < 6 * se_cell / np.sqrt(estimates.size)  # least squares: unbiased
    total_error = published.sum(axis=1) - truth.sum()  # the published total stays unbiased after rounding
    assert abs(total_error.mean()) < 6 * se_total / np.sqrt(REPEATS) + 0.05
    # Non-negativity lifts the empty groups (never below 0) and takes that mass from the others, a little each.
    assert 0 < cells_error[:, truth == 0].mean() < acc_cell / 2
    assert -acc_cell / 4 < cells_error[:, truth > 0].mean() < 0


def test_gaussian_noise_matches_its_stated_accuracy_and_scale(truth):
    plan = plan_noise(mechanism="gaussian", epsilon=1.0, delta=1e-6, shares=[0.5, 0.5], sensitivity=1)
    _, raw, _, published = _repeat(plan, truth, repeats=1000)
    scale, acc = plan.scales[1], plan.accuracy(0.05)[1]
    errors = np.concatenate([r[1] - truth for r in raw])
    misses = (np.abs(errors) >= acc).sum()
    assert misses <= band(errors.size, 0.05)[1]
    assert misses >= band(errors.size, 0.02)[0]  # not wildly over-noised either: the tail is near 3.5%
    assert errors.var() == pytest.approx(scale**2, rel=0.05)
    assert (published >= 0).all() and (np.abs(published - truth) >= acc).sum() <= band(published.size, 0.05)[1]


def test_repeated_releases_through_the_warehouse_err_as_stated():
    wh = Warehouse.open(":memory:")
    try:
        groups = {(c, 2016): 10 + 7 * (i % 5) for i, c in enumerate(COUNTIES) if i % 4}
        add_deaths(wh, groups)
        set_budget(wh, "custody_death", epsilon=1000.0, delta=0.0, who="test")
        truth = np.array([groups.get((c, 2016), 0) for c in [*COUNTIES, None]])
        errors, misses, acc, scale = [], 0, 0.0, 0.0
        for _ in range(25):
            release = dp_counts(wh, "custody_death", ["county"], epsilon=1.0)
            cell = release.accuracy[-1]
            acc, scale = cell.accuracy, cell.noise_scale
            raw = release.measurements["cell"] - truth
            errors.append(raw)
            misses += int((np.abs(raw) >= acc).sum())
            assert release.cells.sum() == release.total and (release.cells >= 0).all()
        lo, hi = band(25 * truth.size, laplace_miss(scale, acc))
        assert lo <= misses <= hi
        assert len({e.tobytes() for e in errors}) == 25  # fresh noise every time
    finally:
        wh.close()
