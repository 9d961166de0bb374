"""Typed models of the Justice Data Standard.

The YAML files under ``standard/data`` are validated by these models; the same
models publish the JSON Schema that editors use (``justicelab standard schema``).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9_]*$"


class FieldType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    timestamp = "timestamp"


class PrivacyRole(StrEnum):
    direct_identifier = "direct_identifier"
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"
    none = "none"


class LegalClass(StrEnum):
    public = "public"
    cori = "cori"
    hipaa = "hipaa"
    part2 = "part2"
    personnel = "personnel"
    # Homeless-services records under HUD's HMIS privacy and security standards: not HIPAA,
    # not criminal records, but personal data a shelter may share only under agreement.
    hmis = "hmis"


class EntityKind(StrEnum):
    person_event = "person_event"
    incident = "incident"
    aggregate = "aggregate"
    reference = "reference"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Code(Strict):
    code: str
    label: str
    description: str | None = None
    # Extra facts about a code that hierarchies and adapters read (e.g. a county's region and FIPS code).
    attributes: dict[str, str] = {}


class CodeList(Strict):
    """A named list of allowed values, shared by every field that uses it."""

    name: Annotated[str, Field(pattern=NAME)]
    title: str
    description: str
    codes: list[Code]

    @field_validator("codes")
    @classmethod
    def _unique(cls, codes: list[Code]) -> list[Code]:
        seen = [c.code for c in codes]
        dupes = sorted({c for c in seen if seen.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate codes: {', '.join(dupes)}")
        return codes

    def values(self) -> list[str]:
        return [c.code for c in self.codes]


class HierarchyLevel(Strict):
    name: Annotated[str, Field(pattern=NAME)]
    description: str
    # For `bands` hierarchies: width of the band in the field's unit (e.g. 5 years).
    width: int | None = None
    # For `date` hierarchies: the DuckDB/SQL date_trunc part.
    truncate_to: Literal["day", "month", "quarter", "year"] | None = None
    # For `lookup` hierarchies: the reference table and columns that map the
    # previous level to this one (e.g. agency.county maps agency_code -> county).
    lookup: str | None = None


class Hierarchy(Strict):
    """A generalisation hierarchy: how a value is coarsened, level by level, up to suppression."""

    name: Annotated[str, Field(pattern=NAME)]
    kind: Literal["bands", "date", "lookup"]
    description: str
    levels: list[HierarchyLevel]


RangeBound = int | float | dt.date | Literal["today"]


class FieldDef(Strict):
    """One field of an entity type, with everything every surface needs to know about it."""

    name: Annotated[str, Field(pattern=NAME)]
    type: FieldType
    description: str
    required: bool = False
    codelist: str | None = None
    minimum: RangeBound | None = None
    maximum: RangeBound | None = None
    max_length: int | None = None
    pattern: str | None = None
    privacy_role: PrivacyRole
    legal_class: LegalClass
    hierarchy: str | None = None
    example: str | int | float | bool | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            re.compile(pattern)
        return pattern

    @model_validator(mode="after")
    def _consistent(self) -> FieldDef:
        if self.codelist and self.type is not FieldType.string:
            raise ValueError(f"field {self.name}: a codelist needs type string, not {self.type}")
        bounded = self.minimum is not None or self.maximum is not None
        if bounded and self.type in (FieldType.string, FieldType.boolean):
            raise ValueError(f"field {self.name}: minimum/maximum apply to numbers and dates only")
        return self


class CompareRule(Strict):
    """A cross-field rule: ``left op right`` must hold wherever both are present."""

    name: Annotated[str, Field(pattern=NAME)]
    left: str
    op: Literal["<", "<=", ">", ">=", "=", "!="]
    right: str
    message: str


class FieldGroup(Strict):
    """Fields shared by several entity types (e.g. the person as the source recorded it)."""

    name: Annotated[str, Field(pattern=NAME)]
    description: str
    fields: list[FieldDef]


class EntityType(Strict):
    name: Annotated[str, Field(pattern=NAME)]
    title: str
    kind: EntityKind
    description: str
    includes: list[str] = []
    # Legal class given to the fields of included groups (a name on an ED visit is HIPAA data,
    # the same name on a citation is criminal offender record information).
    legal_class: LegalClass | None = None
    fields: list[FieldDef]
    rules: list[CompareRule] = []
    # Fields (after includes) that identify one record within a source when the
    # mapping declares no natural key of its own.
    default_key: list[str] = []


class ResolvedEntity(BaseModel):
    """An entity type with its included groups expanded: what tables and checks are built from."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    kind: EntityKind
    description: str
    fields: tuple[FieldDef, ...]
    rules: tuple[CompareRule, ...]
    default_key: tuple[str, ...]
    #: The field groups it includes (``person`` marks a person-bearing record the person index links).
    includes: tuple[str, ...] = ()

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def person_bearing(self) -> bool:
        return self.kind is EntityKind.person_event
