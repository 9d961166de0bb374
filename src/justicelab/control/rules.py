"""Row rules: declarative restrictions a grant puts on rows (the gate applies them; nothing here reads rows).

``consent: {program: mdt, scope: part2}`` keeps only rows of persons with a current consent for that
program and scope; ``field_in: {field: facility, values: [...]}`` keeps rows whose field has one of the
values. When both are given, both apply.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from justicelab.control.errors import ControlError
from justicelab.errors import describe_validation_error
from justicelab.standard import LegalClass, ResolvedEntity

PROGRAM = r"^[a-z][a-z0-9_]*$"


class ConsentRule(BaseModel):
    """Rows of persons with a current consent for ``program`` covering records of legal class ``scope``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    program: Annotated[str, Field(pattern=PROGRAM, description="The program consented to, e.g. mdt.")]
    scope: LegalClass = Field(description="The legal class of records the consent covers, e.g. part2.")


class FieldInRule(BaseModel):
    """Rows whose ``field`` has one of ``values``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    values: Annotated[list[str | int | float | bool], Field(min_length=1)]


class RowRule(BaseModel):
    """One or more row restrictions; all given ones apply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consent: ConsentRule | None = None
    field_in: FieldInRule | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> RowRule:
        if self.consent is None and self.field_in is None:
            raise ValueError("a row rule needs consent: {program, scope} or field_in: {field, values}")
        return self

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def parse_row_rule(value: str | dict[str, Any], entity: ResolvedEntity) -> RowRule:
    """A row rule from YAML text (``consent: {program: mdt, scope: part2}``) or a dict, checked against the
    dataset's entity: consent rules need person-bearing records, ``field_in`` a field the entity has."""
    data: Any = value
    if isinstance(value, str):
        try:
            data = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ControlError(f"row rule {value!r}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(f"row rule {value!r}: expected a mapping such as 'consent: {{program: mdt, scope: part2}}'")
    try:
        rule = RowRule.model_validate(data)
    except ValidationError as exc:
        raise ControlError(f"row rule {value!r}: {describe_validation_error(exc)}") from None
    if rule.consent is not None and not entity.person_bearing:
        raise ControlError(f"row rule on {entity.name}: a consent rule needs person records, and {entity.name} "
                           f"is {entity.kind.value} data")
    if rule.field_in is not None and rule.field_in.field not in entity.field_names():
        raise ControlError(f"row rule on {entity.name}: {rule.field_in.field!r} is not a field of {entity.name}")
    return rule
