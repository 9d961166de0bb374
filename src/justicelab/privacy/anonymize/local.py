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

Every class of the result meets k and distinct l by construction; the release is measured again afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.privacy.anonymize.prepare import BASE, LABELS, NCP, PREFIX, Prepared

KIDS = PREFIX + "kids"
SPLIT = PREFIX + "split"
WORK = PREFIX + "work"  # records of classes that may still split: rid, code columns, _K, _L<i>
FINAL = PREFIX + "final"  # records of classes that no longer split: rid, _K, _L<i>
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
        self.offsets = []
        self.strides = []
        stride = 1
        for i, codes in enumerate(prepared.codes):
            offsets = [sum(codes[:j]) for j in range(self.heights[i])]
            self.offsets.append(offsets)
            self.strides.append(stride)
            stride *= sum(codes)
        if stride >= 1 << 126:
            raise AnonymizeError("too many combinations of quasi-identifier labels to key a class (over 2^126)")
        self.key_type = "BIGINT" if stride < 1 << 62 else "HUGEINT"
        self.masks = self.l is not None and bool(prepared.sensitive)

    # -- SQL pieces ----------------------------------------------------------------------------------

    def _code(self, i: int, level: str, shift: int = 0) -> str:
        """The code of attribute ``i`` at level (``level`` SQL) - ``shift``; NULL below the finest level."""
        whens = []
        for j in range(shift, self.heights[i]):
            column = self.p.column(i, j - shift)
            whens.append(f"WHEN {j} THEN {column if column else 0}")
        return f"(CASE {level} {' '.join(whens)} END)"

    def key(self, levels: list[int] | None = None) -> str:
        """A record's class: its (level, code) per attribute, packed into one integer (at ``levels``, else at its
        _L<i> columns)."""
        terms = []
        for i in range(len(self.heights)):
            if levels is not None:
                j = levels[i]
                number = f"{self.offsets[i][j]} + {c if (c := self.p.column(i, j)) else 0}"
            else:
                number = "CASE _L{} {} END".format(i, " ".join(
                    f"WHEN {j} THEN {self.offsets[i][j]} + {c if (c := self.p.column(i, j)) else 0}"
                    for j in range(self.heights[i])))
            terms.append(f"({number})::{self.key_type} * {self.strides[i]}")
        return " + ".join(terms)

    def _valid(self, n: str, masks: list[str]) -> str:
        cond = [f"{n} >= {self.k}"] + [f"bit_count({m}) >= {self.l}" for m in masks]
        return "(" + " AND ".join(cond) + ")"

    # -- the rounds ----------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> LocalResult:
        started = time.perf_counter()
        con, p = self.p.con, self.p
        tops = [h - 1 for h in self.heights]
        codes = [c for i in range(len(self.heights)) for j in range(self.heights[i]) if (c := p.column(i, j))]
        sens = [f"s{j}" for j in range(len(p.sensitive))] if self.masks else []
        levels = [f"{t}::UTINYINT AS _L{i}" for i, t in enumerate(tops)]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {WORK} AS SELECT rowid AS rid, {', '.join(codes + sens + levels)}, "
                    f"{self.key(tops)} AS _K FROM {BASE}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {FINAL} AS SELECT rid, _K, "
                    f"{', '.join(f'_L{i}' for i in range(len(tops)))} FROM {WORK} LIMIT 0")
        if self._top_violates():
            raise AnonymizeError(f"local recoding: even one class of all {p.records} records misses k={self.k}"
                                 + (f", l={self.l}" if self.l else "") + "; no release meets the targets")
        open_ = [i for i, h in enumerate(self.heights) if h > 1]
        rounds = splits = 0
        while open_:
            rounds += 1
            self._kids(open_)
            self._decide()
            row = con.execute(f"SELECT count(DISTINCT key) FROM {SPLIT}").fetchone()
            done = int(row[0]) if row else 0
            if not done:
                break
            splits += done
            self._apply(open_)
            if progress:
                progress(rounds, rounds + 1)
        con.execute(f"INSERT INTO {FINAL} BY NAME SELECT rid, _K, {', '.join(f'_L{i}' for i in range(len(tops)))} "
                    f"FROM {WORK}")
        for name in (KIDS, SPLIT, WORK):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        ncp, dm, classes = self._loss()
        return LocalResult(rounds, splits, classes, ncp, dm, time.perf_counter() - started, self._shares())

    def _top_violates(self) -> bool:
        masks = [f"bit_or((1::UBIGINT) << s{j})" for j in range(len(self.p.sensitive))] if self.masks else []
        row = self.p.con.execute(f"SELECT NOT {self._valid('count(*)', masks)} FROM {WORK}").fetchone()
        return bool(row and row[0])

    def _kids(self, open_: list[int]) -> None:
        """Per class and attribute that can go finer: its children's sizes and sensitive masks."""
        m = len(open_)
        cols = ["_K AS key"] + [f"_L{i} AS l{i}" for i in open_] + [f"{self._code(i, f'_L{i}', 1)} AS c{i}"
                                                                    for i in open_]
        masks = [f"s{j}" for j in range(len(self.p.sensitive))] if self.masks else []
        sets = ", ".join(f"(key, l{i}, c{i})" for i in open_)
        which = " ".join(f"WHEN {(1 << m) - 1 - (1 << (m - 1 - x))} THEN {i}" for x, i in enumerate(open_))
        grouping = f"grouping_id({', '.join(f'c{i}' for i in open_)})"
        aggs = ["count(*) AS n"] + [f"bit_or((1::UBIGINT) << {s}) AS m{j}" for j, s in enumerate(masks)]
        self.p.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {KIDS} AS
            SELECT * FROM (
                SELECT CASE {grouping} {which} END AS q, key,
                       coalesce({", ".join(f"l{i}" for i in open_)}) AS lv,
                       coalesce({", ".join(f"c{i}" for i in open_)}) AS child, {", ".join(aggs)}
                FROM (SELECT {", ".join(cols + masks)} FROM {WORK})
                GROUP BY GROUPING SETS ({sets}))
            WHERE child IS NOT NULL""")

    def _decide(self) -> None:
        """Per class: the split-off children of the attribute whose split lowers NCP the most per class it adds,
        each with what its records' class key changes by."""
        nm = len(self.p.sensitive) if self.masks else 0
        masks = [f"m{j}" for j in range(nm)]

        def listed(values: Sequence[object]) -> str:
            return "[" + ", ".join(repr(v) for v in values) + "]"

        weights = listed([q.weight for q in self.p.qi])
        strides = listed(self.strides)
        totals = listed([sum(c) for c in self.p.codes])
        offsets = "[" + ", ".join(listed(list(o)) for o in self.offsets) + "]"
        parent = (f"((key // list_extract({strides}, q + 1)) % list_extract({totals}, q + 1) "
                  f"- list_extract(list_extract({offsets}, q + 1), lv + 1))")
        delta = (f"(list_extract(list_extract({offsets}, q + 1), lv) + child - "
                 f"list_extract(list_extract({offsets}, q + 1), lv + 1) - parent)::{self.key_type} "
                 f"* list_extract({strides}, q + 1)")
        rem_cols = ", ".join(["coalesce(sum(n) FILTER (WHERE NOT ok), 0) AS rn"]
                             + [f"coalesce(bit_or(m{j}) FILTER (WHERE NOT ok), 0::UBIGINT) AS rm{j}"
                                for j in range(nm)])
        window = "PARTITION BY k.q, k.key ORDER BY k.n, k.child ROWS UNBOUNDED PRECEDING"
        cum = ", ".join(["row_number() OVER w AS rk", "sum(k.n) OVER w AS cn"]
                        + [f"bit_or(k.m{j}) OVER w AS cm{j}" for j in range(nm)])
        rem_ok = self._valid("any_value(rn)", [f"any_value(rm{j})" for j in range(nm)])
        absorbed_ok = self._valid("rn + cn", [f"(rm{j} | cm{j})" for j in range(nm)])
        self.p.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {SPLIT} AS
            WITH kp AS (SELECT *, {parent} AS parent FROM {KIDS}),
            k AS (
                SELECT kp.*, {self._valid("n", masks)} AS ok, {delta} AS delta,
                       n * list_extract({weights}, q + 1) * (coalesce(list_extract(x.ncp, parent + 1), 1.0)
                                                             - coalesce(list_extract(y.ncp, child + 1), 1.0)) AS gain
                FROM kp
                LEFT JOIN {NCP} x ON x.qi = kp.q AND x.level = kp.lv
                LEFT JOIN {NCP} y ON y.qi = kp.q AND y.level = kp.lv - 1),
            rem AS (SELECT q, key, {rem_cols} FROM k GROUP BY q, key),
            v AS (SELECT k.q, k.key, k.child, k.gain, k.delta, rem.*, {cum}
                  FROM k JOIN rem USING (q, key) WHERE k.ok WINDOW w AS ({window})),
            cut AS (SELECT q, key, CASE WHEN any_value(rn) = 0 OR {rem_ok} THEN 0
                                        ELSE min(rk) FILTER (WHERE {absorbed_ok}) END AS t
                    FROM v GROUP BY q, key),
            off AS (SELECT v.q, v.key, v.child, v.gain, v.delta FROM v JOIN cut USING (q, key) WHERE v.rk > cut.t),
            best AS (SELECT q, key FROM (SELECT q, key, sum(gain) / count(*) AS g FROM off GROUP BY q, key
                                         HAVING sum(gain) > 1e-12)
                     QUALIFY row_number() OVER (PARTITION BY key ORDER BY g DESC, q) = 1)
            SELECT off.q, off.key, off.child, off.delta FROM off JOIN best USING (q, key)""")

    def _apply(self, open_: list[int]) -> None:
        """Classes that did not split are final; the split-off children of the others go one level finer."""
        con = self.p.con
        levels = ", ".join(f"_L{i}" for i in range(len(self.heights)))
        con.execute(f"INSERT INTO {FINAL} BY NAME SELECT rid, _K, {levels} FROM {WORK} w "
                    f"ANTI JOIN (SELECT DISTINCT key FROM {SPLIT}) s ON s.key = w._K")
        moved = ", ".join([f"w._L{i} - CASE WHEN sp.q = {i} THEN 1 ELSE 0 END AS _L{i}" for i in open_]
                          + ["w._K + coalesce(sp.delta, 0) AS _K"])
        child = "CASE c.q " + " ".join(f"WHEN {i} THEN {self._code(i, f'w._L{i}', 1)}" for i in open_) + " END"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {WORK}_next AS
            SELECT w.* REPLACE ({moved}) FROM {WORK} w
            JOIN (SELECT DISTINCT key, q FROM {SPLIT}) c ON c.key = w._K
            LEFT JOIN {SPLIT} sp ON sp.key = w._K AND sp.child = {child}""")
        con.execute(f"DROP TABLE {WORK}")
        con.execute(f"ALTER TABLE {WORK}_next RENAME TO {WORK.removeprefix('temp.')}")

    def _loss(self) -> tuple[float, float, int]:
        terms = []
        for i, q in enumerate(self.p.qi):
            whens = " ".join(
                f"WHEN {j} THEN {self.p.ncp_sql(i, j, c)}" if (c := self.p.column(i, j)) else f"WHEN {j} THEN 1.0"
                for j in range(self.heights[i]))
            terms.append(f"{q.weight!r} * (CASE _L{i} {whens} END)")
        total = sum(q.weight for q in self.p.qi)
        row = self.p.con.execute(f"""
            SELECT sum(loss) / ({self.p.records} * {total!r}), sum(n * n), count(*)
            FROM (SELECT f._K, count(*) AS n, sum({" + ".join(terms)}) AS loss
                  FROM {FINAL} f JOIN {BASE} b ON b.rowid = f.rid GROUP BY f._K)""").fetchone()
        assert row is not None
        return float(row[0]), float(row[1]), int(row[2])

    def _shares(self) -> dict[str, dict[str, float]]:
        cols = ", ".join(f"_L{i}" for i in range(len(self.heights)))
        rows = self.p.con.execute(f"SELECT {cols}, count(*) FROM {FINAL} GROUP BY ALL").fetchall()
        out: dict[str, dict[str, float]] = {}
        for i, q in enumerate(self.p.qi):
            shares: dict[str, float] = {}
            for r in rows:
                level = q.levels[int(r[i])]
                shares[level] = shares.get(level, 0.0) + int(r[-1]) / self.p.records
            out[q.label] = {lv: shares[lv] for lv in q.levels if lv in shares}
        return out

    def release_columns(self) -> list[str]:
        """SQL of each attribute's released label at its record's level (NULL where suppressed)."""
        out = []
        for i in range(len(self.p.qi)):
            whens = " ".join(
                f"WHEN {j} THEN list_extract((SELECT labels FROM {LABELS} WHERE qi = {i} AND level = {j}), {c} + 1)"
                if (c := self.p.column(i, j)) else f"WHEN {j} THEN CAST(NULL AS VARCHAR)"
                for j in range(self.heights[i]))
            out.append(f"(CASE _L{i} {whens} END)")
        return out

