"""Population counts for the journalist and marketer models: from the warehouse ``population`` table or a file.

A release's quasi-identifiers map to the population table where both describe residents the same way:
county (or its region, or the state), the year of the event, sex, race/ethnicity, and age where the age
labels equal the table's age groups. Anything else (an event's month, an agency, a manner of death) has
no population count, and the models that need one say so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir

from justicelab.indicators import IndicatorError, population_base
from justicelab.ingest.sql import ident, literal
from justicelab.privacy.risk.dataset import FILE_READERS, Dataset
from justicelab.privacy.risk.measures import RiskError
from justicelab.privacy.risk.spec import Attribute
from justicelab.warehouse import Generaliser

POPULATION_RELATION = "_jl_risk_population"
COUNT_COLUMNS = ("population", "count")


@dataclass(frozen=True)
class Population:
    """Population counts by the release's quasi-identifier labels, or why there are none."""

    relation: str | None
    source: str
    reason: str = ""


def _codelist(dataset: Dataset, column: str, generaliser: Generaliser) -> str | None:
    if dataset.entity and column in dataset.entity.field_names():
        return dataset.entity.field(column).codelist
    found = {f.codelist for e in generaliser.standard.entities.values() for f in e.fields
             if f.name == column and f.codelist}
    return found.pop() if len(found) == 1 else None


def _map(a: Attribute, dataset: Dataset, generaliser: Generaliser, p: ir.Table) -> tuple[ir.Value, str | None] | str:
    """The population column (and demographic) a quasi-identifier corresponds to, or why none does."""
    codelist = _codelist(dataset, a.column, generaliser)
    county_levels = generaliser.levels("county")
    if a.hierarchy == "county" or (a.hierarchy is None and codelist == "county"):
        return generaliser.expr(p.county, "county", a.level or "county"), None
    if a.hierarchy == "place" and a.level in county_levels:
        return generaliser.expr(p.county, "county", a.level), None
    if (a.hierarchy == "date" and a.level == "year") or (a.hierarchy is None and a.column == "year"):
        return p.year.cast("string"), None
    if a.hierarchy == "date":
        return f"{a.label} (the {a.level or 'date'} of {a.column}): residents are counted by year, not by {a.level}"
    if a.hierarchy is None and codelist in ("sex", "race_ethnicity"):
        return p[codelist], codelist
    if a.hierarchy == "age":
        return p.age_group, "age_group"
    return f"{a.label}: the population table has no breakdown by {a.column}"


def from_warehouse(dataset: Dataset, qi: Sequence[Attribute], generaliser: Generaliser) -> Population:
    """Population classes from the warehouse ``population`` table (one vintage per area and year)."""
    wh = dataset.warehouse
    if wh is None or not wh.has_table("population"):
        return Population(None, "", "no population table: load one (justicelab openjustice load) or pass "
                          "--population FILE")
    p = wh.ibis.table("population")
    mapped: dict[str, ir.Value] = {}
    demographics: list[str] = []
    reasons = []
    for a in qi:
        got = _map(a, dataset, generaliser, p)
        if isinstance(got, str):
            reasons.append(got)
        else:
            mapped[a.label] = got[0]
            if got[1]:
                demographics.append(got[1])
    if not any(a.label in mapped and ((a.hierarchy == "date" and a.level == "year") or a.column == "year")
               for a in qi):
        reasons.append("residents are counted per year: add year to --qi")
    if reasons:
        return Population(None, "warehouse population table", "; ".join(reasons))
    try:
        base = population_base(wh.ibis, demographics)
    except IndicatorError as exc:
        return Population(None, "warehouse population table", str(exc))
    county_mapped = any(a.hierarchy in ("county", "place") or _codelist(dataset, a.column, generaliser) == "county"
                        for a in qi)
    base = base.filter(base.geography_type == ("county" if county_mapped else "state"))
    cols: dict[str, ir.Value] = {}
    for a in qi:
        got = _map(a, dataset, generaliser, base)
        assert not isinstance(got, str)  # every attribute mapped above
        cols[a.label] = got[0].cast("string")
    table = base.select(**cols, _population=base.population).group_by(list(cols)).aggregate(
        population=lambda t: t._population.sum().cast("int64")).to_pyarrow()
    dataset.con.register("_jl_risk_population_arrow", table)
    dataset.con.execute(f"CREATE OR REPLACE TEMP TABLE {POPULATION_RELATION} AS "
                        "SELECT * FROM _jl_risk_population_arrow")
    dataset.con.unregister("_jl_risk_population_arrow")
    vintages = sorted({str(v) for v in base.vintage.to_pyarrow().to_pylist() if v})
    return Population(POPULATION_RELATION, f"warehouse population table ({', '.join(vintages[-3:]) or 'no vintage'})")


def from_file(dataset: Dataset, qi: Sequence[Attribute], path: Path) -> Population:
    """Population classes from a CSV/Parquet file with a column per quasi-identifier label and a count."""
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None or not path.is_file():
        raise RiskError(f"population file {path}: not a readable {', '.join(sorted(FILE_READERS))} file")
    con = dataset.con
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}({literal(str(path))})").fetchall()]
    count = next((c for c in COUNT_COLUMNS if c in columns), None)
    missing = [a.label for a in qi if a.label not in columns]
    if missing or count is None:
        need = [*missing, *([] if count else ["population (or count)"])]
        raise RiskError(f"population file {path}: needs a column for each quasi-identifier and a count; missing "
                        f"{', '.join(need)} (it has: {', '.join(columns)})")
    labels = ", ".join(f"CAST({ident(a.label)} AS VARCHAR) AS {ident(a.label)}" for a in qi)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {POPULATION_RELATION} AS
                    SELECT {labels}, sum({ident(count)})::BIGINT AS population
                    FROM {reader}({literal(str(path))}) GROUP BY ALL""")
    return Population(POPULATION_RELATION, f"file {path.name}")
