"""Benchmark: ingest of a 5-million-row synthetic citation CSV with full validation, quarantine and lineage.

Baseline, in the same run: pandas.read_csv + the same checks in pandas + DataFrame.to_sql (SQLite),
driven by the same mapping and standard (bench/pandas_baseline.py). Prints both and their ratio.
For scale it also prints DuckDB's own floor on this machine: the same CSV copied into a table of a
DuckDB file with no transform, no check, no quarantine and no lineage.

    python bench/ingest.py                 # 5,000,000 rows
    python bench/ingest.py --rows 1000000  # quicker
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from justicelab.ingest import ingest_file, load_mapping
from justicelab.synth import generate_city
from justicelab.warehouse import Warehouse
from pandas_baseline import ingest_with_pandas

OUT = Path(__file__).resolve().parent / "out"


def citation_csv(rows: int, seed: int) -> tuple[Path, Path]:
    """The synthetic city's police citation export, replicated with fresh citation numbers to ``rows`` rows.

    Replication keeps the generator's realistic values and its deliberately invalid rows.
    """
    city_dir = OUT / f"city-{seed}"
    if not (city_dir / "manifest.json").exists():
        generate_city(city_dir, people=50_000, years=6, seed=seed)
    src = city_dir / "police_citations.csv"
    mapping = city_dir / "mappings" / "police_citations.yaml"
    target = OUT / f"citations_{rows}.csv"
    if not target.exists():
        con = duckdb.connect()
        n = con.execute(
            f"SELECT count(*) FROM read_csv('{src}', all_varchar=true, header=true, ignore_errors=true)"
        ).fetchone()[0]
        copies = -(-rows // n)
        con.execute(
            f"""
            COPY (
              SELECT * REPLACE (CASE WHEN k = 0 THEN CIT_NO ELSE CIT_NO || '-' || k END AS CIT_NO)
              FROM read_csv('{src}', all_varchar=true, header=true, ignore_errors=true), range({copies}) r(k)
              ORDER BY k LIMIT {rows}
            ) TO '{target}' (HEADER, QUOTE '"')
            """
        )
    return target, mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    csv_path, mapping_path = citation_csv(args.rows, args.seed)
    loaded = load_mapping(mapping_path)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"input: {csv_path.name}, {args.rows:,} rows, {size_mb:,.0f} MB")

    with tempfile.TemporaryDirectory(prefix="jl-bench-") as tmp:
        with Warehouse.open(str(Path(tmp) / "wh.duckdb")) as wh:
            t0 = time.perf_counter()
            result = ingest_file(wh, csv_path, loaded)
            ours = time.perf_counter() - t0
        print(f"justicelab ingest : {ours:8.2f} s  {result.rows_read / ours:12,.0f} rows/s  "
              f"(loaded {result.rows_loaded:,}, quarantined {result.rows_quarantined:,})")
        floor_con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        t0 = time.perf_counter()
        floor_con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{csv_path}', all_varchar=true, "
                          "header=true, ignore_errors=true)")
        floor = time.perf_counter() - t0
        floor_con.close()
        print(f"duckdb plain copy : {floor:8.2f} s  {args.rows / floor:12,.0f} rows/s  "
              f"(no transform, check, quarantine or lineage; justicelab takes {ours / floor:.1f}x this)")
        if args.skip_baseline:
            return
        t0 = time.perf_counter()
        counts = ingest_with_pandas(csv_path, loaded, Path(tmp) / "baseline.sqlite")
        base = time.perf_counter() - t0
        print(f"pandas + to_sql   : {base:8.2f} s  {counts['read'] / base:12,.0f} rows/s  "
              f"(loaded {counts['loaded']:,}, quarantined {counts['quarantined']:,})")
        print(f"ratio             : {base / ours:8.1f}x faster than the baseline")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
