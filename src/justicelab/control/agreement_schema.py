"""The schema of data-sharing agreement documents (YAML), and its JSON Schema for editors."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justicelab.control.levels import Level
from justicelab.control.periods import check_period

CODE = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class CoveredDataset(BaseModel):
    """One dataset the agreement covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="A dataset (an entity type of the Justice Data Standard), e.g. ed_visit.")
    fields: Literal["all"] | Annotated[list[str], Field(min_length=1)] = Field(
        "all", description="The fields covered: a list of the entity's fields, or `all`.")
    maximum_level: Level | None = Field(
        None, description="A lower maximum level for this dataset than the agreement's own.")


class AgreementDocument(BaseModel):
    """A machine-readable data-sharing agreement (DSA or data-use agreement)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              json_schema_extra={"title": "justicelab agreement"})

    schema_ref: str | None = Field(None, alias="$schema", description="JSON Schema for editors.")
    id: Annotated[str, Field(pattern=CODE)] | None = Field(
        None, description="Short name grants refer to (e.g. dsa-2017); the file name without .yaml by default.")
    title: Annotated[str, Field(min_length=1)]
    parties: Annotated[list[str], Field(min_length=1, description="Department codes of the signatories.")]
    purposes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(
        min_length=1, description="The purposes data may be used for; every grant and read names one.")]
    datasets: Annotated[list[CoveredDataset], Field(min_length=1)]
    maximum_level: Level = Field(description="No grant under this agreement may exceed this level.")
    minimum_cell_size: Annotated[int, Field(ge=1, description="Smallest count any aggregate may show.")]
    retention: str | None = Field(
        None, description="How long records are kept after their event, e.g. 7y, 18m, 90d; none: no limit.")
    onward_sharing: bool = Field(description="Whether recipients may share the data further.")
    legal_basis: Annotated[str, Field(min_length=1, description="The law or consent the sharing rests on.")]
    start: dt.date
    end: dt.date

    @field_validator("retention")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_period(value, "retention")
        except Exception as exc:
            raise ValueError(str(exc)) from None


def agreement_json_schema() -> dict[str, Any]:
    """JSON Schema of agreement documents (``$schema: agreement.schema.json`` in an editor)."""
    schema = AgreementDocument.model_json_schema(by_alias=True)
    schema["$id"] = "https://justicelab.org/schemas/agreement.schema.json"
    schema["title"] = "justicelab agreement"
    return schema
