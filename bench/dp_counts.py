"""DP counts: accuracy of our reconciliation vs plain noisy cells, and the cost of a release vs its exact GROUP BY.

1. Accuracy. A county (58 + not recorded) x year (14) table shaped like deaths in custody (a few large
   counties, many small), released ``--repeats`` times at epsilon 1 (discrete Laplace, one record per person):
   * ours: noisy total, county and year margins and cells (``--cell-share`` of the budget to the cells),
     reconciled by least squares and rounded top-down to non-negative whole numbers;
   * baseline: OpenDP's Laplace on the cells alone with the whole budget, negatives set to 0, rounded, and the
     margins summed from the cells (the usual "clip and add up").
   Mean absolute error of cells, county totals, year totals and the state total, side by side.
2. Cost. ``--rows`` synthetic deaths in a DuckDB warehouse: ``dp_counts`` by county x year x sex (calibration,
   the grouped query with contribution handling, noise, ledger, reconciliation) beside the exact GROUP BY alone.

    .venv/bin/python bench/dp_counts.py
    .venv/bin/python bench/dp_counts.py --rows 100000 --repeats 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import opendp.prelude as dp
import pyarrow as pa

from justicelab.privacy.dp import dp_counts, least_squares, levels_for, plan_noise, round_consistent, set_budget
from justicelab.privacy.dp.postprocess import project
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse, ensure_entity_table, entity_schema


def truth_table(rng: np.random.Generator) -> np.ndarray:
    weights = rng.pareto(1.1, 59) + 0.02
    rates = 700 * weights / weights.sum()  # about 700 deaths a year statewide
    return rng.poisson(rates[:, None] * np.linspace(0.9, 1.15, 14)[None, :])


def errors(cells: np.ndarray, truth: np.ndarray) -> list[float]:
    return [float(np.abs(cells - truth).mean()), float(np.abs(cells.sum(1) - truth.sum(1)).mean()),
            float(np.abs(cells.sum(0) - truth.sum(0)).mean()), float(abs(cells.sum() - truth.sum()))]


def accuracy(repeats: int, epsilon: float, cell_shares: list[float]) -> None:
    truth = truth_table(np.random.default_rng(3))
    levels = levels_for(2)
    results: dict[str, list[list[float]]] = {}
    for share in cell_shares:
        rest = (1 - share) / 3
        plan = plan_noise(mechanism="laplace", epsilon=epsilon, delta=0.0, shares=[rest, rest, rest, share],
                          sensitivity=1)
        key = f"ours (cell share {share:g})"
        for _ in range(repeats):
            noisy = plan.release([project(truth, lv) for lv in levels])
            cells = round_consistent(least_squares(truth.shape, levels, noisy, plan.variances()))
            results.setdefault(key, []).append(errors(cells, truth))
    cells_only = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"),
                                   scale=1.0 / epsilon)
    for _ in range(repeats):
        noisy = np.asarray(cells_only([int(v) for v in truth.ravel()])).reshape(truth.shape)
        results.setdefault("baseline: noisy cells, clipped at 0, summed", []).append(
            errors(np.maximum(noisy, 0), truth))
    print(f"\nAccuracy: {truth.shape[0]} counties x {truth.shape[1]} years, {int(truth.sum())} deaths, "
          f"{int((truth == 0).sum())} empty cells; epsilon {epsilon}, {repeats} releases each; mean absolute error")
    print(f"{'method':48} {'cells':>8} {'county':>8} {'year':>8} {'total':>8}")
    for key, rows in results.items():
        mean = np.mean(rows, axis=0)
        print(f"{key:48} " + " ".join(f"{v:8.2f}" for v in mean))


def warehouse_with(rows: int, folder: Path) -> Warehouse:
    standard = load_standard()
    entity = standard.entity("custody_death")
    wh = Warehouse.open(str(folder / "wh.duckdb"))
    ensure_entity_table(wh, entity)
    rng = np.random.default_rng(5)
    counties = np.array(standard.codelist("county").values())
    days = rng.integers(0, 14 * 365, rows)
    data = {
        "_record_id": [f"b:{i}" for i in range(rows)], "_source": ["bench"] * rows, "_batch_id": np.ones(rows, int),
        "_source_row": np.arange(rows), "death_id": [f"D{i}" for i in range(rows)],
        "date_of_death": [dt.date(2005, 1, 1) + dt.timedelta(days=int(d)) for d in days],
        "county": counties[rng.integers(0, len(counties), rows)], "sex": rng.choice(["M", "F"], rows, p=[.9, .1]),
    }
    schema = entity_schema(entity).to_pyarrow()
    table = pa.table({c: data.get(c, pa.nulls(rows, schema.field(c).type)) for c in schema.names}, schema=schema)
    wh.insert_arrow("custody_death", table)
    return wh


def cost(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wh = warehouse_with(rows, Path(tmp))
        set_budget(wh, "custody_death", epsilon=1e6, delta=0.0, who="bench")
        start = time.perf_counter()
        exact = wh.execute("SELECT county, year(date_of_death), sex, count(*) FROM custody_death GROUP BY ALL")
        sql = time.perf_counter() - start
        start = time.perf_counter()
        release = dp_counts(wh, "custody_death", ["county", "year", "sex"], epsilon=1.0,
                            domains={"year": "2005..2018"}, who="bench")
        ours = time.perf_counter() - start
        wh.close()
    print(f"\nCost: {rows:,} rows, county x year x sex = {release.cells.size:,} cells "
          f"({len(exact)} non-empty groups in the data)")
    print(f"{'exact GROUP BY alone (baseline)':48} {sql:8.3f} s")
    print(f"{'dp_counts (whole release, ledger included)':48} {ours:8.3f} s   ({ours / sql:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--epsilon", type=float, default=1.0)
    args = parser.parse_args()
    accuracy(args.repeats, args.epsilon, [0.5, 0.8])
    cost(args.rows)


if __name__ == "__main__":
    main()
