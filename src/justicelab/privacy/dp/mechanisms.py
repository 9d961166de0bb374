"""Noise and privacy accounting with OpenDP: one noise measurement per published level, composed.

What OpenDP decides here, never a formula of ours:
* the sensitivity (``d_in``) of each level's vector, from the stability map of the OpenDP transformation the
  SQL GROUP BY stands for — ``make_count_by_categories`` for counts, ``make_sum`` over clamped values for sums —
  at the contribution bound (records one person can add or remove);
* the noise scale, by OpenDP's ``binary_search`` over the composed measurement's privacy check, so that its
  privacy map at that ``d_in`` meets the requested epsilon (and delta);
* the privacy loss recorded in the ledger, ``measurement.map(d_in)``;
* the noise itself (discrete Laplace or discrete Gaussian on integers, OpenDP's samplers) and the stated
  accuracy (``opendp.accuracy``).

The composed measurement (``make_composition`` of the levels' measurements, all on integer vectors with the same
``d_in``) is what is accounted; each level's measurement is then invoked on its own true vector, which the
warehouse computed exactly as the modelled transformation would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import opendp.prelude as dp
from scipy import stats

from justicelab.privacy.dp.errors import DPError

# OpenDP ships its measurements under "contrib" until their proofs are vetted: the discrete Laplace and Gaussian
# samplers, count-by-categories, bounded sums, composition and the zCDP -> (epsilon, delta) conversion all need
# it. Nothing else is enabled: no "honest-but-curious" (no user-defined functions in a measurement) and no
# "floating-point" (every noisy value is an integer, so no floating-point side channel).
dp.enable_features("contrib")

Mechanism = Literal["laplace", "gaussian"]
MECHANISMS: tuple[str, ...] = ("laplace", "gaussian")
INT = "i64"


def _metric(mechanism: Mechanism) -> Any:
    return dp.l1_distance(T=INT) if mechanism == "laplace" else dp.l2_distance(T=INT)


def count_sensitivity(categories: Sequence[str], bound: int, mechanism: Mechanism) -> int:
    """L1 (Laplace) or L2 (Gaussian) sensitivity of a count-by-group vector when one person adds ``bound``
    records: the stability map of OpenDP's count-by-categories over the public categories."""
    norm = "L1Distance" if mechanism == "laplace" else "L2Distance"
    counting = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(), categories=list(categories),
        null_category=False, MO=f"{norm}<{INT}>", TOA=INT)
    return int(counting.map(bound))


def sum_sensitivity(lower: int, upper: int, bound: int) -> int:
    """Sensitivity of a sum-by-group vector when one person adds ``bound`` records clamped to [lower, upper]:
    OpenDP's bounded-sum stability map. Each record moves one group's sum by at most max(|lower|, |upper|), so
    the vector's L1 and L2 distances are within the single sum's."""
    summing = dp.t.make_sum(dp.vector_domain(dp.atom_domain(bounds=(lower, upper), T=INT)), dp.symmetric_distance())
    return int(summing.map(bound))


@dataclass(frozen=True)
class NoisePlan:
    """The calibrated measurements of one release, and the privacy loss OpenDP's map gives for them."""

    mechanism: Mechanism
    sensitivity: int
    scales: tuple[float, ...]
    epsilon: float
    delta: float
    rho: float | None
    measurement: Any
    levels: tuple[Any, ...]

    def release(self, vectors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each level's true vector with its own noise added (OpenDP's sampler; never seeded)."""
        if len(vectors) != len(self.levels):
            raise DPError(f"{len(vectors)} vectors for {len(self.levels)} noise measurements")
        return [np.asarray(m([int(v) for v in np.ravel(vec)]), dtype=np.int64).reshape(np.shape(vec))
                for m, vec in zip(self.levels, vectors, strict=True)]

    def accuracy(self, alpha: float = 0.05) -> list[float]:
        """Per level: the half-width a with P(|noise| >= a) <= alpha (OpenDP's accuracy utilities)."""
        to_accuracy = (dp.discrete_laplacian_scale_to_accuracy if self.mechanism == "laplace"
                       else dp.discrete_gaussian_scale_to_accuracy)
        return [float(to_accuracy(float(s), alpha)) for s in self.scales]

    def variances(self) -> list[float]:
        """Per level: the noise variance, to weight the least-squares reconciliation (discrete Laplace exactly,
        by scipy's dlaplace; the discrete Gaussian's is within rounding of scale squared)."""
        if self.mechanism == "laplace":
            return [float(stats.dlaplace(1.0 / s).var()) for s in self.scales]
        return [float(s) ** 2 for s in self.scales]


def _levels(mechanism: Mechanism, base: float, shares: Sequence[float]) -> list[Any]:
    space = dp.vector_domain(dp.atom_domain(T=INT)), _metric(mechanism)
    make = dp.m.make_laplace if mechanism == "laplace" else dp.m.make_gaussian
    return [make(*space, scale=base / share) for share in shares]


def _composed(mechanism: Mechanism, base: float, shares: Sequence[float], delta: float) -> tuple[Any, Any, list[Any]]:
    """(measurement accounted in the budget's terms, the raw composition, the level measurements)."""
    levels = _levels(mechanism, base, shares)
    composition = dp.c.make_composition(levels)
    if mechanism == "laplace":
        return composition, composition, levels
    return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composition), delta), composition, levels


def plan_noise(*, mechanism: Mechanism, epsilon: float, delta: float, shares: Sequence[float],
               sensitivity: int) -> NoisePlan:
    """Calibrate one noise scale per level (inverse to its share) so the composition costs at most
    ``epsilon`` (and ``delta`` for the Gaussian), and record what OpenDP's privacy map says it costs."""
    if mechanism not in MECHANISMS:
        raise DPError(f"mechanism {mechanism!r}: expected laplace or gaussian")
    if not epsilon > 0:
        raise DPError(f"epsilon {epsilon}: must be positive")
    if mechanism == "gaussian" and not 0 < delta < 1:
        raise DPError(f"delta {delta}: the Gaussian mechanism needs 0 < delta < 1")
    if mechanism == "laplace" and delta != 0:
        raise DPError("the Laplace mechanism spends no delta: leave --delta out or use --mechanism gaussian")
    if not shares or any(not s > 0 for s in shares):
        raise DPError(f"budget shares {list(shares)}: each must be positive")
    d_out: Any = epsilon if mechanism == "laplace" else (epsilon, delta)

    def private_enough(base: float) -> bool:
        # OpenDP's check of the composed measurement's privacy map; a scale so small that converting its zCDP
        # loss overflows is simply not private enough.
        try:
            return bool(_composed(mechanism, base, shares, delta)[0].check(sensitivity, d_out))
        except dp.OpenDPException:
            return False

    # The base scale lies well within these bounds (the Laplace one is sensitivity / epsilon; the Gaussian one a
    # few times that); giving them saves OpenDP's search from probing scales a thousand times too far.
    bounds = (1e-3 * sensitivity / epsilon, 1e4 * sensitivity / epsilon)
    try:
        base = dp.binary_search(private_enough, bounds=bounds, T=float)
    except (ValueError, dp.OpenDPException) as exc:
        raise DPError(f"no noise scale meets epsilon {epsilon}{f', delta {delta}' if delta else ''}: {exc}") from None
    accounted, composition, levels = _composed(mechanism, base, shares, delta)
    loss = accounted.map(sensitivity)
    spent_epsilon, spent_delta = (float(loss), 0.0) if mechanism == "laplace" else (float(loss[0]), float(loss[1]))
    rho = float(composition.map(sensitivity)) if mechanism == "gaussian" else None
    if spent_epsilon > epsilon or spent_delta > delta:
        raise DPError(f"the calibrated noise would spend epsilon {spent_epsilon}, delta {spent_delta}: more than asked")
    return NoisePlan(mechanism, sensitivity, tuple(base / s for s in shares), spent_epsilon, spent_delta, rho,
                     accounted, tuple(levels))
