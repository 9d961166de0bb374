"""Post-processing of noisy measurements into a consistent table of non-negative integers (costs no privacy).

1. Reconcile. The noisy total, the noisy one-way margins and the noisy cells are combined by weighted least
   squares (each level weighted by the inverse of its noise variance): the estimate of the cells whose sums best
   explain every measurement, solved by conjugate gradients without forming the design matrix. Its margins
   and total are its own sums, so they are consistent, but not yet whole or non-negative.
2. Round, top down. The published total is the estimate's total rounded (to at least 0 for counts). Then, one
   dimension at a time in ``--by`` order, each group's children are fitted to their parent's published value:
   the estimates are projected onto {z >= 0, sum z = parent} (the closest point in the Euclidean sense) and
   rounded by largest remainders, so the children are whole, non-negative and add up exactly to the parent.
   The last step gives the cells; every published margin is the sum of published cells.

Only noisy values and the public domains are read, so the result is as private as the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg

from justicelab.privacy.dp.errors import DPError

Level = tuple[int, ...]  # the axes a level keeps: () is the total, (0, 1, ...) every axis is the cells


def levels_for(ndim: int) -> list[Level]:
    """Measured levels: the total, each one-way margin (from two dimensions up) and the cells."""
    if ndim == 0:
        return [()]
    margins = [(i,) for i in range(ndim)] if ndim >= 2 else []
    return [(), *margins, tuple(range(ndim))]


def project(x: np.ndarray, level: Level) -> np.ndarray:
    """The level's vector from a full table: sums over the axes it does not keep."""
    return x.sum(axis=tuple(i for i in range(x.ndim) if i not in level))


def _expand(y: np.ndarray, level: Level, shape: tuple[int, ...]) -> np.ndarray:
    view = np.reshape(y, [shape[i] if i in level else 1 for i in range(len(shape))])
    return np.broadcast_to(view, shape)


def _normal(shape: tuple[int, ...], levels: Sequence[Level], weights: Sequence[float]) -> LinearOperator:
    size = int(np.prod(shape))

    def matvec(v: np.ndarray) -> np.ndarray:
        x = np.reshape(v, shape)
        out = np.zeros(shape)
        for level, w in zip(levels, weights, strict=True):
            out += w * _expand(project(x, level), level, shape)
        return out.ravel()

    return LinearOperator((size, size), matvec=matvec, dtype=np.float64)


def _solve(op: LinearOperator, rhs: np.ndarray) -> np.ndarray:
    solution, info = cg(op, rhs, rtol=1e-12, atol=0.0, maxiter=10_000)
    if info != 0:
        raise DPError(f"least-squares reconciliation did not converge (conjugate gradients, info={info})")
    return np.asarray(solution)


def least_squares(shape: tuple[int, ...], levels: Sequence[Level], noisy: Sequence[np.ndarray],
                  variances: Sequence[float]) -> np.ndarray:
    """Weighted least-squares estimate of the cells from every level's noisy vector."""
    if not shape:
        return np.asarray(noisy[0], dtype=np.float64).reshape(())
    top = max(1.0 / v for v in variances)
    weights = [1.0 / v / top for v in variances]
    rhs = sum((w * _expand(np.asarray(y, dtype=np.float64), lv, shape) for lv, y, w in
               zip(levels, noisy, weights, strict=True)), start=np.zeros(shape))
    return _solve(_normal(shape, levels, weights), rhs.ravel()).reshape(shape)


def standard_errors(shape: tuple[int, ...], levels: Sequence[Level], variances: Sequence[float]) -> list[float]:
    """Per level, the standard error of one of its least-squares estimates (before rounding): every cell of a
    level has the same by symmetry, so the first stands for all."""
    if not shape:
        return [float(np.sqrt(variances[0]))]
    op = _normal(shape, levels, [1.0 / v for v in variances])
    errors = []
    for level in levels:
        a = np.zeros(shape)
        a[tuple(0 if i in level else slice(None) for i in range(len(shape)))] = 1.0
        errors.append(float(np.sqrt(a.ravel() @ _solve(op, a.ravel()))))
    return errors


def _fit_rows(estimates: np.ndarray, targets: np.ndarray, nonnegative: bool) -> np.ndarray:
    """Each row of ``estimates`` made whole numbers summing to its target (non-negative if asked)."""
    rows, n = estimates.shape
    t = targets.astype(np.float64)
    if nonnegative:
        ordered = -np.sort(-estimates, axis=1)
        excess = np.cumsum(ordered, axis=1) - t[:, None]
        k = np.arange(1, n + 1)
        active = ordered - excess / k > 0
        last = np.where(active.any(axis=1), n - 1 - np.argmax(active[:, ::-1], axis=1), 0)
        tau = excess[np.arange(rows), last] / (last + 1)
        z = np.maximum(estimates - tau[:, None], 0.0)
        z[targets == 0] = 0.0
    else:
        z = estimates + ((t - estimates.sum(axis=1)) / n)[:, None]
    whole = np.floor(z).astype(np.int64)
    short = targets - whole.sum(axis=1)
    if (short < 0).any() or (short > n).any():
        raise DPError("integer rounding could not keep the totals (numerical trouble in the estimates)")
    order = np.argsort(-(z - whole), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n), order.shape), axis=1)
    return whole + (rank < short[:, None])


def round_consistent(estimate: np.ndarray, nonnegative: bool = True) -> np.ndarray:
    """Whole-number cells whose sums are the published margins and total (see the module docstring)."""
    total = int(np.floor(float(estimate.sum()) + 0.5))
    published = np.array([max(total, 0) if nonnegative else total], dtype=np.int64)
    shape = estimate.shape
    for j in range(len(shape)):
        children = estimate.sum(axis=tuple(range(j + 1, len(shape)))) if j + 1 < len(shape) else estimate
        fitted = _fit_rows(np.reshape(children, (-1, shape[j])), published.ravel(), nonnegative)
        published = fitted.reshape(shape[: j + 1])
    return published.reshape(shape)
