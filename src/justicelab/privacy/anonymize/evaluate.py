"""One node of the lattice, evaluated by one GROUP BY in DuckDB: which classes violate the targets, how many
records local suppression removes, and the information loss of the result.

A class violates the targets when it has fewer than k records, fewer than l distinct sensitive values (or
entropy below log l), or, with t, a sensitive distribution farther than t from the released table's. Its
records are suppressed (left out of the release). For t the released table is what remains, so classes are
checked against the distribution of the records kept, repeatedly, until no class violates (at most a few
rounds: every round only removes classes).

Information loss of a node, over all N input records and the quasi-identifiers' weights w:

* NCP = Σ_records Σ_q w_q·ncp_q / (N·Σw), where ncp_q is the loss of the record's label at the node's level
  (see :mod:`.attributes`) and a suppressed record loses everything (1 per quasi-identifier);
* discernibility = Σ over released classes of size² + suppressed × N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.privacy.anonymize.prepare import ALL, BASE, PREFIX, Prepared

Node = tuple[int, ...]
CELLS = PREFIX + "cells"
CLASSES = PREFIX + "cls"
EPS = 1e-9


@dataclass(frozen=True)
class NodeResult:
    """What a node gives: suppressed records, whether it meets the targets, and its information loss."""

    node: Node
    suppressed: int
    feasible: bool
    classes: int  # released equivalence classes
    ncp: float | None = None  # computed for feasible nodes
    discernibility: float | None = None

    def loss(self, metric: str) -> float:
        value = self.ncp if metric == "ncp" else self.discernibility
        assert value is not None, "loss of an infeasible node"
        return value


class Evaluator:
    """Evaluates nodes over a prepared base table, rolling coarser nodes up from smaller class tables.

    Under k and distinct l a node's classes can be computed from any finer node's classes (counts add up,
    the sets of sensitive values, kept as bit masks, unite): small class tables are kept and a later node is
    grouped from the smallest one it can be reached from instead of from every record, as Flash does.
    """

    def __init__(self, prepared: Prepared, rollup: bool = True) -> None:
        self.p = prepared
        t = prepared.plan.targets
        self.targets = t
        self.max_suppressed = math.floor(t.max_suppression * prepared.records + EPS)
        self.with_cells = t.t is not None or (t.l is not None and t.l_kind == "entropy")
        # Suppression only grows towards finer nodes for k and distinct l (a class that violates them is made of
        # classes that all do); entropy l and t (against the kept records) lose that property with suppression.
        self.monotone = self.max_suppressed == 0 or not self.with_cells
        self.distinct = t.l is not None and t.l_kind == "distinct"
        self.rollup = rollup and not self.with_cells and not (
            self.distinct and not all(s.masked for s in prepared.sensitive))
        self.weights = [q.weight for q in prepared.qi]
        self.cuboids: dict[Node, tuple[str, int]] = {}  # node -> (table of its classes, rows)
        self.evaluations = 0
        self._tables = 0

    # -- SQL pieces ----------------------------------------------------------------------------------

    def keys(self, node: Node) -> list[str]:
        """The code columns a node groups by (a constant column when every attribute is suppressed)."""
        cols = [c for i, j in enumerate(node) if (c := self.p.column(i, j)) is not None]
        return cols or [ALL]

    def _violates(self, grouped: bool) -> str:
        """A class's violation of k and distinct l: over base rows (aggregates) or over grouped classes."""
        t = self.targets
        parts = [f"n < {t.k}" if grouped else f"count(*) < {t.k}"]
        if self.distinct:
            assert t.l is not None
            for j, s in enumerate(self.p.sensitive):
                if grouped:
                    distinct = f"bit_count(m{j})" if s.masked else f"l{j}"
                else:
                    distinct = f"bit_count(bit_or((1::UBIGINT) << s{j}))" if s.masked else f"count(DISTINCT s{j})"
                parts.append(f"{distinct} < {int(t.l)}")
        return " OR ".join(parts)

    def _reaches(self, i: int, lo: int, hi: int) -> bool:
        return lo == hi or self.p.column(i, hi) is None or (i, lo, hi) in self.p.rollups

    def _source(self, node: Node) -> tuple[Node, str] | None:
        """The smallest kept class table the node rolls up from."""
        best: tuple[int, Node, str] | None = None
        for finer, (table, rows) in self.cuboids.items():
            if (best is None or rows < best[0]) and all(
                    self._reaches(i, a, b) for i, (a, b) in enumerate(zip(finer, node, strict=True))):
                best = (rows, finer, table)
        return None if best is None else (best[1], best[2])

    def grouped(self, node: Node) -> tuple[str, bool]:
        """SQL of the node's classes (code columns, n, and per sensitive attribute its bit mask or distinct
        count), and whether it rolls up from a kept class table."""
        masks = [f"m{j}" if s.masked else f"l{j}" for j, s in enumerate(self.p.sensitive)] if self.distinct else []
        source = self._source(node) if self.rollup else None
        if source is None:
            keys = ", ".join(self.keys(node))
            aggs = ["count(*) AS n"] + [
                f"bit_or((1::UBIGINT) << s{j}) AS m{j}" if m.startswith("m") else f"count(DISTINCT s{j}) AS l{j}"
                for j, m in enumerate(masks)]
            return f"SELECT {keys}, {', '.join(aggs)} FROM {BASE} GROUP BY {keys}", False
        finer, table = source
        cols = []
        for i, (a, b) in enumerate(zip(finer, node, strict=True)):
            column = self.p.column(i, b)
            if column is not None:
                lower = self.p.column(i, a)
                assert lower is not None
                cols.append(column if a == b else f"{self.p.map_sql(i, a, b, lower)} AS {column}")
        cols = cols or [f"0::UTINYINT AS {ALL}"]
        aggs = ["sum(n) AS n"] + [f"bit_or({m}) AS {m}" for m in masks]
        return f"SELECT {', '.join(cols)}, {', '.join(aggs)} FROM {table} GROUP BY ALL", True

    def _loss_of_suppressed(self, node: Node, classes: str) -> float:
        """Σ over suppressed records of Σ_q w_q (1 - ncp_q): what suppression adds to the generalisation loss.
        ``classes`` is a relation of the node's classes with a boolean ``bad``."""
        terms = []
        for i, j in enumerate(node):
            column = self.p.column(i, j)
            if column is not None:
                terms.append(f"{self.weights[i]!r} * (1 - {self.p.ncp_sql(i, j, column)})")
        if not terms:
            return 0.0
        row = self.p.con.execute(f"SELECT coalesce(sum(n * ({' + '.join(terms)})), 0) FROM {classes} "
                                 "WHERE bad").fetchone()
        return float(row[0]) if row else 0.0

    def lower_bound_ncp(self, node: Node) -> float:
        """NCP of the node's generalisation alone (no suppression): a lower bound of its NCP."""
        total = sum(w * self.p.mean_loss[i][j] for i, (w, j) in enumerate(zip(self.weights, node, strict=True)))
        return total / sum(self.weights)

    # -- evaluation ----------------------------------------------------------------------------------

    def evaluate(self, node: Node) -> NodeResult:
        """Suppressed records and, when the node meets the targets, its NCP and discernibility."""
        self.evaluations += 1
        con = self.p.con
        if self.with_cells:
            self.materialise(node)
            classes = CLASSES
        else:
            sql, rolled = self.grouped(node)
            bound = math.prod(self.p.codes[i][j] for i, j in enumerate(node))
            keep = None
            if node in self.cuboids:
                sql = f"SELECT * FROM {self.cuboids[node][0]}"
            elif self.rollup and (rolled or bound <= self.p.records // 2):
                self._tables += 1
                keep = f"{PREFIX}cub{self._tables}"
                con.execute(f"CREATE OR REPLACE TEMP TABLE {keep} AS {sql}")
                sql = f"SELECT * FROM {keep}"
            classes = f"(SELECT *, ({self._violates(grouped=True)}) AS bad FROM ({sql}))"
        row = con.execute(f"""
            SELECT count(*) FILTER (WHERE NOT bad), coalesce(sum(n) FILTER (WHERE bad), 0),
                   coalesce(sum(n * n) FILTER (WHERE NOT bad), 0), count(*) FROM {classes}""").fetchone()
        assert row is not None
        released, suppressed, squares = int(row[0]), int(row[1]), float(row[2])
        if not self.with_cells and keep is not None:
            self.cuboids[node] = (keep, int(row[3]))
        n = self.p.records
        if suppressed > self.max_suppressed or suppressed >= n:
            return NodeResult(node, suppressed, False, released)
        extra = self._loss_of_suppressed(node, classes) if suppressed else 0.0
        ncp = self.lower_bound_ncp(node) + extra / (n * sum(self.weights))
        return NodeResult(node, suppressed, True, released, ncp, squares + suppressed * n)

    def drop(self) -> None:
        """Drop the kept class tables."""
        for table, _ in self.cuboids.values():
            self.p.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.cuboids.clear()

    def materialise(self, node: Node) -> None:
        """Leave the node's classes in a table (its code columns, n, bad): the output is made from it."""
        con = self.p.con
        keys = self.keys(node)
        cols = ", ".join(keys)
        if not self.with_cells:
            sql, _ = self.grouped(node)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {CLASSES} AS SELECT *, ({self._violates(grouped=True)}) "
                        f"AS bad FROM ({sql})")
            return
        t = self.targets
        sens = [f"s{j}" for j in range(len(self.p.sensitive))]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CELLS} AS SELECT {cols}, {', '.join(sens)}, "
                    f"count(*) AS c FROM {BASE} GROUP BY ALL")
        using = f"USING ({cols})"
        ctes = [f"n AS (SELECT {cols}, sum(c) AS n FROM {CELLS} GROUP BY ALL)"]
        conds = [f"n.n < {t.k}"]
        joins = []
        for j in range(len(sens)):
            ctes.append(f"""a{j} AS (SELECT {cols}, count(*) AS l, -sum(c / n * ln(c / n)) AS h
                            FROM (SELECT {cols}, s{j} AS v, sum(c) AS c FROM {CELLS} GROUP BY ALL) JOIN n {using}
                            GROUP BY ALL)""")
            joins.append(f"JOIN a{j} {using}")
            if t.l is not None:
                conds.append(f"a{j}.l < {int(t.l)}" if t.l_kind == "distinct"
                             else f"a{j}.h < {math.log(t.l)!r} - {EPS}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CLASSES} AS WITH {', '.join(ctes)} "
                    f"SELECT n.*, ({' OR '.join(conds)}) AS bad FROM n {' '.join(joins)}")
        if t.t is not None:
            self._close_in(t.t, keys)

    def _close_in(self, limit: float, keys: list[str]) -> None:
        """Suppress classes farther than ``limit`` from the kept records' distribution until none is."""
        cols = ", ".join(keys)
        match = " AND ".join(f"{CLASSES}.{c} = far.{c}" for c in keys)
        for _ in range(1000):
            changed = 0
            for j, s in enumerate(self.p.sensitive):
                far = self._distance_sql(j, s.ordered, cols)
                row = self.p.con.execute(f"UPDATE {CLASSES} SET bad = TRUE FROM ({far}) far WHERE NOT {CLASSES}.bad "
                                         f"AND far.t > {limit!r} + {EPS} AND {match}").fetchone()
                changed += int(row[0]) if row else 0
            if not changed:
                return
        raise AnonymizeError("t-closeness: the suppression of distant classes did not settle")

    def _distance_sql(self, j: int, ordered: bool, cols: str) -> str:
        """Per kept class: the EMD of sensitive attribute ``j`` from the kept records' distribution."""
        kept = f"""kept AS (SELECT {cols}, cj.v, cj.c, k.n FROM
                       (SELECT {cols}, s{j} AS v, sum(c) AS c FROM {CELLS} GROUP BY ALL) cj
                       JOIN {CLASSES} k USING ({cols}) WHERE NOT k.bad)"""
        if not ordered:
            return f"""WITH {kept},
                p AS (SELECT v, sum(c) / sum(sum(c)) OVER () AS p FROM kept GROUP BY v)
                SELECT {cols}, 0.5 * (sum(abs(kept.c / kept.n - p.p)) + 1 - sum(p.p)) AS t
                FROM kept JOIN p USING (v) GROUP BY ALL"""
        return f"""WITH {kept},
            ranks AS (SELECT v, row_number() OVER (ORDER BY v) AS r, count(*) OVER () AS m,
                             sum(c) OVER (ORDER BY v) / sum(c) OVER () AS cp
                      FROM (SELECT v, sum(c) AS c FROM kept GROUP BY v)),
            grid AS (SELECT k.*, ranks.r, ranks.m, ranks.cp, coalesce(kept.c, 0) AS c
                     FROM (SELECT {cols}, n FROM {CLASSES} WHERE NOT bad) k CROSS JOIN ranks
                     LEFT JOIN kept USING ({cols}, v)),
            cum AS (SELECT {cols}, r, m, cp, sum(c) OVER (PARTITION BY {cols} ORDER BY r) / n AS cq FROM grid)
            SELECT {cols}, CASE WHEN max(m) <= 1 THEN 0.0
                               ELSE coalesce(sum(abs(cq - cp)) FILTER (WHERE r < m), 0) / (max(m) - 1) END AS t
            FROM cum GROUP BY ALL"""
