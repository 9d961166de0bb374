"""Benchmark: optimal complementary suppression against the usual "smallest sibling" heuristic, same run.

The baseline is the rule many offices apply by hand or in a spreadsheet: while some row, column or other
relation holds exactly one suppressed cell, also suppress the smallest published non-zero cell of that relation
(the smallest cell of any value if all are zero). The same independent LP attacker then judges both outputs: how
many sensitive cells it narrows below the protection range (unsafe) and how many suppressed cells it recovers
(recoverable: the interval holds one whole number). A second baseline makes the heuristic safe the way an
analyst would: while the attacker narrows some sensitive cell, suppress the smallest published cell of each
of that cell's relations.

Tables: the real county x year and county x year x custody stage deaths in custody (OpenJustice, when the files
are present), a synthetic state table (58 counties x 14 years x 6 offences with every margin), and with --big
the issue's 58 x 38 x 10 table.

    python bench/suppression.py
    python bench/suppression.py --skip-real --big --gap 0.01
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from justicelab.privacy.tables import CountTable, Primary, audit, suppress, threshold_rule
from justicelab.sources.openjustice import load_agencies, load_custody_deaths
from justicelab.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "openjustice"


def smallest_sibling(table: CountTable, primary: Primary) -> np.ndarray:
    """The baseline: give every relation with a lone suppressed cell its smallest published non-zero member."""
    sup = primary.sensitive.copy()
    relations = [np.concatenate(([total], parts)) for total, parts in table.relations()]
    v = table.values
    changed = True
    while changed:
        changed = False
        for cells in relations:
            hidden = sup[cells]
            if hidden.sum() != 1:
                continue
            shown = cells[~hidden]
            nonzero = shown[v[shown] > 0]
            pool = nonzero if nonzero.size else shown
            sup[pool[np.argmin(v[pool])]] = True
            changed = True
    return sup


def smallest_sibling_until_safe(table: CountTable, primary: Primary, limit: int = 50) -> tuple[np.ndarray, int]:
    """The baseline made safe the way an analyst would: ask the attacker, and for every sensitive cell it still
    narrows suppress the smallest published non-zero cell of each of its relations; repeat until it is safe."""
    sup = smallest_sibling(table, primary)
    relations = table.relations()
    of_cell: dict[int, list[np.ndarray]] = {}
    for total, parts in relations:
        cells = np.concatenate(([total], parts))
        for c in cells:
            of_cell.setdefault(int(c), []).append(cells)
    v = table.values
    for rounds in range(1, limit + 1):
        unsafe = audit(table, sup, primary).unsafe
        if unsafe.size == 0:
            return sup, rounds
        for c in unsafe:
            for cells in of_cell.get(int(c), []):
                shown = cells[~sup[cells]]
                nonzero = shown[v[shown] > 0]
                pool = nonzero if nonzero.size else shown
                if pool.size:
                    sup[pool[np.argmin(v[pool])]] = True
    return sup, limit


def synthetic(counties: int, years: int, offences: int, seed: int = 7) -> CountTable:
    """County x year x offence counts: county populations and offence rates spread like California's."""
    rng = np.random.default_rng(seed)
    population = np.exp(rng.normal(11.5, 1.6, counties))
    rate = np.exp(rng.normal(-7.5, 1.3, offences))
    trend = 1 + 0.01 * rng.normal(0, 1, years).cumsum()
    n = rng.poisson(population[:, None, None] * trend[None, :, None] * rate[None, None, :])
    keys = list(itertools.product(range(counties), range(years), range(offences)))
    data = pa.table({"county": [f"county{c:02d}" for c, _, _ in keys], "year": [2000 + y for _, y, _ in keys],
                     "offence": [f"offence{o}" for _, _, o in keys], "n": n.ravel().tolist()})
    dims = ["county", "year", "offence"]
    return CountTable.from_arrow(data, dims, "n", totals=dims, source="synthetic")


def real_tables() -> Iterator[tuple[str, CountTable]]:
    if not REAL.is_dir():
        print(f"(real files not found at {REAL}: skipped)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(str(Path(tmp) / "wh.duckdb"))
        try:
            load_agencies(wh, REAL)
            load_custody_deaths(wh, REAL)
            for extra in ([], ["custody_stage"]):
                by = "".join(f", {e}" for e in extra)
                rel = wh.raw.sql(f"SELECT county, year(date_of_death) AS year{by}, count(*) AS deaths "
                                 "FROM custody_death WHERE county IS NOT NULL AND year(date_of_death) "
                                 "BETWEEN 2005 AND 2018 GROUP BY ALL")
                dims = ["county", "year", *extra]
                yield " x ".join(dims) + " deaths in custody", CountTable.from_arrow(rel, dims, "deaths", totals=dims)
        finally:
            wh.close()


def measure(name: str, table: CountTable, threshold: int, time_limit: float, gap: float) -> None:
    primary = threshold_rule(table, threshold)
    t0 = time.perf_counter()
    ours = suppress(table, threshold, time_limit=time_limit, gap=gap)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline = smallest_sibling(table, primary)
    base_s = time.perf_counter() - t0
    judged = audit(table, baseline, primary)
    t0 = time.perf_counter()
    safe_base, rounds = smallest_sibling_until_safe(table, primary)
    safe_s = time.perf_counter() - t0
    judged_safe = audit(table, safe_base, primary)
    s = ours.summary()
    v = table.values
    rows = [
        ("ours (MILP + cuts)", int(ours.suppressed.sum()), float(v[ours.suppressed].sum()), s["unsafe_cells"],
         s["recoverable_cells"], ours_s, "optimal" if s["optimal"] else f"lower bound {s['lower_bound']:.0f}"),
        ("smallest sibling", int(baseline.sum()), float(v[baseline].sum()), int(judged.unsafe.size),
         int(judged.pinned.size), base_s, ""),
        ("sibling until safe", int(safe_base.sum()), float(v[safe_base].sum()), int(judged_safe.unsafe.size),
         int(judged_safe.pinned.size), safe_s, f"{rounds} attacker rounds"),
    ]
    print(f"\n{name}: {table.size} cells with margins, {primary.count} primary (counts 1-{threshold - 1})")
    print(f"  {'method':<20} {'suppressed':>10} {'value hidden':>12} {'unsafe':>7} {'recoverable':>11} "
          f"{'seconds':>8}")
    for method, cells, value, unsafe, pinned, secs, note in rows:
        print(f"  {method:<20} {cells:>10} {value:>12.0f} {unsafe:>7} {pinned:>11} {secs:>8.2f}  {note}")
    for i in (1, 2):
        print(f"  ours / {rows[i][0]}: {rows[0][1] / rows[i][1]:.3f} of the cells, "
              f"{rows[0][2] / max(rows[i][2], 1):.3f} of the value")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=int, default=11)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--big", action="store_true", help="also the 58 x 38 x 10 table")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds for our search per table")
    parser.add_argument("--gap", type=float, default=0.0, help="accepted distance from the optimum (share)")
    args = parser.parse_args()
    tables: list[tuple[str, CountTable]] = [] if args.skip_real else list(real_tables())
    tables.append(("synthetic county x year x offence 58x14x6", synthetic(58, 14, 6)))
    if args.big:
        tables.append(("synthetic county x year x offence 58x38x10", synthetic(58, 38, 10)))
    for name, table in tables:
        measure(name, table, args.threshold, args.time_limit, args.gap)


if __name__ == "__main__":
    main()
