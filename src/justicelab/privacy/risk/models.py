"""Re-identification risk under the prosecutor, journalist and marketer attacker models, and per record.

With f the size of a record's equivalence class in the release and F the size of the same class in the
population the release was drawn from (F >= f):

* prosecutor — the attacker knows the target is in the release: a record's risk is 1/f;
* journalist — the attacker holds a person from the population and looks for them: risk 1/F;
* marketer — the attacker links as many records as possible: the expected share re-identified is the
  average record risk, (1/n) Σ f/F over classes (with the release as its own population, classes/n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from justicelab.ingest.sql import ident
from justicelab.privacy.risk.measures import ClassSummary


@dataclass(frozen=True)
class ModelRisk:
    """One attacker model's risk: highest and average record risk, and the records above the threshold."""

    model: str
    highest: float
    average: float
    records_at_risk: int
    share_at_risk: float


@dataclass(frozen=True)
class JournalistRisk:
    """Journalist and population-based marketer risk, with how well the population covered the release."""

    journalist: ModelRisk
    marketer: float
    classes_without_population: int
    classes_larger_than_population: int


def prosecutor(classes: ClassSummary, threshold: float) -> ModelRisk:
    """Prosecutor risk from the class sizes alone (1/f per record)."""
    at_risk = sum(size * n for size, n in classes.sizes if 1 / size > threshold)
    return ModelRisk("prosecutor", 1 / classes.k, classes.classes / classes.records, at_risk,
                     at_risk / classes.records)


def marketer_in_sample(classes: ClassSummary) -> float:
    """Expected share of records re-identified when the release is its own population: classes / records."""
    return classes.classes / classes.records


def _on(labels: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"CAST({left}.{ident(c)} AS VARCHAR) = {right}.{ident(c)}" for c in labels)


def population_classes_sql(relation: str, labels: Sequence[str], population: str) -> str:
    """Classes of ``relation`` with their size f and population size F (F = f where unknown or too small)."""
    cols = ", ".join(ident(c) for c in labels)
    return f"""
        SELECT cls.*, p.population AS known, greatest(coalesce(p.population, 0), cls.f) AS big_f
        FROM (SELECT {cols}, count(*) AS f FROM {relation} GROUP BY ALL) cls
        LEFT JOIN {population} p ON {_on(labels, "cls", "p")}"""


def journalist(con: duckdb.DuckDBPyConnection, relation: str, labels: Sequence[str], population: str,
               threshold: float) -> JournalistRisk:
    """Journalist and marketer risk against population counts (a class missing from them counts F = f)."""
    row = con.execute(f"""
        SELECT max(1.0 / big_f), sum(f / big_f) / sum(f),
               coalesce(sum(f) FILTER (WHERE 1.0 / big_f > {threshold!r}), 0),
               sum(f), count(*) FILTER (WHERE known IS NULL), count(*) FILTER (WHERE known < f)
        FROM ({population_classes_sql(relation, labels, population)})
    """).fetchone()
    assert row is not None
    n = int(row[3])
    risk = ModelRisk("journalist", float(row[0]), float(row[1]), int(row[2]), int(row[2]) / n)
    return JournalistRisk(risk, float(row[1]), int(row[4]), int(row[5]))


def record_risk_sql(relation: str, labels: Sequence[str], population: str | None, shown: Sequence[str] = ()) -> str:
    """Every record with its class size, prosecutor risk and (with a population) population size and journalist
    risk; ``shown`` columns (e.g. sensitive attributes) are listed too."""
    cols = ", ".join(ident(c) for c in labels)
    listed = ", ".join(ident(c) for c in [*labels, *shown])
    pop = ""
    extra = ""
    if population:
        pop = f"LEFT JOIN {population} p ON {_on(labels, 'r', 'p')}"
        extra = (", greatest(coalesce(p.population, 0), r.class_size) AS population_class_size, "
                 "1.0 / greatest(coalesce(p.population, 0), r.class_size) AS journalist_risk")
    return f"""
        SELECT r.* {extra} FROM (
            SELECT _record AS record, {listed}, count(*) OVER (PARTITION BY {cols}) AS class_size,
                   1.0 / count(*) OVER (PARTITION BY {cols}) AS prosecutor_risk
            FROM {relation}) r {pop}"""


def riskiest(con: duckdb.DuckDBPyConnection, relation: str, labels: Sequence[str], population: str | None,
             top: int, shown: Sequence[str] = ()) -> list[dict[str, object]]:
    """The ``top`` riskiest records: smallest class first, then smallest population class, then record."""
    order = "prosecutor_risk DESC" + (", journalist_risk DESC" if population else "") + ", record"
    cur = con.execute(f"SELECT * FROM ({record_risk_sql(relation, labels, population, shown)}) ORDER BY {order} "
                      f"LIMIT {int(top)}")
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
