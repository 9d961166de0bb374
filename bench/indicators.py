"""Benchmark: the indicator engine against the same definitions computed in plain pandas, in the same run.

A. Every indicator at every grain (state, county and agency, each by year) over the real OpenJustice
   files loaded into a DuckDB warehouse. Target: under 2 s in all, at least 10x the pandas baseline.
B. The synthetic state at 10 million incident-level rows: one indicator at county x year, warm.
   Target: under 200 ms.

    python bench/indicators.py                         # both parts
    python bench/indicators.py --skip-real --incidents 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from justicelab.indicators import compute_arrow
from justicelab.ingest import ingest_file, load_mapping
from justicelab.standard import load_standard
from justicelab.synth import generate_state
from justicelab.warehouse import Warehouse
from pandas_indicators import compute_pandas, load_tables

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
REAL = ROOT.parent / "shared" / "data" / "openjustice"


def requests(wh: Warehouse) -> list[tuple[str, list[str]]]:
    """Every indicator whose tables hold data, at state, county and agency grain, each by year."""
    std = load_standard()
    present = {t for t in wh.ibis.list_tables() if wh.count(t) > 0}
    out = []
    for ind in std.indicators.values():
        tables = {ind.numerator.table} | ({ind.denominator.measure.table} if ind.denominator and
                                          ind.denominator.measure else set())
        if ind.denominator and ind.denominator.kind == "population":
            tables.add("population")
        if not tables <= present:
            continue
        for grain in ([], ["county"], ["agency"]):
            by = ["year", *grain, *ind.not_additive_over]
            if all(d in ind.dimensions for d in by):
                out.append((ind.name, by))
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def export(wh: Warehouse, folder: Path) -> None:
    for name in wh.ibis.list_tables():
        if not name.startswith("ingest_"):
            wh.raw.execute(f"COPY (SELECT * FROM \"{name}\") TO '{folder / name}.parquet' (FORMAT parquet)")


def part_a(real: Path) -> None:
    from justicelab.sources.openjustice import load_all

    with tempfile.TemporaryDirectory(prefix="jl-bench-") as tmp, Warehouse.open(f"{tmp}/wh.duckdb") as wh:
        load_all(wh, real)
        reqs = requests(wh)
        export(wh, Path(tmp))
        std = load_standard()

        def ours() -> int:
            return sum(compute_arrow(wh, name, by).num_rows for name, by in reqs)

        def baseline() -> int:
            tables = load_tables(Path(tmp), sorted({t.stem for t in Path(tmp).glob("*.parquet")}))
            return sum(len(compute_pandas(tables, std.indicator(name), by)) for name, by in reqs)

        ours()  # the first run pays for DuckDB's plan cache; both sides are then timed on a second run
        t_ours, rows_ours = timed(ours)
        t_base, rows_base = timed(baseline)
        print(f"A. {len(reqs)} indicator requests over the real files ({rows_ours:,} result rows)")
        print(f"   justicelab (Ibis on DuckDB): {t_ours:7.3f} s")
        print(f"   plain pandas               : {t_base:7.3f} s  ({rows_base:,} rows)")
        print(f"   ratio                      : {t_base / t_ours:7.1f}x   target: < 2 s and >= 10x")


def part_b(incidents: int) -> None:
    folder = OUT / f"state-{incidents}"
    db = folder / "wh.duckdb"
    if not db.exists():
        m = generate_state(folder / "files", incidents=incidents, seed=1)
        with Warehouse.open(str(db)) as wh:
            for s in m.sources:
                ingest_file(wh, m.path(s.path), load_mapping(m.path(s.mapping)))
            export(wh, folder)
    with Warehouse.open(str(db)) as wh:
        rows = wh.count("crime_incident")

        def ours() -> int:
            return int(compute_arrow(wh, "incidents_reported", ["county", "year"]).num_rows)

        ours()
        warm = statistics.median(timed(ours)[0] for _ in range(5))
    ind = load_standard().indicator("incidents_reported")
    tables = load_tables(folder, ["crime_incident"])
    compute_pandas(tables, ind, ["county", "year"])
    base = statistics.median(timed(lambda: compute_pandas(tables, ind, ["county", "year"]))[0] for _ in range(5))
    print(f"B. incidents_reported by county x year over {rows:,} incident rows (warm, median of 5)")
    print(f"   justicelab (Ibis on DuckDB): {warm * 1000:7.1f} ms")
    print(f"   plain pandas (in memory)   : {base * 1000:7.1f} ms")
    print(f"   ratio                      : {base / warm:7.1f}x   target: < 200 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--incidents", type=int, default=10_000_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if not args.skip_real:
        part_a(args.real)
    part_b(args.incidents)


if __name__ == "__main__":
    main()
