"""Disclosure-risk measures as DuckDB SQL over any relation: k-anonymity, l-diversity, t-closeness, risk models.

Every function takes a DuckDB connection, a relation (a table or view name, or a parenthesised query) and
the names of its quasi-identifier and sensitive columns, and runs group-bys inside DuckDB, so a table of
millions of rows never passes through Python. Definitions follow pycanon (the test oracle):

* an equivalence class is a set of records with equal quasi-identifiers; a missing value (NULL) is one
  more value (a suppressed field groups with the other suppressed ones);
* distinct l-diversity: the fewest distinct sensitive values in a class; entropy l-diversity:
  exp(lowest class entropy) (pycanon reports its integer part); a missing sensitive value counts as a value;
* t-closeness: the largest Earth Mover's Distance between a class's sensitive distribution and the whole
  table's: ordered distance (1/(m-1) Σ|cumulative difference| over the m distinct values in order) for
  numeric or ordinal attributes, equal distance (½ Σ|difference|) for categorical ones;
* with several sensitive attributes, l is the smallest over attributes and t the largest (pycanon ``gen``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import duckdb

from justicelab.errors import JusticelabError
from justicelab.ingest.sql import ident

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


class RiskError(JusticelabError):
    """A risk measurement that cannot be made as asked (unknown column, no records, bad population file)."""


@dataclass(frozen=True)
class SensitiveMeasure:
    """Diversity of one sensitive attribute across the equivalence classes."""

    attribute: str
    distinct_values: int
    l_diversity: int
    entropy_l_diversity: float
    t_closeness: float
    distance: str  # "ordered" or "equal"


@dataclass(frozen=True)
class ClassSummary:
    """The equivalence classes of a table on its quasi-identifiers."""

    records: int
    classes: int
    k: int
    unique_records: int
    sizes: tuple[tuple[int, int], ...]  # (class size, number of classes), smallest first

    @property
    def sample_uniqueness(self) -> float:
        """Share of records alone in their class (unique on the quasi-identifiers)."""
        return self.unique_records / self.records

    def records_below(self, size: int) -> int:
        """Records in classes smaller than ``size``."""
        return sum(s * n for s, n in self.sizes if s < size)


def _cols(qi: Sequence[str]) -> str:
    if not qi:
        raise RiskError("at least one quasi-identifier is needed")
    return ", ".join(ident(c) for c in qi)


def class_summary(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str]) -> ClassSummary:
    """Sizes of the equivalence classes on ``qi``: k, the number of classes and the size distribution."""
    cols = _cols(qi)
    rows = con.execute(f"""
        SELECT n, count(*) AS classes FROM (SELECT count(*) AS n FROM {relation} GROUP BY {cols})
        GROUP BY n ORDER BY n
    """).fetchall()
    if not rows:
        raise RiskError(f"{relation} has no records to measure")
    sizes = tuple((int(n), int(c)) for n, c in rows)
    return ClassSummary(
        records=sum(n * c for n, c in sizes),
        classes=sum(c for _, c in sizes),
        k=sizes[0][0],
        unique_records=sum(c for n, c in sizes if n == 1),
        sizes=sizes,
    )


def k_anonymity(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str]) -> int:
    """k: the size of the smallest equivalence class (pycanon ``k_anonymity``)."""
    return class_summary(con, relation, qi).k


def is_numeric(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> bool:
    """Whether ``column`` of ``relation`` has a numeric type (its t-closeness then uses ordered distance)."""
    rows = con.execute(f"DESCRIBE SELECT {ident(column)} FROM {relation}").fetchall()
    return str(rows[0][1]).upper().split("(")[0] in NUMERIC_TYPES


def _keys(qi: Sequence[str]) -> str:
    """Internal names of the quasi-identifier columns (so no column of the user's can clash with ours)."""
    _cols(qi)
    return ", ".join(f"_q{i}" for i in range(len(qi)))


def _cells(relation: str, qi: Sequence[str], attribute: str) -> str:
    """Per class and sensitive value: its count c, the class size n, the value's total cv and rank r."""
    keys = _keys(qi)
    renamed = ", ".join(f"{ident(c)} AS _q{i}" for i, c in enumerate(qi))
    same_class = " AND ".join(f"x._q{i} IS NOT DISTINCT FROM k._q{i}" for i in range(len(qi)))
    # Class sizes and value totals by aggregates joined back (hash joins), not by windows partitioned over
    # the quasi-identifiers, which sort every cell.
    return f"""
        cells AS (SELECT {renamed}, {ident(attribute)} AS v, count(*) AS c FROM {relation} GROUP BY ALL),
        sizes AS (SELECT {keys}, sum(c) AS n FROM cells GROUP BY ALL),
        value_totals AS (SELECT v, sum(c) AS cv, dense_rank() OVER (ORDER BY v NULLS LAST) AS r FROM cells GROUP BY v),
        ec AS (SELECT x.*, k.n, w.cv, w.r
               FROM cells x JOIN sizes k ON {same_class} JOIN value_totals w ON x.v IS NOT DISTINCT FROM w.v),
        total AS (SELECT sum(c) AS big_n, max(r) AS m FROM ec)"""


def sensitive_measure(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str], attribute: str,
                      ordered: bool | None = None) -> SensitiveMeasure:
    """Distinct and entropy l-diversity and t-closeness of one sensitive attribute.

    ``ordered`` chooses the EMD ground distance: ordered (values in their sort order) or equal; by default
    ordered for numeric columns, as pycanon does.
    """
    if ordered is None:
        ordered = is_numeric(con, relation, attribute)
    cols = _keys(qi)
    row = con.execute(f"""
        WITH {_cells(relation, qi, attribute)},
        per_class AS (
            SELECT count(*) AS l, -sum(c / n * ln(c / n)) AS h,
                   0.5 * (sum(abs(c / n - cv / (SELECT big_n FROM total))) + 1
                          - sum(cv / (SELECT big_n FROM total))) AS t_equal
            FROM ec GROUP BY {cols})
        SELECT min(l), exp(min(h)), max(t_equal), (SELECT m FROM total) FROM per_class
    """).fetchone()
    if row is None or row[0] is None:
        raise RiskError(f"{relation} has no records to measure")
    l_min, entropy_l, t_equal, m = int(row[0]), float(row[1]), max(0.0, float(row[2])), int(row[3])
    t = _ordered_emd(con, relation, qi, attribute) if ordered else t_equal
    return SensitiveMeasure(attribute, m, l_min, entropy_l, t, "ordered" if ordered else "equal")


def _ordered_emd(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str], attribute: str) -> float:
    """The largest ordered-distance EMD of a class, in O(cells · log m).

    With P_i the whole table's cumulative share up to the i-th value and S_i = Σ_{j≤i} P_j, a class whose
    cumulative share is Q over ranks [a, b] contributes Σ|Q - P_i|, which splits at the last rank x with
    P_i ≤ Q (P is increasing, so an ASOF join finds x): Q(x-a+1) - (S_x - S_{a-1}) + (S_b - S_x) - Q(b-x).
    Ranks before the class's first value contribute S_{r1-1} (there Q = 0).
    """
    cols = _keys(qi)
    w = f"PARTITION BY {cols} ORDER BY r"
    row = con.execute(f"""
        WITH {_cells(relation, qi, attribute)},
        vals AS (SELECT DISTINCT r, cv FROM ec),
        cum AS (SELECT 0 AS r, 0.0::DOUBLE AS p, 0.0::DOUBLE AS s
                UNION ALL
                SELECT r, p, sum(p) OVER (ORDER BY r) AS s FROM (
                    SELECT r, (sum(cv) OVER (ORDER BY r))::DOUBLE / (SELECT big_n FROM total) AS p FROM vals)),
        steps AS (
            SELECT {cols}, r AS a,
                   lead(r, 1, (SELECT m FROM total) + 1) OVER ({w}) - 1 AS b,
                   (sum(c) OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))::DOUBLE / n AS q,
                   row_number() OVER ({w}) AS k
            FROM ec),
        crossing AS (SELECT steps.*, cum.r AS x0 FROM steps ASOF JOIN cum ON steps.q >= cum.p),
        spans AS (
            SELECT crossing.*, greatest(a - 1, least(b, x0)) AS x FROM crossing),
        terms AS (
            SELECT {", ".join(f"spans._q{i}" for i in range(len(qi)))},
                   q * (x - a + 1) - (sx.s - sa.s) + (sb.s - sx.s) - q * (b - x)
                   + CASE WHEN k = 1 THEN sa.s ELSE 0 END AS d
            FROM spans
            JOIN cum sa ON sa.r = spans.a - 1
            JOIN cum sb ON sb.r = spans.b
            JOIN cum sx ON sx.r = spans.x)
        SELECT max(emd), (SELECT m FROM total) FROM (SELECT sum(d) AS emd FROM terms GROUP BY {cols})
    """).fetchone()
    if row is None or row[0] is None or int(row[1]) <= 1:
        return 0.0
    return max(0.0, float(row[0]) / (int(row[1]) - 1))


def diversity(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str], sensitive: Sequence[str],
              ordered: Collection[str] | None = None, categorical: Collection[str] = ()) -> list[SensitiveMeasure]:
    """:func:`sensitive_measure` for each sensitive attribute; ``ordered``/``categorical`` force the distance."""
    out = []
    for attribute in sensitive:
        force = True if ordered and attribute in ordered else False if attribute in categorical else None
        out.append(sensitive_measure(con, relation, qi, attribute, force))
    return out


def l_diversity(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str], sensitive: Sequence[str]) -> int:
    """Distinct l-diversity: the fewest distinct sensitive values in any class (pycanon ``l_diversity``)."""
    cols = _cols(qi)
    values = []
    for attribute in sensitive:
        row = con.execute(f"SELECT min(l) FROM (SELECT count(DISTINCT coalesce(CAST({ident(attribute)} AS VARCHAR),"
                          f" chr(0))) AS l FROM {relation} GROUP BY {cols})").fetchone()
        if row is None or row[0] is None:
            raise RiskError(f"{relation} has no records to measure")
        values.append(int(row[0]))
    if not values:
        raise RiskError("at least one sensitive attribute is needed for l-diversity")
    return min(values)


def entropy_l_diversity(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str],
                        sensitive: Sequence[str]) -> float:
    """Entropy l-diversity, exp(lowest class entropy) over every attribute (pycanon gives its integer part)."""
    if not sensitive:
        raise RiskError("at least one sensitive attribute is needed for l-diversity")
    return min(sensitive_measure(con, relation, qi, a, ordered=False).entropy_l_diversity for a in sensitive)


def t_closeness(con: duckdb.DuckDBPyConnection, relation: str, qi: Sequence[str], sensitive: Sequence[str],
                ordered: Collection[str] | None = None, categorical: Collection[str] = ()) -> float:
    """t: the largest EMD of any class from the whole table, over every attribute (pycanon ``t_closeness``)."""
    if not sensitive:
        raise RiskError("at least one sensitive attribute is needed for t-closeness")
    return max(m.t_closeness for m in diversity(con, relation, qi, sensitive, ordered, categorical))
