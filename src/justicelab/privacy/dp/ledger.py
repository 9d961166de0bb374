"""The privacy-loss budget of each dataset and the ledger of what each DP release spent (append-only).

``privacy_budgets``        the budget set for a dataset: one row per setting, the latest wins (history kept)
``privacy_budget_ledger``  one row per DP release: when, who, the query, the mechanism, its scales, the epsilon
                           (and delta, and zCDP rho for the Gaussian) OpenDP's privacy map gave, and what was left

Releases of one dataset compose sequentially: the budget's epsilon and delta are spent additively (basic
composition), each release's share being its own measurement's privacy map. Nothing here updates or deletes a
row; a release that would overspend is refused before any noise is drawn, and nothing is recorded.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa

from justicelab.privacy.dp.errors import BudgetExceeded, DPError
from justicelab.warehouse import Warehouse

BUDGETS = "privacy_budgets"
LEDGER = "privacy_budget_ledger"

#: The budget of a dataset nobody has set one for.
DEFAULT_EPSILON = 3.0
DEFAULT_DELTA = 1e-6
#: Relative slack for floating-point sums of spent budget (e.g. ten releases of 0.1 against 1.0).
_SLACK = 1e-12

SCHEMAS: dict[str, ibis.Schema] = {
    BUDGETS: ibis.schema({
        "dataset": "string", "epsilon": "float64", "delta": "float64", "set_at": "timestamp", "set_by": "string",
        "note": "string",
    }),
    LEDGER: ibis.schema({
        "entry_id": "int64", "dataset": "string", "recorded_at": "timestamp", "spent_by": "string",
        "query": "string", "statistic": "string", "dimensions": "string", "cells": "int64", "mechanism": "string",
        "contribution_bound": "int64", "contribution": "string", "sensitivity": "int64", "scales": "string",
        "epsilon": "float64", "delta": "float64", "rho": "float64", "budget_epsilon": "float64",
        "budget_delta": "float64", "remaining_epsilon": "float64", "remaining_delta": "float64",
    }),
}


@dataclass(frozen=True)
class Budget:
    """A dataset's budget and what its releases have spent so far."""

    dataset: str
    epsilon: float
    delta: float
    spent_epsilon: float
    spent_delta: float
    releases: int
    set_by: str | None  # None: the default budget

    @property
    def remaining_epsilon(self) -> float:
        return max(self.epsilon - self.spent_epsilon, 0.0)

    @property
    def remaining_delta(self) -> float:
        return max(self.delta - self.spent_delta, 0.0)

    def allows(self, epsilon: float, delta: float) -> bool:
        """Whether a release costing (epsilon, delta) fits in what is left."""
        return (math.fsum([self.spent_epsilon, epsilon]) <= self.epsilon * (1 + _SLACK)
                and math.fsum([self.spent_delta, delta]) <= self.delta * (1 + _SLACK))

    def as_row(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "budget_epsilon": self.epsilon, "budget_delta": self.delta,
                "spent_epsilon": self.spent_epsilon, "spent_delta": self.spent_delta,
                "remaining_epsilon": self.remaining_epsilon, "remaining_delta": self.remaining_delta,
                "releases": self.releases, "set_by": self.set_by or "(default)"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_ledger_tables(wh: Warehouse) -> None:
    for name, schema in SCHEMAS.items():
        wh.ensure_table(name, schema)


def _append(wh: Warehouse, table: str, row: Mapping[str, Any]) -> None:
    schema = SCHEMAS[table].to_pyarrow()
    wh.insert_arrow(table, pa.Table.from_pylist([{c: row.get(c) for c in schema.names}], schema=schema))


def _lock(wh: Warehouse) -> None:
    """On PostgreSQL, serialise spenders of any dataset for the rest of the transaction (DuckDB has one writer)."""
    if wh.kind == "postgres":
        wh.execute(f'LOCK TABLE "{LEDGER}" IN SHARE ROW EXCLUSIVE MODE')


def budget(wh: Warehouse, dataset: str) -> Budget:
    """The dataset's budget (the latest setting, else the default) and its spending so far."""
    tables = set(wh.ibis.list_tables())
    latest: list[dict[str, Any]] = []
    if BUDGETS in tables:
        settings = wh.ibis.table(BUDGETS)
        latest = (settings.filter(settings.dataset == dataset).order_by(ibis.desc("set_at")).limit(1)
                  .to_pyarrow().to_pylist())
    spent = pa.table({"epsilon": pa.array([], pa.float64()), "delta": pa.array([], pa.float64())})
    if LEDGER in tables:
        ledger = wh.ibis.table(LEDGER)
        spent = ledger.filter(ledger.dataset == dataset).select("epsilon", "delta").to_pyarrow()
    return Budget(
        dataset=dataset,
        epsilon=latest[0]["epsilon"] if latest else DEFAULT_EPSILON,
        delta=latest[0]["delta"] if latest else DEFAULT_DELTA,
        spent_epsilon=math.fsum(spent["epsilon"].to_pylist()),
        spent_delta=math.fsum(d or 0.0 for d in spent["delta"].to_pylist()),
        releases=spent.num_rows,
        set_by=latest[0]["set_by"] if latest else None,
    )


def set_budget(wh: Warehouse, dataset: str, *, epsilon: float, delta: float, who: str,
               note: str | None = None) -> Budget:
    """Set a dataset's total budget (a new row; earlier settings stay). Never below what is already spent."""
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise DPError(f"budget epsilon {epsilon}: must be a positive number")
    if not 0 <= delta < 1:
        raise DPError(f"budget delta {delta}: must be at least 0 and below 1")
    ensure_ledger_tables(wh)
    with wh.transaction():
        _lock(wh)
        current = budget(wh, dataset)
        if epsilon < current.spent_epsilon or delta < current.spent_delta:
            raise DPError(f"{dataset} has already spent epsilon {current.spent_epsilon:g}, delta "
                          f"{current.spent_delta:g}: a budget cannot be set below what is spent")
        _append(wh, BUDGETS, {"dataset": dataset, "epsilon": epsilon, "delta": delta, "set_at": utcnow(),
                              "set_by": who, "note": note})
    return budget(wh, dataset)


def refuse_if_over(current: Budget, epsilon: float, delta: float, what: str) -> None:
    """Raise :class:`BudgetExceeded` with the figures if a release costing (epsilon, delta) does not fit."""
    if current.allows(epsilon, delta):
        return
    need = f"epsilon {epsilon:.6g}" + (f", delta {delta:.3g}" if delta else "")
    left = f"epsilon {current.remaining_epsilon:.6g}" + (f", delta {current.remaining_delta:.3g}" if delta else "")
    raise BudgetExceeded(
        f"refused: {what} would spend {need} but {current.dataset} has only {left} left of its budget "
        f"(epsilon {current.epsilon:g}, delta {current.delta:g}; {current.releases} release(s) so far). "
        f"Nothing was spent. Ask for a smaller epsilon, reuse an earlier release, or raise the budget with "
        f"`justicelab privacy budget set {current.dataset} --epsilon E`."
    )


def record_release(wh: Warehouse, entry: Mapping[str, Any]) -> tuple[int, Budget]:
    """Spend: re-check the budget and append the ledger row in one transaction. Returns (entry id, budget after)."""
    dataset = str(entry["dataset"])
    ensure_ledger_tables(wh)
    with wh.transaction():
        _lock(wh)
        current = budget(wh, dataset)
        refuse_if_over(current, float(entry["epsilon"]), float(entry["delta"]), str(entry["query"]))
        entry_id = int(wh.scalar(f'SELECT coalesce(max(entry_id), 0) FROM "{LEDGER}"') or 0) + 1
        after_epsilon = math.fsum([current.spent_epsilon, float(entry["epsilon"])])
        after_delta = math.fsum([current.spent_delta, float(entry["delta"])])
        _append(wh, LEDGER, {
            **entry, "entry_id": entry_id, "recorded_at": utcnow(), "budget_epsilon": current.epsilon,
            "budget_delta": current.delta, "remaining_epsilon": max(current.epsilon - after_epsilon, 0.0),
            "remaining_delta": max(current.delta - after_delta, 0.0),
        })
    return entry_id, budget(wh, dataset)


def ledger_entries(wh: Warehouse, dataset: str | None = None) -> list[dict[str, Any]]:
    """The ledger rows (of one dataset, or all), oldest first."""
    ensure_ledger_tables(wh)
    t = wh.ibis.table(LEDGER)
    if dataset is not None:
        t = t.filter(t.dataset == dataset)
    return list(t.order_by("entry_id").to_pyarrow().to_pylist())
