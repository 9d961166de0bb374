"""Local recoding: each equivalence class generalised only as far as it must be, still by hierarchy labels only.

Top-down specialisation over the standard's hierarchies, in rounds of set-based DuckDB queries. Every record
starts at the coarsest level the policy allows for every quasi-identifier (one class, which meets k and l).
In each round, every class considers, for each quasi-identifier, splitting by that attribute's next finer
level: the children that meet k and l split off with the finer label; the others stay together under the
class's label (a remainder, which must itself meet the targets: if it does not, the smallest children join
it until it does). Each class takes the split that lowers NCP the most; rounds go on until no class can
split. A released value is therefore always a label of its attribute's hierarchy (a 5-year band in one class,
a 10-year band in another; a county, or its region for the counties too small to stand alone), never a list
of values, and no record is suppressed unless the whole table misses the targets.

A class is keyed by one integer packing, per attribute, the number of its (level, code): the level and code
of every attribute, its label and its loss are read back from the key, so a record's whole state is that key.
It is kept in a column of the base table and updated in place each round (only the records whose class split
off a child change), instead of copying the records into a new table every round; records of final classes
are marked and skipped. Every class of the result meets k and distinct l by construction; the release is
measured again afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.privacy.anonymize.prepare import BASE, LABELS, LISTS, NCP, PREFIX, Prepared

KIDS = PREFIX + "kids"
DECIDED = PREFIX + "decided"
NUMS = PREFIX + "nums"  # (q, num, ncp, label) of every (level, code) number of every attribute
PARENTS = PREFIX + "parents"  # per number that has children: their level's offset and column, and the key change
FINAL = PREFIX + "final"  # (_K, n, _r<i>): every released class, its size and labels (the release joins them)
CLS = "_jl_cls"  # base-table column: the record's class key (kept for the release to join FINAL by)
DONE = "_jl_done"  # base-table column: the record's class is final (both go with the base table)
FINISHED = 255  # DECIDED.q of a class that splits no more
#: A class's split-off children are a bit mask of their codes from the smallest when they span fewer codes.
MASK_BITS = 64
Progress = Callable[[int, int], None]


@dataclass
class LocalResult:
    """What local recoding did and the loss of its release."""

    rounds: int
    splits: int  # class splits applied
    classes: int
    ncp: float
    discernibility: float
    seconds: float
    level_shares: dict[str, dict[str, float]] = field(default_factory=dict)  # per attribute: level -> share


class LocalRecoder:
    """Runs local recoding on a prepared base table (k and distinct l; sensitive attributes as bit masks)."""

    def __init__(self, prepared: Prepared) -> None:
        self.p = prepared
        t = prepared.plan.targets
        if t.t is not None or (t.l is not None and t.l_kind == "entropy"):
            raise AnonymizeError("local recoding meets k and distinct l; use recoding: global for t-closeness "
                                 "or entropy l-diversity")
        self.k = t.k
        self.l = int(t.l) if t.l is not None else None
        if self.l is not None and not all(s.masked for s in prepared.sensitive):
            raise AnonymizeError("local recoding tracks sensitive values as bit masks of at most 64 values; "
                                 "use recoding: global for sensitive attributes with more values")
        self.heights = [len(q.levels) for q in prepared.qi]
        # (level, code) of attribute i is numbered offset[i][level] + code; a class key packs these numbers.
        self.offsets: list[list[int]] = []
        self.strides: list[int] = []
        self.totals = [sum(codes) for codes in prepared.codes]
        stride = 1
        for i, codes in enumerate(prepared.codes):
            self.offsets.append([sum(codes[:j]) for j in range(self.heights[i])])
            self.strides.append(stride)
            stride *= self.totals[i]
        if stride >= 1 << 126:
            raise AnonymizeError("too many combinations of quasi-identifier labels to key a class (over 2^126)")
        self.key_type = "BIGINT" if stride < 1 << 62 else "HUGEINT"
        # Every code column numbered, for the split attribute's column to be picked per class.
        coded = [(i, j) for i, h in enumerate(self.heights) for j in range(h) if prepared.column(i, j)]
        self.column_index = {ij: n for n, ij in enumerate(coded)}
        self.column_numbers = [(f"{prepared.column(i, j)}", n) for n, (i, j) in enumerate(coded)]
        self.masks = self.l is not None and bool(prepared.sensitive)

    # -- SQL pieces ----------------------------------------------------------------------------------

    def _num(self, i: int, key: str) -> str:
        """The number of attribute ``i``'s (level, code) in the class key ``key`` (SQL)."""
        shifted = f"({key} // {self.strides[i]})" if self.strides[i] > 1 else key
        return f"({shifted} % {self.totals[i]})::INTEGER"

    def _level(self, i: int, num: str) -> str:
        """The level of attribute ``i`` whose numbers hold ``num``."""
        whens = " ".join(f"WHEN {num} >= {self.offsets[i][j]} THEN {j}" for j in range(self.heights[i] - 1, 0, -1))
        return f"(CASE {whens} ELSE 0 END)" if whens else "0"

    def _child(self, i: int, num: str) -> str:
        """A record's code of attribute ``i`` one level finer than its class's (``num``); NULL at the finest."""
        whens = " ".join(f"WHEN {num} >= {self.offsets[i][j]} THEN {c if (c := self.p.column(i, j - 1)) else 0}"
                         for j in range(self.heights[i] - 1, 0, -1))
        return f"(CASE {whens} END)::INTEGER"

    def _key(self, levels: list[int]) -> str:
        """The class key of every record at ``levels``."""
        terms = [f"({self.offsets[i][j]} + {c if (c := self.p.column(i, j)) else 0})::{self.key_type} "
                 f"* {self.strides[i]}" for i, j in enumerate(levels)]
        return " + ".join(terms)

    def _valid(self, n: str, masks: list[str]) -> str:
        cond = [f"{n} >= {self.k}"] + [f"bit_count({m}) >= {self.l}" for m in masks]
        return "(" + " AND ".join(cond) + ")"

    def _listed(self, i: int, what: str, num: str) -> str:
        """The ncp or label of number ``num`` of attribute ``i``."""
        return f"list_extract((SELECT {what} FROM {LISTS} WHERE q = {i}), {num} + 1)"

    # -- the rounds ----------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> LocalResult:
        started = time.perf_counter()
        con = self.p.con
        try:
            return self._run(progress, started)
        finally:
            for name in (KIDS, DECIDED, NUMS, PARENTS):
                con.execute(f"DROP TABLE IF EXISTS {name}")

    def _run(self, progress: Progress | None, started: float) -> LocalResult:
        con, p = self.p.con, self.p
        self._tables()
        tops = [h - 1 for h in self.heights]
        con.execute(f"ALTER TABLE {BASE} ADD COLUMN IF NOT EXISTS {CLS} {self.key_type}")
        con.execute(f"ALTER TABLE {BASE} ADD COLUMN IF NOT EXISTS {DONE} BOOLEAN")
        con.execute(f"UPDATE {BASE} SET {CLS} = {self._key(tops)}, {DONE} = false")
        if self._top_violates():
            raise AnonymizeError(f"local recoding: even one class of all {p.records} records misses k={self.k}"
                                 + (f", l={self.l}" if self.l else "") + "; no release meets the targets")
        open_ = [i for i, h in enumerate(self.heights) if h > 1]
        rounds = splits = 0
        while open_:
            rounds += 1
            # (Not prepared once: DuckDB's prepared plans keep the column statistics of when they were planned.)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {KIDS} AS {self._kids_sql(open_)}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {DECIDED} AS {self._decide_sql()}")
            # An attribute none of whose classes could go finer this round never can again: no class grows coarser.
            row = con.execute(f"SELECT count(*) FILTER (WHERE q <> {FINISHED}), count(kids), "
                              f"(SELECT list(DISTINCT q) FROM {KIDS}) FROM {DECIDED}").fetchone()
            done, wide = (int(row[0]), int(row[1])) if row else (0, 0)
            if not done:
                break
            open_ = [i for i in open_ if row is not None and i in row[2]]
            splits += done
            for sql in self._apply_sql():
                con.execute(sql)
            if wide:
                con.execute(self._wide_sql())
            if progress:
                progress(rounds, rounds + 1)
        # Each class's released labels, read from its key once per class: the release joins records by key.
        labels = ", ".join(f"{self._listed(i, 'labels', self._num(i, '_K'))} AS _r{i}" for i in range(len(p.qi)))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {FINAL} AS SELECT _K, n, {labels} "
                    f"FROM (SELECT {CLS} AS _K, count(*) AS n FROM {BASE} GROUP BY ALL)")
        ncp, dm, classes = self._loss()
        return LocalResult(rounds, splits, classes, ncp, dm, time.perf_counter() - started, self._shares())

    def _tables(self) -> None:
        """The loss and label of every (level, code) number of every attribute (a suppressed level: 1.0, NULL),
        as rows and as lists, and per number of a level that has a finer one what splitting it needs."""
        con, parts, levels = self.p.con, [], []
        for i, q in enumerate(self.p.qi):
            for j in range(self.heights[i]):
                if self.p.column(i, j) is None:
                    parts.append(f"SELECT {i} AS q, {self.offsets[i][j]} AS num, 1.0::DOUBLE AS ncp, "
                                 "NULL::VARCHAR AS label")
                else:
                    parts.append(f"SELECT {i} AS q, {self.offsets[i][j]} + generate_subscripts(n.ncp, 1) - 1 AS num, "
                                 f"unnest(n.ncp) AS ncp, unnest(l.labels) AS label FROM {NCP} n JOIN {LABELS} l "
                                 f"USING (qi, level) WHERE qi = {i} AND level = {j}")
                if j:  # its children are codes of level j - 1, in that level's code column
                    first = self.offsets[i][j]
                    levels.append(f"({i}, {first}, {first + self.p.codes[i][j] - 1}, {self.offsets[i][j - 1]}, "
                                  f"{self.column_index[(i, j - 1)]}, {self.strides[i]}, {q.weight!r})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {NUMS} AS {' UNION ALL '.join(parts)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {LISTS} AS SELECT q, list(ncp ORDER BY num) AS ncp, "
                    f"list(label ORDER BY num) AS labels FROM {NUMS} GROUP BY q")
        # base: what the class key gains when a record goes from parent number num to child code 0 of level below.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {PARENTS} AS
            SELECT n.q, n.num, n.ncp, l.below, l.col, l.stride::{self.key_type} AS stride,
                   ((l.below - n.num)::{self.key_type}) * l.stride AS base, l.weight
            FROM {NUMS} n JOIN (VALUES {", ".join(levels) or "(-1, 0, 0, 0, 0, 0, 0.0)"})
                               l(q, first, last, below, col, stride, weight)
              ON n.q = l.q AND n.num BETWEEN l.first AND l.last""")

    def _top_violates(self) -> bool:
        masks = [f"bit_or((1::UBIGINT) << s{j})" for j in range(len(self.p.sensitive))] if self.masks else []
        row = self.p.con.execute(f"SELECT NOT {self._valid('count(*)', masks)} FROM {BASE}").fetchone()
        return bool(row and row[0])

    def _kids_sql(self, open_: list[int]) -> str:
        """Per class still splitting and attribute that can go finer: its children's sizes and sensitive masks."""
        m = len(open_)
        masks = [f"s{j}" for j in range(len(self.p.sensitive))] if self.masks else []
        nums = [f"{self._num(i, CLS)} AS n{i}" for i in open_]
        nums += [c for i in open_ for j in range(self.heights[i] - 1) if (c := self.p.column(i, j))]
        cols = ["key"] + [f"{self._child(i, f'n{i}')} AS c{i}" for i in open_]
        sets = ", ".join(f"(key, c{i})" for i in open_)
        which = " ".join(f"WHEN {(1 << m) - 1 - (1 << (m - 1 - x))} THEN {i}" for x, i in enumerate(open_))
        grouping = f"grouping_id({', '.join(f'c{i}' for i in open_)})"
        aggs = ["count(*) AS n"] + [f"bit_or((1::UBIGINT) << {s}) AS m{j}" for j, s in enumerate(masks)]
        parent = "CASE q " + " ".join(f"WHEN {i} THEN {self._num(i, 'key')}" for i in open_) + " END"
        kept = [f"k.m{j}" for j in range(len(masks))]
        # With each child: whether it meets the targets, the loss it saves by splitting off, and what the update
        # needs (its code column, and what its records' class key becomes: code * stride + base).
        return f"""
            SELECT k.q, k.key, k.child, k.n, {"".join(f"{m}, " for m in kept)}{self._valid("k.n", kept)} AS ok,
                   k.n * p.weight * (p.ncp - coalesce(c.ncp, 1.0)) AS gain, p.col, p.stride, p.base
            FROM (SELECT q, key, {parent} AS pn, child, {", ".join(a.split(" AS ")[1] for a in aggs)} FROM (
                    SELECT CASE {grouping} {which} END AS q, key,
                           coalesce({", ".join(f"c{i}" for i in open_)}) AS child, {", ".join(aggs)}
                    FROM (SELECT {", ".join(cols + masks)}
                          FROM (SELECT {CLS} AS key, {", ".join(nums + masks)} FROM {BASE} WHERE NOT {DONE}))
                    GROUP BY GROUPING SETS ({sets}))
                  WHERE child IS NOT NULL) k
            JOIN {PARENTS} p ON p.q = k.q AND p.num = k.pn
            LEFT JOIN {NUMS} c ON c.q = k.q AND c.num = p.below + k.child"""

    def _decide_sql(self) -> str:
        """Per class: the attribute whose split lowers NCP the most per class it adds, and its children that split
        off (a bit mask of their codes from the attribute's smallest child code in the class, or a list when they
        span MASK_BITS codes or more); FINISHED when it splits no more.

        Per class and attribute, the children that meet the targets split off and the others form the
        remainder; when the remainder misses them, the smallest children (by size, then code) join it until it
        meets them (none split if it never does)."""
        nm = len(self.p.sensitive) if self.masks else 0
        masks = [f"m{j}" for j in range(nm)]
        rem = ", ".join(["coalesce(sum(n) FILTER (WHERE NOT ok), 0) AS rn", "min(child) AS lo"]
                        + [f"coalesce(bit_or(m{j}) FILTER (WHERE NOT ok), 0::UBIGINT) AS rm{j}" for j in range(nm)])
        absorbed = ", ".join(["count(*) AS rk", "sum(y.n) AS cn"] + [f"bit_or(y.m{j}) AS cm{j}" for j in range(nm)]
                             + [f"any_value(x.{c}) AS {c}" for c in ["gain", "lo", "col", "stride", "base", "rn"]
                                + [f"rm{j}" for j in range(nm)]])
        # The remainder takes the smallest children while it misses the targets: for the classes whose
        # remainder needs them, each child's running totals by a self-join (DuckDB's windows are slow on many
        # small partitions).
        return f"""
            WITH g AS (SELECT q, key, {rem} FROM {KIDS} GROUP BY q, key),
            kg AS (SELECT k.*, g.* EXCLUDE (q, key),
                          g.rn = 0 OR {self._valid("g.rn", [f"g.r{m}" for m in masks])} AS fine
                   FROM {KIDS} k JOIN g USING (q, key) WHERE k.ok),
            cum AS (SELECT x.q, x.key, x.child, {absorbed}
                    FROM kg x JOIN kg y
                      ON y.q = x.q AND y.key = x.key AND (y.n < x.n OR y.n = x.n AND y.child <= x.child)
                    WHERE NOT x.fine AND NOT y.fine GROUP BY x.q, x.key, x.child),
            cut AS (SELECT q, key, min(rk) FILTER (WHERE {self._valid("rn + cn", [f"(r{m} | c{m})" for m in masks])})
                           AS t FROM cum GROUP BY q, key),
            off AS (SELECT q, key, child, gain, lo, col, stride, base FROM kg WHERE fine
                    UNION ALL
                    SELECT c.q, c.key, c.child, c.gain, c.lo, c.col, c.stride, c.base FROM cum c JOIN cut USING (q, key)
                    WHERE c.rk > cut.t),
            opt AS (SELECT q, key, sum(gain) / count(*) AS g, any_value(lo) AS lo, any_value(col) AS col,
                           any_value(stride) AS stride, any_value(base) AS base, max(child) - any_value(lo) AS span,
                           bit_or((1::UBIGINT) << (child - lo)) AS bits, list(child) AS kids
                    FROM off GROUP BY q, key HAVING sum(gain) > 1e-12
                    QUALIFY row_number() OVER (PARTITION BY key ORDER BY g DESC, q) = 1)
            SELECT c.key, coalesce(o.q, {FINISHED})::UTINYINT AS q, o.lo, o.col, o.stride, o.base,
                   CASE WHEN o.span < {MASK_BITS} THEN o.bits END AS bits,
                   CASE WHEN o.span >= {MASK_BITS} THEN o.kids END AS kids
            FROM (SELECT DISTINCT key FROM {KIDS}) c LEFT JOIN opt o USING (key)"""

    def _child_code(self, d: str) -> str:
        """A record's code in the code column numbered ``{d}.col``."""
        return f"(CASE {d}.col {' '.join(f'WHEN {n} THEN {c}' for c, n in self.column_numbers)} END)"

    def _apply_sql(self) -> list[str]:
        """Classes that did not split are final; records of the split-off children go one level finer (the
        remainder's records stay as they are). Two statements: one condition with OR costs more than both."""
        cls, child = f"{BASE}.{CLS}", self._child_code("d")
        return [f"UPDATE {BASE} SET {DONE} = true FROM {DECIDED} d "
                f"WHERE d.key = {cls} AND NOT {BASE}.{DONE} AND d.q = {FINISHED}",
                f"""UPDATE {BASE} SET {CLS} = {cls} + {child} * d.stride + d.base FROM {DECIDED} d
                    WHERE d.key = {cls} AND NOT {BASE}.{DONE} AND (d.bits >> ({child} - d.lo)) & 1 = 1"""]

    def _wide_sql(self) -> str:
        """The split-off children of classes whose children span too many codes for a bit mask."""
        cls = f"{BASE}.{CLS}"
        return f"""
            UPDATE {BASE} SET {CLS} = {cls} + s.child * s.stride + s.base
            FROM (SELECT key, col, stride, base, unnest(kids) AS child FROM {DECIDED} WHERE kids IS NOT NULL) s
            WHERE s.key = {cls} AND s.child = {self._child_code("s")}"""

    def _loss(self) -> tuple[float, float, int]:
        """NCP, discernibility and number of the released classes: every record of a class has its labels."""
        attrs = range(len(self.heights))
        loss = " + ".join(f"{q.weight!r} * coalesce({self._listed(i, 'ncp', self._num(i, '_K'))}, 1.0)"
                          for i, q in zip(attrs, self.p.qi, strict=True))
        total = sum(q.weight for q in self.p.qi)
        row = self.p.con.execute(f"SELECT sum(n * ({loss})) / ({self.p.records} * {total!r}), sum(n * n), count(*) "
                                 f"FROM {FINAL}").fetchone()
        assert row is not None
        return float(row[0]), float(row[1]), int(row[2])

    def _shares(self) -> dict[str, dict[str, float]]:
        parts = " UNION ALL ".join(f"SELECT {i} AS q, {self._level(i, self._num(i, '_K'))} AS lv, n FROM {FINAL}"
                                   for i in range(len(self.heights)))
        rows = self.p.con.execute(f"SELECT q, lv, sum(n) FROM ({parts}) GROUP BY ALL").fetchall()
        out: dict[str, dict[str, float]] = {}
        for i, q in enumerate(self.p.qi):
            shares = {q.levels[int(lv)]: int(n) / self.p.records for qi, lv, n in rows if qi == i}
            out[q.label] = {lv: shares[lv] for lv in q.levels if lv in shares}
        return out

    def release_columns(self) -> list[str]:
        """SQL of each attribute's released label (NULL where suppressed), a column of the final table ``f``."""
        return [f"f._r{i}" for i in range(len(self.p.qi))]
