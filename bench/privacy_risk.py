"""Risk measures: ours (DuckDB SQL) vs pycanon (pandas) on the same synthetic table, k, l and t side by side.

The table looks like a person-level release: county (58), 10-year age band (9), sex (2), race (7) as
quasi-identifiers; manner (categorical, 5 values) and days in custody (numeric, 0-30) as sensitive
attributes. Both tools get the same rows: pycanon a pandas DataFrame, ours a DuckDB table made from it
(the load is timed apart). Every answer is checked to agree before any time is printed.

    .venv/bin/python bench/privacy_risk.py              # 1,000,000 rows
    .venv/bin/python bench/privacy_risk.py --rows 100000
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from pycanon import anonymity

from justicelab.privacy.risk import entropy_l_diversity, k_anonymity, l_diversity, t_closeness

QI = ["county", "age", "sex", "race"]


def table(rows: int, seed: int = 11) -> pd.DataFrame:
    """A synthetic person-level table with skewed categories, as real releases have."""
    rng = np.random.default_rng(seed)
    county_weights = rng.pareto(1.2, 58) + 0.05
    return pd.DataFrame({
        "county": rng.choice([f"county_{i:02d}" for i in range(58)], rows, p=county_weights / county_weights.sum()),
        "age": rng.choice([f"{lo}-{lo + 9}" for lo in range(10, 100, 10)], rows,
                          p=[0.08, 0.24, 0.22, 0.18, 0.13, 0.08, 0.04, 0.02, 0.01]),
        "sex": rng.choice(["M", "F"], rows, p=[0.85, 0.15]),
        "race": rng.choice(["hispanic", "white", "black", "asian", "american_indian", "pacific_islander", "other"],
                           rows, p=[0.40, 0.28, 0.20, 0.06, 0.02, 0.01, 0.03]),
        "manner": rng.choice(["natural", "suicide", "accidental", "homicide", "pending"], rows,
                             p=[0.60, 0.15, 0.15, 0.07, 0.03]),
        "days": rng.integers(0, 31, rows),
    })


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    df = table(args.rows)
    con = duckdb.connect()
    con.register("df_view", df)
    _, load = timed(lambda: con.execute("CREATE TABLE t AS SELECT * FROM df_view"))
    classes = df.groupby(QI).ngroups
    print(f"{args.rows:,} rows, {classes:,} equivalence classes on {', '.join(QI)}; DuckDB load {load:.2f} s")
    measures: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("k-anonymity", lambda: k_anonymity(con, "t", QI), lambda: anonymity.k_anonymity(df, QI)),
        ("l-diversity (manner)", lambda: l_diversity(con, "t", QI, ["manner"]),
         lambda: anonymity.l_diversity(df, QI, ["manner"])),
        ("entropy l (manner)", lambda: entropy_l_diversity(con, "t", QI, ["manner"]),
         lambda: anonymity.entropy_l_diversity(df, QI, ["manner"])),
        ("t-closeness (manner, equal)", lambda: t_closeness(con, "t", QI, ["manner"]),
         lambda: anonymity.t_closeness(df, QI, ["manner"])),
        ("t-closeness (days, ordered)", lambda: t_closeness(con, "t", QI, ["days"]),
         lambda: anonymity.t_closeness(df, QI, ["days"])),
    ]
    print(f"{'measure':<30}{'ours':>12}{'pycanon':>12}{'ours s':>10}{'pycanon s':>12}{'speed-up':>10}")
    total_ours = total_theirs = 0.0
    for name, ours_fn, theirs_fn in measures:
        ours, t_ours = timed(ours_fn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, t_theirs = timed(theirs_fn)
        same = int(ours) == theirs if name.startswith("entropy") else abs(float(ours) - float(theirs)) < 1e-9
        if not same:
            raise SystemExit(f"{name}: ours {ours} != pycanon {theirs}")
        total_ours, total_theirs = total_ours + t_ours, total_theirs + t_theirs
        print(f"{name:<30}{float(ours):>12.6g}{float(theirs):>12.6g}{t_ours:>10.2f}{t_theirs:>12.2f}"
              f"{t_theirs / t_ours:>9.0f}x")
    print(f"{'all five':<30}{'':>24}{total_ours:>10.2f}{total_theirs:>12.2f}{total_theirs / total_ours:>9.0f}x")


if __name__ == "__main__":
    main()
