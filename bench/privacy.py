"""Anonymisation: ours (DuckDB) vs anonypy's Mondrian vs a fixed global recoding, on the same arrest table.

The table is a synthetic state's arrests (``justicelab synth state``): age, arrest date, sex, race, county and
offence; the target is k = 11 with l = 3 distinct offences per class, up to 5% of records suppressed where a
method suppresses. Ours runs twice: local recoding (each class as fine as it can be, hierarchy labels only,
no suppression here) and the global optimum of the lattice (one level per attribute, local suppression).
The outputs are then measured the same way, outside the timings:

* information loss: NCP per record and quasi-identifier, 0 as recorded and 1 when blank or suppressed; a
  number or date shown as an interval [lo, hi] loses (hi - lo) / (the table's range); a category standing
  for c of the table's d values loses (c - 1) / (d - 1). A list of values (Mondrian's "alameda,fresno", which
  no hierarchy of the standard publishes) counts as the hierarchy node covering it: the region when the
  counties share one, else the state; for sex and race, which have no hierarchy, every value. The NCP(sets)
  column counts a list as only the values it lists instead, the most favourable reading for Mondrian;
* k and l: privacy.risk's k_anonymity and l_diversity on the released records (Mondrian's rows expanded by
  their counts).

The fixed recoding is the open-data plan's rule of thumb: 10-year age bands, month instead of date, regions
instead of counties; records of classes that still violate k or l are suppressed (however many). At
1,000,000 rows Mondrian is left out unless --mondrian-large is given: anonypy partitions in pandas, row by row
of the partition tree, and takes about ten times its 100,000-row time.

    .venv/bin/python bench/privacy.py                   # 100,000 and 1,000,000 rows
    .venv/bin/python bench/privacy.py --rows 100000 --large 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anonypy
import duckdb
import numpy as np
import pandas as pd

from justicelab.ingest.sql import ident, literal
from justicelab.privacy.anonymize import anonymize, parse_policy
from justicelab.privacy.risk import k_anonymity, l_diversity, open_file
from justicelab.standard import load_standard
from justicelab.synth import generate_state
from justicelab.warehouse import Generaliser

QI = ["age", "arrest_date", "sex", "race_ethnicity", "county"]
SENSITIVE = "offense_description"
K, L, MAX_SUPPRESSION = 11, 3, 0.05
RECODING = {"age": ("age", "band_10"), "arrest_date": ("date", "month"), "county": ("county", "region")}
POLICY = f"""dataset: arrest
tier: public
quasi_identifiers: [age, arrest_date, sex, race_ethnicity, county]
sensitive: [{SENSITIVE}]
targets: {{k: {K}, l: {L}, max_suppression: {MAX_SUPPRESSION}}}
"""
STANDARD = load_standard()
GEN = Generaliser(STANDARD)


def arrest_table(rows: int, work: Path) -> Path:
    """``rows`` valid arrests of a synthetic state (generated once into ``work``), as Parquet."""
    out = work / f"arrest_{rows}.parquet"
    if out.is_file():
        return out
    state = work / f"state_{rows}"
    if not (state / "arrests.csv").is_file():
        generate_state(state, incidents=math.ceil(rows * 1.15), seed=7)
    counties = ", ".join(literal(c.code) for c in STANDARD.codelists["county"].codes)
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT age, arrest_date, sex, race_ethnicity, county, {SENSITIVE} FROM (
            SELECT try_cast(age AS INTEGER) AS age, try_cast(arrest_date AS DATE) AS arrest_date, sex,
                   race AS race_ethnicity, county, offense_desc AS {SENSITIVE}, arrest_no
            FROM read_csv({literal(str(state / 'arrests.csv'))}, all_varchar = true))
        WHERE age BETWEEN 0 AND 120 AND arrest_date IS NOT NULL AND sex IN ('M', 'F', 'U')
          AND race_ethnicity IN ('A', 'B', 'H', 'I', 'M', 'O', 'P', 'U', 'W') AND county IN ({counties})
          AND {SENSITIVE} IS NOT NULL
        ORDER BY arrest_no LIMIT {rows}) TO {literal(str(out))} (FORMAT parquet)""")
    got = con.execute(f"SELECT count(*) FROM read_parquet({literal(str(out))})").fetchone()
    if not got or got[0] < rows:
        raise SystemExit(f"the synthetic state gave only {got[0] if got else 0} valid arrests; raise incidents")
    return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


# -- the three methods -----------------------------------------------------------------------------------


def ours(path: Path, recoding: str) -> tuple[pd.DataFrame, float, dict[str, Any]]:
    policy = parse_policy(POLICY + f"recoding: {recoding}\n")
    with open_file(path, STANDARD, "arrest") as ds:
        result, seconds = timed(lambda: anonymize(ds, policy, generaliser=GEN, table=True))
    assert result.table is not None
    if result.search is not None:
        how = (f"search {result.search.seconds:.3f} s over {result.search.evaluated} of {result.search.lattice_size}"
               f" nodes; levels {result.levels}")
    else:
        assert result.local is not None
        shares = {q: {lv: round(x, 3) for lv, x in s.items()} for q, s in result.level_shares.items()}
        how = f"{result.local.splits} splits in {result.local.rounds} rounds ({result.local.seconds:.3f} s); {shares}"
    return result.table.to_pandas(), seconds, {"engine_ncp": result.chosen.ncp, "how": how}


def recoding(path: Path) -> tuple[pd.DataFrame, float, dict[str, Any]]:
    """The fixed recoding, then every record of a class violating k or l suppressed."""
    con = duckdb.connect()
    cols = [f"{GEN.sql(ident(q), *RECODING[q])} AS {ident(q)}" if q in RECODING else ident(q) for q in QI]
    keys = ", ".join(ident(q) for q in QI)

    def run() -> pd.DataFrame:
        con.execute(f"CREATE OR REPLACE TABLE g AS SELECT {', '.join(cols)}, {SENSITIVE} "
                    f"FROM read_parquet({literal(str(path))})")
        return con.execute(f"""
            SELECT g.* FROM g SEMI JOIN (SELECT {keys} FROM g GROUP BY ALL
                                        HAVING count(*) >= {K} AND count(DISTINCT {SENSITIVE}) >= {L}) ok
            USING ({keys})""").df()

    out, seconds = timed(run)
    return out, seconds, {"levels": {q: RECODING[q][1] if q in RECODING else "recorded" for q in QI}}


def mondrian(path: Path) -> tuple[pd.DataFrame, float, dict[str, Any]]:
    df = pd.read_parquet(path)
    df["arrest_date"] = df["arrest_date"].map(lambda d: d.toordinal()).astype(int)
    df["age"] = df["age"].astype(int)
    for c in ("sex", "race_ethnicity", "county", SENSITIVE):
        df[c] = df[c].astype("category")
    rows, seconds = timed(lambda: anonypy.Preserver(df, QI, SENSITIVE).anonymize_l_diversity(K, L))
    out = pd.DataFrame([{**{q: r[q][0] for q in QI}, SENSITIVE: r[SENSITIVE], "count": r["count"]} for r in rows])
    return out.loc[out.index.repeat(out.pop("count"))].reset_index(drop=True), seconds, {}


# -- measuring the outputs the same way -------------------------------------------------------------------


def _label_interval(label: str, kind: str) -> tuple[float, float]:
    """The values a released label stands for: ages "30-39" or "34"; dates "2021", "2021-Q1", "2021-03",
    "2021-03-14", or Mondrian's day ordinals "736694-737551" / "736694"."""
    def days(first: dt.date, after: dt.date) -> tuple[float, float]:
        return float(first.toordinal()), float(after.toordinal() - 1)

    if kind == "arrest_date" and len(label) == 4:
        return days(dt.date(int(label), 1, 1), dt.date(int(label) + 1, 1, 1))
    if kind == "arrest_date" and "-Q" in label:
        year, q = int(label[:4]), int(label[-1])
        return days(dt.date(year, 3 * q - 2, 1), dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1))
    if kind == "arrest_date" and len(label) == 7 and label[4] == "-":
        year, month = int(label[:4]), int(label[5:])
        return days(dt.date(year, month, 1), dt.date(year + (month == 12), 1 if month == 12 else month + 1, 1))
    if kind == "arrest_date" and len(label) == 10 and label[4] == "-":
        day = dt.date.fromisoformat(label)
        return days(day, day + dt.timedelta(days=1))
    lo, _, hi = label.partition("-")  # "30-39", "34", or Mondrian's range of numbers
    return float(lo), float(hi or lo)


def ncp(release: pd.DataFrame, source: pd.DataFrame, lists: str = "hierarchy") -> float:
    """Average NCP over every source record and quasi-identifier; suppressed records count 1 each.

    A list of values (Mondrian's "alameda,fresno") counts as the hierarchy node that covers it
    (``lists="hierarchy"``: the region when they share one, else the whole state; for sex or race, which have
    no hierarchy, every value), or as just the values it lists (``lists="set"``).
    """
    regions = {c.code: c.attributes["region"] for c in STANDARD.codelists["county"].codes}
    total = 0.0
    for q in QI:
        column = release[q].astype(object)
        if q in ("age", "arrest_date"):
            raw = source[q].astype(int) if q == "age" else source[q].map(lambda d: d.toordinal())
            lo_d, hi_d = float(raw.min()), float(raw.max())
            bounds = {v: _label_interval(str(v), q) for v in column.dropna().unique()}
            loss = column.map(lambda v, b=bounds, lo=lo_d, hi=hi_d: 1.0 if v is None or v != v else
                              (min(b[v][1], hi) - max(b[v][0], lo)) / (hi - lo))
        else:
            values = set(source[q].unique())
            in_region = pd.Series(list(values)).map(regions).value_counts().to_dict() if q == "county" else {}

            def cover(label: Any, values: set[Any] = values, in_region: dict[str, int] = in_region) -> int:
                if label in values:
                    return 1  # a value as recorded (a region made of one county is that county)
                if label in in_region:
                    return int(in_region[label])  # a region: the counties of the table in it
                if label == "state":
                    return len(values)
                listed = str(label).split(",")
                if lists == "set":
                    return len(listed)
                shared = {regions[v] for v in listed} if in_region else set()
                return int(in_region[shared.pop()]) if len(shared) == 1 else len(values)

            loss = np.where(column.isna(), 1.0, (column.map(cover) - 1) / (len(values) - 1))
        total += float(np.sum(loss))
    suppressed = len(source) - len(release)
    return (total + suppressed * len(QI)) / (len(source) * len(QI))


def k_and_l(release: pd.DataFrame) -> tuple[int, int]:
    con = duckdb.connect()
    con.register("r", release[[*QI, SENSITIVE]].astype(str).replace({"None": None, "nan": None}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return k_anonymity(con, "r", QI), l_diversity(con, "r", QI, [SENSITIVE])


def compare(rows: int, work: Path, with_mondrian: bool) -> None:
    path = arrest_table(rows, work)
    source = pd.read_parquet(path)
    methods: list[tuple[str, Callable[[Path], tuple[pd.DataFrame, float, dict[str, Any]]]]] = [
        ("ours, local recoding", lambda p: ours(p, "local")),
        ("ours, global (lattice optimum)", lambda p: ours(p, "global")),
        ("fixed global recoding", recoding)]
    if with_mondrian:
        methods.append(("anonypy Mondrian", mondrian))
    results = []
    for name, method in methods:
        release, seconds, info = method(path)
        k, l_ = k_and_l(release)
        info["set_ncp"] = ncp(release, source, "set")
        results.append((name, seconds, len(source) - len(release), ncp(release, source), k, l_, info))
    print(f"\n{rows:,} arrests (age, arrest date, sex, race, county; l over {SENSITIVE}), target k={K}, l={L}, "
          f"at most {MAX_SUPPRESSION:.0%} suppressed where a method suppresses")
    print(f"{'method':<32}{'seconds':>9}{'suppressed':>12}{'NCP':>8}{'NCP(sets)':>11}{'k':>6}{'l':>4}"
          "   vs ours: time, NCP")
    base = results[0]
    for name, seconds, suppressed, loss, k, l_, info in results:
        ratio = "" if name == base[0] else f"   {seconds / base[1]:.1f}x, {loss / base[3]:.2f}x"
        print(f"{name:<32}{seconds:>9.3f}{suppressed / rows:>11.2%}{loss:>8.4f}{info['set_ncp']:>11.4f}{k:>6}{l_:>4}"
              f"{ratio}")
    print("NCP: a list of values counts as the hierarchy node covering it (the region, else the state; for sex and "
          "race every value); NCP(sets): as only the values listed")
    for name, _, _, loss, _, _, info in results:
        if "how" in info:
            print(f"{name}: {info['how']}; engine NCP {info['engine_ncp']:.6f}, measured here {loss:.6f}")
    if not with_mondrian:
        print("anonypy Mondrian not run at this size (about ten times its 100,000-row time; --mondrian-large "
              "runs it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the table all three methods get")
    parser.add_argument("--large", type=int, default=1_000_000, help="rows of the large table (0: skip)")
    parser.add_argument("--mondrian-large", action="store_true", help="run Mondrian on the large table too")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "justicelab-bench-privacy",
                        help="where the synthetic tables are generated once and kept")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    compare(args.rows, args.work, with_mondrian=True)
    if args.large:
        compare(args.large, args.work, with_mondrian=args.mondrian_large)


if __name__ == "__main__":
    main()
