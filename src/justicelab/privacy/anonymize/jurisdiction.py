"""The small-jurisdiction rule: a county with fewer residents than a threshold is released as its region.

Populations come from the warehouse ``population`` table (county totals, one vintage per county and year,
chosen as the indicators choose them), or from a mapping given directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from justicelab.indicators import IndicatorError, population_base
from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.standard import Standard
from justicelab.warehouse import Warehouse


@dataclass(frozen=True)
class Merge:
    """Which counties the rule merges into their region, and on which figures."""

    min_population: int
    year: int | None
    source: str
    small: dict[str, int] = field(default_factory=dict)  # county -> residents, below the threshold
    unknown: tuple[str, ...] = ()  # counties of the code list without a figure (merged too)

    @property
    def counties(self) -> frozenset[str]:
        """Every county released as its region."""
        return frozenset(self.small) | frozenset(self.unknown)

    def as_dict(self) -> dict[str, object]:
        return {"min_population": self.min_population, "population_year": self.year, "source": self.source,
                "merged_counties": dict(sorted(self.small.items())), "without_population": list(self.unknown)}


def county_populations(warehouse: Warehouse, year: int | None = None) -> tuple[int, dict[str, int]]:
    """Residents of every county in ``year`` (default: the latest year of the population table)."""
    if not warehouse.has_table("population"):
        raise AnonymizeError("the jurisdiction rule needs the warehouse population table: load one "
                             "(justicelab openjustice load) or drop the rule")
    try:
        base = population_base(warehouse.ibis, [])
    except IndicatorError as exc:
        raise AnonymizeError(f"population table: {exc}") from None
    counties = base.filter(base.geography_type == "county")
    years = sorted(int(y) for y in counties.year.to_pyarrow().to_pylist() if y is not None)
    if not years:
        raise AnonymizeError("the population table has no county figures (geography_type county)")
    chosen = years[-1] if year is None else year
    if chosen not in years:
        raise AnonymizeError(f"the population table has no county figures for {chosen}; it covers "
                             f"{years[0]}-{years[-1]}")
    rows = (counties.filter(counties.year == chosen).group_by("county")
            .aggregate(population=counties.population.sum()).to_pyarrow().to_pylist())
    return chosen, {str(r["county"]): int(r["population"]) for r in rows if r["county"] is not None}


def plan_merge(standard: Standard, populations: Mapping[str, int], min_population: int, year: int | None,
               source: str) -> Merge:
    """The counties of the code list to merge: fewer residents than ``min_population``, or no figure at all."""
    codes = [c.code for c in standard.codelists["county"].codes]
    small = {c: int(populations[c]) for c in codes if c in populations and populations[c] < min_population}
    unknown = tuple(c for c in codes if c not in populations)
    return Merge(min_population, year, source, small, unknown)
