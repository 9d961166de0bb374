"""Typed models of indicator definitions (Justice-Counts style), declared once in the standard's YAML.

An indicator names its numerator (a standard table, an aggregate, includes and excludes), its
denominator (residents, or another measure), its unit and scale, the dimensions it can be broken
down by, its source and its definitional caveats. The indicator engine compiles a request against
this definition; the dashboard, API and reports read the same definition.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(_Strict):
    """How one breakdown is read from the numerator's table: a column, the year of a date, or bands."""

    column: str | None = None
    year_of: str | None = Field(None, description="A date column whose calendar year is the dimension.")
    bands_of: str | None = Field(None, description="A numeric column grouped into bands at these edges.")
    edges: list[int] | None = None
    population: str | None = Field(
        None, description="The population table's column that matches this dimension (for rate denominators)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Dimension:
        if sum(x is not None for x in (self.column, self.year_of, self.bands_of)) != 1:
            raise ValueError("a dimension gives exactly one of column, year_of or bands_of")
        if self.bands_of is not None and not self.edges:
            raise ValueError("bands_of needs edges")
        return self


class Measure(_Strict):
    """An aggregate over a standard table, restricted by includes and excludes."""

    table: str
    aggregate: Literal["sum", "count"] = "sum"
    column: str | None = Field(None, description="Summed column (not for count).")
    include: dict[str, list[str | int | bool]] = Field(
        default_factory=dict, description="column -> values a row must have one of"
    )
    exclude: dict[str, list[str | int | bool]] = Field(
        default_factory=dict, description="column -> values that take a row out"
    )
    dimensions: dict[str, Dimension] | None = Field(
        None, description="How this measure's own table gives each dimension, when it is not the numerator's "
        "table (e.g. sworn officers by county and year from personnel)."
    )

    @model_validator(mode="after")
    def _column(self) -> Measure:
        if self.aggregate == "sum" and not self.column:
            raise ValueError("a sum needs a column")
        return self


class Denominator(_Strict):
    kind: Literal["population", "measure"]
    measure: Measure | None = None
    minimum: int = Field(0, description="Figures on a smaller denominator are flagged unstable.")

    @model_validator(mode="after")
    def _measure(self) -> Denominator:
        if (self.kind == "measure") != (self.measure is not None):
            raise ValueError("a measure denominator needs a measure, a population one must not have one")
        return self


class Indicator(_Strict):
    name: Annotated[str, Field(pattern=NAME)]
    title: str
    description: str
    unit: Literal["count", "rate", "percent"]
    scale: int = Field(1, description="Rate per this many of the denominator (100000 per 100k residents).")
    unit_label: str = Field(description="How the figure reads, e.g. 'per 100,000 residents'.")
    numerator: Measure
    denominator: Denominator | None = None
    dimensions: dict[str, Dimension]
    source: str
    caveats: list[str] = []
    min_events: int = Field(20, description="Figures on fewer events than this are flagged unstable.")
    not_additive_over: list[str] = Field(
        default_factory=list,
        description="Dimensions whose values overlap (violent includes robbery): an answer must break down "
        "by them or filter them to one value, never sum across them.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if (self.unit == "count") != (self.denominator is None):
            raise ValueError("a count has no denominator; a rate or percent needs one")
        if "year" not in self.dimensions:
            raise ValueError("every indicator can be broken down by year")
        return self
