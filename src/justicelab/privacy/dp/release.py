"""A differentially private table of counts or sums: plan, check the budget, measure, spend, post-process.

Order of work, so that a refusal spends nothing and a release is never shown unrecorded: the dimensions and
their public domains are resolved and the noise calibrated (no data read); the budget is checked; the
warehouse computes the true table; OpenDP adds noise; the ledger row is appended in a transaction that checks
the budget again; only then are the noisy values reconciled, rounded and returned.
"""

from __future__ import annotations

import getpass
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from justicelab.privacy.dp.domains import Dimension, resolve_dimensions
from justicelab.privacy.dp.errors import DPError
from justicelab.privacy.dp.ledger import Budget, budget, record_release, refuse_if_over
from justicelab.privacy.dp.mechanisms import Mechanism, NoisePlan, count_sensitivity, plan_noise, sum_sensitivity
from justicelab.privacy.dp.postprocess import (
    Level,
    least_squares,
    levels_for,
    project,
    round_consistent,
    standard_errors,
)
from justicelab.privacy.dp.query import Contribution, RowSource, SumSpec, true_table
from justicelab.standard import EntityKind, FieldType, ResolvedEntity, Standard, load_standard
from justicelab.warehouse import Warehouse

ALPHA = 0.05  # the stated accuracy is a 95% interval


@dataclass(frozen=True)
class LevelAccuracy:
    """How close one level's published figures are expected to be."""

    level: str
    figures: int
    noise_scale: float
    accuracy: float  # OpenDP: 95% of this level's noisy measurements are within +/- accuracy of the truth
    std_error: float  # after least-squares reconciliation, before rounding

    def as_row(self) -> dict[str, Any]:
        return {"level": self.level, "figures": self.figures, "noise_scale": round(self.noise_scale, 4),
                "accuracy_95": round(self.accuracy, 2), "std_error": round(self.std_error, 2)}


@dataclass
class DPRelease:
    """A published DP table: whole non-negative cells (for counts) whose sums are the published margins."""

    dataset: str
    statistic: str  # "count" or "sum of COLUMN"
    dimensions: list[Dimension]
    cells: np.ndarray
    mechanism: Mechanism
    epsilon: float
    delta: float
    rho: float | None
    contribution: Contribution
    accuracy: list[LevelAccuracy]
    budget_after: Budget
    entry_id: int
    query: str
    #: The raw noisy measurements per level, before post-processing (as private as the release; kept for checks).
    measurements: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def total(self) -> int:
        return int(self.cells.sum())

    def margin(self, name: str) -> np.ndarray:
        """The published one-way margin of a dimension (sum of the published cells)."""
        axis = [d.name for d in self.dimensions].index(name)
        return project(self.cells, (axis,))

    def rows(self) -> pa.Table:
        """Cells, then each dimension's margin, then the total: a ``level`` column says which; a dimension is
        empty in a margin row where it is summed over, and empty in a cell row for its 'not recorded' group."""
        names = [d.name for d in self.dimensions]
        value_name = "count" if self.statistic == "count" else "sum"
        out: dict[str, list[Any]] = {"level": [], **{n: [] for n in names}, value_name: []}
        blocks: list[tuple[str, Level]] = [("cell", tuple(range(len(names))))] if names else []
        if len(names) >= 2:
            blocks += [(n, (i,)) for i, n in enumerate(names)]
        blocks.append(("total", ()))
        for label, level in blocks:
            values = project(self.cells, level)
            for index in itertools.product(*(range(self.dimensions[i].size) for i in level)):
                out["level"].append(label)
                for i, n in enumerate(names):
                    out[n].append(self.dimensions[i].values[index[level.index(i)]] if i in level else None)
                out[value_name].append(int(values[index]))
        return pa.table(out)

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "statistic": self.statistic,
            "dimensions": "; ".join(d.describe() for d in self.dimensions) or "(none: the total only)",
            "mechanism": "discrete " + ("Laplace" if self.mechanism == "laplace" else "Gaussian"),
            "epsilon_spent": self.epsilon, "delta_spent": self.delta,
            **({"rho_spent (zCDP)": self.rho} if self.rho is not None else {}),
            "epsilon_remaining": self.budget_after.remaining_epsilon,
            "delta_remaining": self.budget_after.remaining_delta,
            "budget": f"epsilon {self.budget_after.epsilon:g}, delta {self.budget_after.delta:g}",
            "contribution": self.contribution.describe(), "published_total": self.total,
            "ledger_entry": self.entry_id,
        }


def _entity(standard: Standard, wh: Warehouse, dataset: str) -> ResolvedEntity:
    entity = standard.entity(dataset)
    if entity.kind not in (EntityKind.person_event, EntityKind.incident):
        raise DPError(f"{dataset} is a {entity.kind} table: DP counts protect people, and rows of an {entity.kind} "
                      f"table are not people's records (their contribution cannot be bounded)")
    if not wh.has_table(dataset):
        raise DPError(f"the warehouse has no {dataset} table yet: load it first (justicelab ingest or openjustice)")
    return entity


def _sum_spec(entity: ResolvedEntity, column: str, clamp: tuple[int, int] | None) -> SumSpec:
    if column not in entity.field_names():
        raise DPError(f"--sum {column}: {entity.name} has no such field")
    if entity.field(column).type not in (FieldType.integer, FieldType.number):
        raise DPError(f"--sum {column}: a {entity.field(column).type} field cannot be summed")
    if clamp is None:
        raise DPError(f"--sum {column} needs clamping bounds, e.g. --clamp 0..120: each record's value is clamped "
                      f"to them, which is what bounds one person's effect on a sum")
    lower, upper = clamp
    if upper < lower:
        raise DPError(f"--clamp {lower}..{upper}: the upper bound is below the lower one")
    return SumSpec(column, lower, upper)


def _shares(levels: Sequence[Level], ndim: int, cell_share: float) -> list[float]:
    if ndim == 0:
        return [1.0]
    if not 0 < cell_share < 1:
        raise DPError(f"--cell-share {cell_share}: must be between 0 and 1 (the rest goes to the totals)")
    rest = (1.0 - cell_share) / (len(levels) - 1)
    return [cell_share if len(level) == ndim else rest for level in levels]


def describe_query(dataset: str, dims: Sequence[Dimension], statistic: str, bound: int, mechanism: str,
                   epsilon: float, delta: float, cell_share: float) -> str:
    """The release as one line for the ledger, with everything needed to repeat it."""
    parts = [f"{statistic} of {dataset}", f"by {','.join(d.name for d in dims) or '(total)'}"]
    parts += [d.origin for d in dims if d.explicit]
    parts += [f"{bound} record(s)/person", f"{mechanism} epsilon={epsilon:g}"]
    if delta:
        parts.append(f"delta={delta:g}")
    if dims:
        parts.append(f"cell share {cell_share:g}")
    return "; ".join(parts)


def dp_counts(
    wh: Warehouse,
    dataset: str,
    by: Sequence[str] = (),
    *,
    epsilon: float,
    mechanism: Mechanism = "laplace",
    delta: float | None = None,
    domains: Mapping[str, str] | None = None,
    max_records_per_person: int = 1,
    sum_column: str | None = None,
    clamp: tuple[int, int] | None = None,
    cell_share: float = 0.5,
    who: str | None = None,
    standard: Standard | None = None,
    records: RowSource | None = None,
) -> DPRelease:
    """Release noisy counts (or clamped sums) of ``dataset`` grouped by ``by`` over public domains, spending
    ``epsilon`` (and ``delta``) of the dataset's budget; refused without spending (or reading) if the budget is
    short. ``records`` gives the rows (e.g. :class:`~justicelab.privacy.dp.GatedRows`, through the gate);
    default: the warehouse table as stored (library use only: surfaces read through the gate)."""
    standard = standard or load_standard()
    entity = _entity(standard, wh, dataset)
    if max_records_per_person < 1:
        raise DPError(f"--max-records-per-person {max_records_per_person}: must be at least 1")
    dims = resolve_dimensions(standard, entity, by, domains)
    spec = _sum_spec(entity, sum_column, clamp) if sum_column else None
    if delta is None:
        delta = 1e-7 if mechanism == "gaussian" else 0.0
    levels = levels_for(len(dims))
    categories = [json.dumps(key) for key in itertools.product(*(d.values for d in dims))]
    sensitivity = (sum_sensitivity(spec.lower, spec.upper, max_records_per_person) if spec
                   else count_sensitivity(categories, max_records_per_person, mechanism))
    plan = plan_noise(mechanism=mechanism, epsilon=epsilon, delta=delta, shares=_shares(levels, len(dims), cell_share),
                      sensitivity=sensitivity)
    statistic = f"sum of {spec.column} clamped to {spec.lower}..{spec.upper}" if spec else "count"
    query = describe_query(dataset, dims, statistic, max_records_per_person, mechanism, epsilon, delta, cell_share)
    refuse_if_over(budget(wh, dataset), plan.epsilon, plan.delta, query)

    truth, contribution = true_table(wh, entity, dims, bound=max_records_per_person, value=spec,
                                     records=records)
    noisy = plan.release([project(truth, level) for level in levels])
    entry_id, after = record_release(wh, {
        "dataset": dataset, "spent_by": who or getpass.getuser(), "query": query, "statistic": statistic,
        "dimensions": ",".join(d.name for d in dims), "cells": int(truth.size), "mechanism": mechanism,
        "contribution_bound": max_records_per_person, "contribution": contribution.describe(),
        "sensitivity": plan.sensitivity, "scales": json.dumps([round(s, 6) for s in plan.scales]),
        "epsilon": plan.epsilon, "delta": plan.delta, "rho": plan.rho,
    })
    return _publish(dataset, statistic, dims, plan, noisy, levels, contribution, after, entry_id, query,
                    nonnegative=spec is None or spec.lower >= 0)


def _level_name(level: Level, dims: Sequence[Dimension]) -> str:
    if not level:
        return "total"
    return "cell" if len(level) == len(dims) else dims[level[0]].name


def _publish(dataset: str, statistic: str, dims: list[Dimension], plan: NoisePlan, noisy: list[np.ndarray],
             levels: list[Level], contribution: Contribution, after: Budget, entry_id: int, query: str,
             *, nonnegative: bool) -> DPRelease:
    """Post-processing only (no privacy cost): reconcile, round, and state the accuracy."""
    shape = tuple(d.size for d in dims)
    variances = plan.variances()
    estimate = least_squares(shape, levels, noisy, variances)
    cells = round_consistent(estimate, nonnegative=nonnegative)
    errors = standard_errors(shape, levels, variances)
    accuracy = [LevelAccuracy(_level_name(lv, dims), int(np.size(y)), scale, acc, err)
                for lv, y, scale, acc, err in zip(levels, noisy, plan.scales, plan.accuracy(ALPHA), errors,
                                                  strict=True)]
    return DPRelease(dataset, statistic, dims, cells, plan.mechanism, plan.epsilon, plan.delta, plan.rho,
                     contribution, accuracy, after, entry_id, query,
                     {_level_name(lv, dims): y for lv, y in zip(levels, noisy, strict=True)})
