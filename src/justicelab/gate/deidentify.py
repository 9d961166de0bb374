"""What each column becomes at each level: the plan the gate applies, read from ``deidentify.yaml`` and the standard.

``identified`` shows the recorded value; ``deidentified`` drops direct identifiers, pseudonymises keys,
generalises quasi-identifiers by their hierarchy and keeps the rest; ``aggregate`` and ``none`` drop the
column from any row-level result.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from justicelab.control.levels import Level
from justicelab.errors import GateError, describe_validation_error
from justicelab.standard import PrivacyRole, ResolvedEntity, Standard
from justicelab.warehouse import SYSTEM_COLUMNS

POLICY_FILE = Path(__file__).with_name("deidentify.yaml")
PERSON_ID = "person_id"


class Treatment(StrEnum):
    """What the gate does to a column: show it, pseudonymise it, generalise it, or leave it out."""

    keep = "keep"
    pseudonymise = "pseudonymise"
    generalise = "generalise"
    drop = "drop"


class DeidentificationPolicy(BaseModel):
    """The ``deidentified`` level, declared once (``gate/deidentify.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generalise_to: dict[str, str]
    fields: dict[str, str] = {}  # a field shown at another level of its hierarchy than the hierarchy's default
    without_hierarchy: dict[Literal["coded", "free_text"], Literal["keep", "drop"]]
    person_keys: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]]
    system_columns: dict[str, Literal["keep", "pseudonymise", "drop"]]

    def check(self, standard: Standard, where: str = str(POLICY_FILE)) -> None:
        """Every hierarchy a quasi-identifier uses has a known default level; every lineage column a treatment."""
        for name, level in self.generalise_to.items():
            if name not in standard.hierarchies:
                raise GateError(f"{where}: generalise_to names unknown hierarchy {name!r}")
            levels = [lv.name for lv in standard.hierarchies[name].levels]
            if level not in levels:
                raise GateError(f"{where}: generalise_to.{name}: {level!r} is not a level of {name} "
                                f"({', '.join(levels)})")
        used = {f.hierarchy for e in standard.entities.values() for f in e.fields
                if f.hierarchy and f.privacy_role is PrivacyRole.quasi_identifier}
        missing = sorted(used - set(self.generalise_to))
        if missing:
            raise GateError(f"{where}: generalise_to gives no level for hierarchies {', '.join(missing)}")
        for name, level in self.fields.items():
            hierarchies = {f.hierarchy for e in standard.entities.values() for f in e.fields
                           if f.name == name and f.hierarchy and f.privacy_role is PrivacyRole.quasi_identifier}
            if not hierarchies:
                raise GateError(f"{where}: fields.{name}: no entity has a quasi-identifier {name!r} with a hierarchy")
            for h in sorted(hierarchies):
                levels = [lv.name for lv in standard.hierarchies[h].levels]
                if level not in levels:
                    raise GateError(f"{where}: fields.{name}: {level!r} is not a level of {h} ({', '.join(levels)})")
        if set(self.without_hierarchy) != {"coded", "free_text"}:
            raise GateError(f"{where}: without_hierarchy needs both `coded` and `free_text`")
        if set(self.system_columns) != set(SYSTEM_COLUMNS):
            raise GateError(f"{where}: system_columns must list exactly {', '.join(SYSTEM_COLUMNS)}")


def parse_policy(text: str, where: str) -> DeidentificationPolicy:
    """Parse a policy document, naming ``where`` in any error."""
    try:
        return DeidentificationPolicy.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise GateError(f"{where}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise GateError(f"{where}: {describe_validation_error(exc)}") from None


@functools.cache
def load_policy() -> DeidentificationPolicy:
    """The shipped policy (cached: read-only)."""
    return parse_policy(POLICY_FILE.read_text(encoding="utf-8"), str(POLICY_FILE))


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is shown at its level: treatment, the hierarchy level for a generalised one, and why."""

    column: str
    level: Level
    treatment: Treatment
    why: str
    hierarchy: str | None = None
    hierarchy_level: str | None = None

    @property
    def shown(self) -> bool:
        return self.treatment is not Treatment.drop

    def as_dict(self) -> dict[str, str | None]:
        return {"column": self.column, "level": self.level.value, "treatment": self.treatment.value,
                "hierarchy": self.hierarchy, "hierarchy_level": self.hierarchy_level, "why": self.why}


def deidentified_plan(entity: ResolvedEntity, column: str,
                      policy: DeidentificationPolicy | None = None) -> ColumnPlan:
    """What ``column`` of ``entity`` becomes at the ``deidentified`` level, and why."""
    policy = policy or load_policy()
    at = Level.deidentified
    if column in policy.system_columns:
        treatment = Treatment(policy.system_columns[column])
        return ColumnPlan(column, at, treatment, f"lineage column: {treatment.value} (gate/deidentify.yaml)")
    if column in policy.person_keys:
        return ColumnPlan(column, at, Treatment.pseudonymise, "person key: replaced by a per-grantee pseudonym")
    if column in entity.default_key:
        return ColumnPlan(column, at, Treatment.pseudonymise, f"record key of {entity.name}: replaced by a "
                          "per-grantee pseudonym")
    try:
        f = entity.field(column)
    except KeyError:
        raise GateError(f"{entity.name} has no field {column!r}: the gate cannot say how to de-identify it") from None
    if f.privacy_role is PrivacyRole.direct_identifier:
        return ColumnPlan(column, at, Treatment.drop, "direct identifier: dropped")
    if f.privacy_role is PrivacyRole.quasi_identifier:
        if f.hierarchy:
            level = policy.fields.get(f.name, policy.generalise_to[f.hierarchy])
            return ColumnPlan(column, at, Treatment.generalise, f"quasi-identifier: generalised to {level} "
                              f"(hierarchy {f.hierarchy})", f.hierarchy, level)
        treatment = Treatment(policy.without_hierarchy["coded" if f.codelist else "free_text"])
        what = f"code list {f.codelist}" if f.codelist else "free text"
        return ColumnPlan(column, at, treatment, f"quasi-identifier without a hierarchy ({what}): {treatment.value}")
    return ColumnPlan(column, at, Treatment.keep, f"{f.privacy_role.value.replace('none', 'no privacy role')}: kept")


def column_plan(entity: ResolvedEntity, column: str, level: Level,
                policy: DeidentificationPolicy | None = None) -> ColumnPlan:
    """What ``column`` becomes at ``level`` (identified: as recorded; aggregate/none: left out of rows)."""
    if level is Level.identified:
        return ColumnPlan(column, level, Treatment.keep, "identified: as recorded")
    if level is Level.deidentified:
        return deidentified_plan(entity, column, policy)
    return ColumnPlan(column, level, Treatment.drop, f"{level.value}: not part of any row")
