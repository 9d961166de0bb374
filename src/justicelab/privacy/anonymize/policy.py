"""Anonymisation policies: one YAML document per dataset and tier, validated by pydantic.

Every error names the file, the line and the key (``policies/custody_death_public.yaml:14:
quasi_identifiers[2].max_level: ...``), whether the schema rejects the document or the dataset does not
fit it (an unknown column, a level its hierarchy does not have). See ``docs/privacy-anonymize.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from justicelab.control.agreements import Loc, _dotted, _duplicate_keys, _locate
from justicelab.privacy.anonymize.errors import PolicyError

M = TypeVar("M", bound=BaseModel)


class QuasiIdentifierRule(BaseModel):
    """One quasi-identifier: which column, from which level of its hierarchy, up to which level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: str = Field(min_length=1, description=(
        "[LABEL=]NAME[:LEVEL] as `privacy assess --qi` reads it: a column (or year/quarter/month/day of the "
        "event date) and the finest level the release may show, e.g. age:band_5, month, county."))
    max_level: str | None = Field(None, description=(
        "The coarsest level the search may choose (default: the hierarchy's top, else suppressing the column); "
        "`suppressed` allows blanking the column, `recorded` keeps a column without a hierarchy as it is."))
    weight: float = Field(1.0, gt=0, description="Weight of this attribute in the information loss.")


class Targets(BaseModel):
    """What every released equivalence class must satisfy, and how many records may be suppressed for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(ge=1, description="k-anonymity: every class holds at least k records.")
    l_kind: Literal["distinct", "entropy"] = Field(
        "distinct", description="distinct: at least l values; entropy: exp(entropy) at least l.")
    l: float | None = Field(  # noqa: E741 - the letter of l-diversity
        None, ge=1, description="l-diversity of every sensitive attribute in every class.")
    t: float | None = Field(None, ge=0, le=1, description=(
        "t-closeness: no class's distribution of a sensitive attribute is farther than t (EMD) from the "
        "released table's."))
    max_suppression: float = Field(0.0, ge=0, le=1, description=(
        "Largest share of records that may be left out (their class still violates the targets)."))

    @field_validator("l")
    @classmethod
    def _whole_for_distinct(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("l_kind", "distinct") == "distinct" and value != int(value):
            raise ValueError("distinct l-diversity counts values: give a whole number")
        return value


class JurisdictionRule(BaseModel):
    """Small places: a county with fewer residents than ``min_population`` is released as its region."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: str = Field(min_length=1, description="The quasi-identifier holding the county (its label).")
    min_population: int = Field(gt=0, description="Counties with fewer residents are merged into their region.")
    population_year: int | None = Field(None, description=(
        "The year of the warehouse population table to compare with (default: its latest year)."))


class PolicyDocument(BaseModel):
    """An anonymisation policy: quasi-identifiers with their hierarchies, sensitive attributes and targets."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              json_schema_extra={"title": "justicelab anonymisation policy"})

    schema_ref: str | None = Field(None, alias="$schema", description="JSON Schema for editors.")
    dataset: str = Field(min_length=1, description="The table the policy applies to, e.g. custody_death.")
    tier: Literal["public", "researcher", "internal"] = Field(description="The audience of the release.")
    description: str = ""
    where: str | None = Field(None, description="A SQL condition choosing the records to release.")
    date_field: str | None = Field(None, description="The date year/quarter/month/day are read from.")
    quasi_identifiers: list[QuasiIdentifierRule] = Field(min_length=1)
    sensitive: list[str] = Field(default_factory=list, description=(
        "Sensitive attributes (l and t apply to each); add :ordered or :categorical to choose t's distance."))
    targets: Targets
    metric: Literal["ncp", "discernibility"] = Field("ncp", description=(
        "The information loss the search minimises: ncp (normalised certainty penalty) or discernibility."))
    recoding: Literal["global", "local"] = Field("global", description=(
        "global: one level per quasi-identifier for the whole release (the optimal node of the lattice, with "
        "local suppression); local: each class generalised only as far as it must be, still by hierarchy "
        "labels (k and distinct l only)."))
    jurisdiction: JurisdictionRule | None = None
    keep: list[str] = Field(default_factory=list, description="Other columns released as recorded.")
    drop: list[str] = Field(default_factory=list, description=(
        "Columns left out (every column not released is left out; listing them documents the decision)."))

    @field_validator("quasi_identifiers", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"attribute": v} if isinstance(v, str) else v for v in value]
        return value


@dataclass(frozen=True)
class Policy:
    """A validated policy, with where it came from so that later errors can name the line."""

    document: PolicyDocument
    path: Path | None = None
    root: yaml.Node | None = None

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "policy"

    def error(self, problems: Sequence[tuple[Loc, str]]) -> PolicyError:
        """A PolicyError with one ``file:line: key: message`` line per problem."""
        return yaml_error(self.source, self.root, problems)


def yaml_error(source: str, root: yaml.Node | None, problems: Sequence[tuple[Loc, str]]) -> PolicyError:
    lines = []
    for loc, message in problems:
        if root is None:
            lines.append(f"{source}: {_dotted(loc)}: {message}")
        else:
            line, where = _locate(root, loc)
            lines.append(f"{source}:{line}: {_dotted(where)}: {message}")
    return PolicyError("\n".join(lines))


def _describe(err: Any, model: type[BaseModel]) -> str:
    kind, msg, loc = err["type"], err["msg"], err["loc"]
    if kind == "extra_forbidden":
        owner: type[BaseModel] = model
        for part in loc[:-1]:
            if isinstance(part, str):
                ann = owner.model_fields[part].annotation if part in owner.model_fields else None
                inner = getattr(ann, "__args__", (ann,))
                owner = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), owner)
        allowed = [f.alias or k for k, f in owner.model_fields.items()]
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        return f"unknown key{hint}; expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    value = err.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{msg.removeprefix('Value error, ')}, got {value!r}"
    return msg.removeprefix("Value error, ")


def validate_yaml(text: str, where: str, model: type[M], expected: str) -> tuple[M, yaml.Node]:
    """Parse YAML text into ``model``; every problem is reported at once as ``file:line: key: message``
    (PolicyError). ``expected`` says what the document should be when it is not a mapping."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        raise PolicyError(f"{at}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: not valid YAML: {exc}") from None
    if root is None or not isinstance(data, dict):
        raise PolicyError(f"{where}:1: (document): expected {expected}")
    duplicates = _duplicate_keys(root)
    if duplicates:
        raise PolicyError("\n".join(f"{where}:{line}: {_dotted(loc)}: {message}" for loc, line, message in duplicates))
    try:
        document = model.model_validate(data)
    except ValidationError as exc:
        raise yaml_error(where, root, [(tuple(e["loc"]), _describe(e, model)) for e in exc.errors()]) from None
    return document, root


def parse_policy(text: str, path: Path | None = None) -> Policy:
    """Validate a policy's YAML text; every problem the schema finds is reported at once."""
    document, root = validate_yaml(text, str(path) if path else "policy", PolicyDocument,
                                   "a mapping with dataset, tier, quasi_identifiers, sensitive and targets")
    return Policy(document, path, root)


def read_text(path: Path, what: str = "policy") -> str:
    """A policy file's text (PolicyError when it is missing or not UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: {what} file not found") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file."""
    return parse_policy(read_text(path), path)


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of policy documents (``$schema: anonymization-policy.schema.json`` in an editor)."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    items = schema["properties"]["quasi_identifiers"]["items"]
    schema["properties"]["quasi_identifiers"]["items"] = {"anyOf": [
        {"type": "string", "description": "The short form: just the attribute, e.g. age:band_5."}, items]}
    schema["$id"] = "https://justicelab.org/schemas/anonymization-policy.schema.json"
    return schema
