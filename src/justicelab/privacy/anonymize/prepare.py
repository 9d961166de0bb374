"""Every level of every quasi-identifier computed once, into one DuckDB table of small integer codes.

For each quasi-identifier a dictionary of its distinct values gives, per allowed level, the released label,
a code (dense rank of the label; a missing label is a code of its own) and the label's information loss.
The base table then holds one code column per quasi-identifier and level (none for the suppressed level,
which is one constant class), one code per sensitive attribute, and the values the release copies. A
node of the lattice is a GROUP BY over the code columns of its levels, packed into one integer key.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field

import duckdb

from justicelab.ingest.sql import ident
from justicelab.privacy.anonymize.attributes import Plan, QuasiIdentifier
from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.privacy.risk import Dataset, is_numeric
from justicelab.warehouse import Generaliser
from justicelab.warehouse.generalise import SUPPRESSED

PREFIX = "_jl_anon_"
BASE = PREFIX + "base"
NCP = PREFIX + "ncp"  # (qi, level, ncp DOUBLE[]): a code's loss at list position code + 1
MAP = PREFIX + "map"  # (qi, lo, hi, codes INTEGER[]): a code at level lo -> its code at level hi
VALUES = PREFIX + "values"  # every attribute's distinct values with their counts
LABELS = PREFIX + "labels"  # (qi, level, labels VARCHAR[]): a code's label at list position code + 1
#: Local recoding's (q, ncp DOUBLE[], labels VARCHAR[]) by (level, code) number; read by its release, dropped here.
LISTS = PREFIX + "lists"
#: A constant column of the base table: the one class of a node that suppresses every attribute.
ALL = "_all"
#: The record key carried through for the release ledger (``prepare(carry_key=True)``); never written out.
KEY = "_jl_key"
#: A sensitive attribute with at most this many values is tracked per class as a bit mask (fast distinct l).
MASK_VALUES = 64
#: Up to this many records the anonymisation runs on one DuckDB thread: its queries are small, and a second
#: thread's scheduling, partitioning and merging cost more than it saves (far more on a busy machine).
ONE_THREAD_RECORDS = 400_000


def _code_type(count: int) -> str:
    return "UTINYINT" if count <= 1 << 8 else "USMALLINT" if count <= 1 << 16 else "UINTEGER"


@dataclass(frozen=True)
class SensitiveCodes:
    """A sensitive attribute as coded in the base table."""

    label: str
    values: int  # distinct values, a missing value counted as one
    ordered: bool  # t-closeness by ordered distance (numbers) rather than equal distance

    @property
    def masked(self) -> bool:
        return self.values <= MASK_VALUES


@dataclass
class Prepared:
    """The base table of codes and, per quasi-identifier and level, how many labels and the mean loss."""

    con: duckdb.DuckDBPyConnection
    plan: Plan
    records: int
    codes: list[list[int]]  # labels per quasi-identifier and level (1 for the suppressed level)
    mean_loss: list[list[float]]  # average NCP of a record per quasi-identifier and level
    sensitive: list[SensitiveCodes]
    rollups: set[tuple[int, int, int]] = field(default_factory=set)  # (qi, finer level, coarser level)
    carry_key: bool = False  # the base table holds the record key as KEY
    threads: int | None = None  # DuckDB's threads setting before prepare lowered it, restored by drop()

    @property
    def qi(self) -> tuple[QuasiIdentifier, ...]:
        return self.plan.qi

    def column(self, i: int, j: int) -> str | None:
        """The code column of quasi-identifier ``i`` at its ``j``-th level; None when that level suppresses."""
        return None if self.qi[i].levels[j] == SUPPRESSED else f"q{i}_{j}"

    def labels(self, i: int) -> str:
        """The table of (level, code, label, ncp) of quasi-identifier ``i``."""
        return f"{PREFIX}l{i}"

    def ncp_sql(self, i: int, j: int, column: str) -> str:
        """The NCP of the code in ``column`` (quasi-identifier ``i`` at level ``j``)."""
        return f"list_extract((SELECT ncp FROM {NCP} WHERE qi = {i} AND level = {j}), {column} + 1)"

    def map_sql(self, i: int, lo: int, hi: int, column: str) -> str:
        """The code at level ``hi`` of the level-``lo`` code in ``column`` (a rollup in :attr:`rollups`)."""
        return f"list_extract((SELECT codes FROM {MAP} WHERE qi = {i} AND lo = {lo} AND hi = {hi}), {column} + 1)"

    def one_thread(self) -> None:
        """Run DuckDB on one thread until :meth:`drop` (a database-wide setting: threads is global in DuckDB)."""
        row = self.con.execute("SELECT current_setting('threads')").fetchone()
        threads = int(row[0]) if row else 1
        if threads > 1 and self.threads is None:
            self.con.execute("SET threads = 1")
            self.threads = threads

    def drop(self) -> None:
        """Drop every working table and restore the threads setting."""
        if self.threads is not None:
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"SET threads = {self.threads}")
            self.threads = None
        names = [BASE, NCP, MAP, VALUES, LABELS, LISTS, *(f"{PREFIX}d{i}" for i in range(len(self.qi))),
                 *(self.labels(i) for i in range(len(self.qi))),
                 *(f"{PREFIX}e{j}" for j in range(len(self.sensitive)))]
        for name in names:
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"DROP TABLE IF EXISTS {name}")


def _dictionary_sql(q: QuasiIdentifier, i: int, generaliser: Generaliser, source: str) -> str:
    levels = [(j, level) for j, level in enumerate(q.levels) if level != SUPPRESSED]
    cols = [f"{q.label_sql(generaliser, level, 'v')} AS l{j}" for j, level in levels]
    if q.interval:
        for j, level in levels:
            lo, hi = q.bounds_sql(generaliser, level, "v")
            cols += [f"{lo} AS lo{j}", f"{hi} AS hi{j}"]
        lo, hi = q.finest_bounds_sql(generaliser, "v")
        cols += [f"{lo} AS rlo", f"{hi} AS rhi"]
        dom = "SELECT count(v) AS d, min(rlo) AS lo, max(rhi) AS hi FROM g"
    else:
        dom = "SELECT count(v) AS d FROM g"
    out = ["g.v", "g.n"]
    for j, _ in levels:
        if q.interval:
            loss = (f"CASE WHEN g.l{j} IS NULL THEN 1.0 WHEN dom.hi <= dom.lo THEN 0.0 ELSE "
                    f"(least(g.hi{j}, dom.hi) - greatest(g.lo{j}, dom.lo)) / (dom.hi - dom.lo) END")
        else:
            loss = (f"CASE WHEN g.l{j} IS NULL THEN 1.0 WHEN dom.d <= 1 THEN 0.0 ELSE "
                    f"(count(g.v) OVER (PARTITION BY g.l{j}) - 1) / (dom.d - 1) END")
        out += [f"g.l{j}", f"dense_rank() OVER (ORDER BY g.l{j} NULLS FIRST) - 1 AS c{j}", f"{loss} AS x{j}"]
    return f"""
        CREATE OR REPLACE TEMP TABLE {PREFIX}d{i} AS
        WITH v AS (SELECT _v{i} AS v, n FROM {source}),
             g AS (SELECT v, n, {", ".join(cols)} FROM v),
             dom AS ({dom})
        SELECT {", ".join(out)} FROM g, dom"""


def prepare(dataset: Dataset, plan: Plan, generaliser: Generaliser, *, carry_key: bool = False) -> Prepared:
    """Build the base table of codes for ``plan`` on ``dataset`` (raises AnonymizeError on no records).

    ``carry_key`` keeps the dataset's record key in the base table as ``_jl_key`` (never released): the release
    ledger needs to know which record went into which released class. Up to ONE_THREAD_RECORDS records, DuckDB
    runs on one thread until :meth:`Prepared.drop`."""
    con = dataset.con
    cols = [f"{ident(q.column)} AS _v{i}" for i, q in enumerate(plan.qi)]
    cols += [f"{s.sql(generaliser)} AS _s{j}" for j, s in enumerate(plan.sensitive)]
    cols += [f"{ident(c)} AS _k{m}" for m, c in enumerate(plan.keep)]
    if carry_key:
        if not dataset.key:
            raise AnonymizeError(f"{dataset.name} has no record key to trace released records by")
        cols.append(f"CAST({ident(dataset.key)} AS VARCHAR) AS {KEY}")
    where = f" WHERE {plan.where}" if plan.where else ""
    source = f"(SELECT {', '.join(cols)} FROM {dataset.relation}{where})"
    try:
        row = con.execute(f"SELECT count(*) FROM {source}").fetchone()
    except duckdb.Error as exc:
        raise plan.policy.error([(("where",) if plan.where else ("quasi_identifiers",),
                                  f"DuckDB cannot read the records asked for: {exc}")]) from None
    records = int(row[0]) if row else 0
    if records == 0:
        raise AnonymizeError(f"no records to anonymise{' where ' + plan.where if plan.where else ''}")
    prepared = Prepared(con, plan, records, [], [], [], carry_key=carry_key)
    try:
        if records <= ONE_THREAD_RECORDS:
            prepared.one_thread()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {NCP} (qi INTEGER, level INTEGER, ncp DOUBLE[])")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {MAP} (qi INTEGER, lo INTEGER, hi INTEGER, codes INTEGER[])")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {LABELS} (qi INTEGER, level INTEGER, labels VARCHAR[])")
        _build(prepared, source, generaliser)
    except BaseException:
        prepared.drop()
        raise
    return prepared


def _build(p: Prepared, source: str, generaliser: Generaliser) -> None:
    con, plan = p.con, p.plan
    select: list[str] = []
    joins: list[str] = []
    # The distinct values of every attribute and their counts, in one scan of the records.
    names = [f"_v{i}" for i in range(len(plan.qi))] + [f"_s{j}" for j in range(len(plan.sensitive))]
    every = (1 << len(names)) - 1
    con.execute(f"CREATE OR REPLACE TEMP TABLE {VALUES} AS SELECT grouping_id({', '.join(names)}) AS g, "
                f"{', '.join(names)}, count(*) AS n FROM {source} "
                f"GROUP BY GROUPING SETS ({', '.join(f'({x})' for x in names)})")

    def counts_of(k: int) -> str:
        return f"(SELECT {names[k]}, n FROM {VALUES} WHERE g = {every - (1 << (len(names) - 1 - k))})"

    for i, q in enumerate(plan.qi):
        con.execute(_dictionary_sql(q, i, generaliser, counts_of(i)))
        levels = [j for j, level in enumerate(q.levels) if level != SUPPRESSED]
        stats = con.execute(f"SELECT {', '.join(f'max(c{j}) + 1, sum(n * x{j})' for j in levels)} "
                            f"FROM {PREFIX}d{i}").fetchone() if levels else ()
        assert stats is not None
        codes, loss = [], []
        for j, level in enumerate(q.levels):
            if level == SUPPRESSED:
                codes.append(1)
                loss.append(1.0)
            else:
                k = levels.index(j)
                codes.append(int(stats[2 * k]))
                loss.append(float(stats[2 * k + 1]) / p.records)
        p.codes.append(codes)
        p.mean_loss.append(loss)
        select += [f"d{i}.c{j}::{_code_type(codes[j])} AS q{i}_{j}" for j in levels]
        slim = ", ".join(["v", *(f"c{j}" for j in levels)])
        joins.append(f"LEFT JOIN (SELECT {slim} FROM {PREFIX}d{i}) d{i} ON src._v{i} IS NOT DISTINCT FROM d{i}.v")
        if plan.recoding != "local":  # the global release's labels (local recoding reads the LABELS lists)
            parts = [f"SELECT DISTINCT {j} AS level, c{j} AS code, l{j} AS label, x{j} AS ncp FROM {PREFIX}d{i}"
                     for j in levels] or ["SELECT 0 AS level, 0 AS code, CAST(NULL AS VARCHAR) AS label, 1.0 AS ncp"]
            con.execute(f"CREATE OR REPLACE TEMP TABLE {p.labels(i)} AS {' UNION ALL '.join(parts)}")
        _lists(p, i, levels)
    for j, s in enumerate(plan.sensitive):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {PREFIX}e{j} AS
                        SELECT v, n, dense_rank() OVER (ORDER BY v NULLS LAST) - 1 AS code
                        FROM (SELECT _s{j} AS v, n FROM {counts_of(len(plan.qi) + j)})""")
        row = con.execute(f"SELECT count(*) FROM {PREFIX}e{j}").fetchone()
        values = int(row[0]) if row else 0
        ordered = s.distance == "ordered" or (s.distance is None and is_numeric(con, source, f"_s{j}"))
        p.sensitive.append(SensitiveCodes(s.label, values, ordered))
        select.append(f"e{j}.code::{_code_type(values)} AS s{j}")
        joins.append(f"LEFT JOIN (SELECT v, code FROM {PREFIX}e{j}) e{j} ON src._s{j} IS NOT DISTINCT FROM e{j}.v")
    select.append(f"0::UTINYINT AS {ALL}")
    select += [f"src._s{j}" for j in range(len(plan.sensitive))]
    select += [f"src._k{m}" for m in range(len(plan.keep))]
    if p.carry_key:
        select.append(f"src.{KEY}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BASE} AS SELECT {', '.join(select)} "
                f"FROM {source} src {' '.join(joins)}")
    for i in range(len(plan.qi)):
        con.execute(f"DROP TABLE {PREFIX}d{i}")
    con.execute(f"DROP TABLE {VALUES}")


def _lists(p: Prepared, i: int, levels: list[int]) -> None:
    """Per level, each code's NCP as a list indexed by code; per pair of levels, the coarser code of each finer
    code where the hierarchy makes it a function (a class of the finer level then rolls up into the coarser)."""
    con, d = p.con, f"{PREFIX}d{i}"
    if not levels:
        return
    con.execute(f"INSERT INTO {NCP} " + " UNION ALL ".join(
        f"SELECT {i}, {j}, list(x ORDER BY c) FROM (SELECT DISTINCT c{j} AS c, x{j} AS x FROM {d})" for j in levels))
    con.execute(f"INSERT INTO {LABELS} " + " UNION ALL ".join(
        f"SELECT {i}, {j}, list(x ORDER BY c) FROM (SELECT DISTINCT c{j} AS c, l{j} AS x FROM {d})" for j in levels))
    pairs = list(itertools.combinations(levels, 2))
    if not pairs or p.plan.recoding == "local":  # only the lattice search rolls classes up
        return
    rows = con.execute(f"INSERT INTO {MAP} SELECT qi, lo, hi, codes FROM (" + " UNION ALL ".join(
        f"SELECT {i} AS qi, {a} AS lo, {b} AS hi, list(cb ORDER BY ca) AS codes, count(DISTINCT ca) = count(*) AS ok "
        f"FROM (SELECT DISTINCT c{a} AS ca, c{b} AS cb FROM {d})" for a, b in pairs)
        + ") WHERE ok RETURNING qi, lo, hi").fetchall()
    p.rollups.update((int(r[0]), int(r[1]), int(r[2])) for r in rows)
