"""Release policies: per dataset, what each tier (public, researcher, internal) receives. One YAML document,
validated by pydantic; every error names the file, the line and the key. See ``docs/releases.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from justicelab.control.agreements import Loc
from justicelab.privacy.anonymize import Policy as AnonymizationPolicy
from justicelab.privacy.anonymize import PolicyError, load_policy
from justicelab.privacy.anonymize.policy import read_text, validate_yaml, yaml_error

Tier = Literal["public", "researcher", "internal"]
TIERS: tuple[str, ...] = ("public", "researcher", "internal")
NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordsSpec(_Strict):
    """The record file of a tier: anonymised by a policy, or (internal only) the rows as the gate gives them."""

    policy: str | None = Field(None, description=(
        "An anonymisation policy (docs/privacy-anonymize.md), relative to this file: the record file meets its "
        "k/l/t targets."))
    as_read: bool = Field(False, description=(
        "Internal tier only: every row and field the builder may read through the gate, unchanged."))

    @model_validator(mode="after")
    def _one(self) -> RecordsSpec:
        if (self.policy is None) == (not self.as_read):
            raise ValueError("give either policy (an anonymisation policy file) or as_read: true")
        return self


class TableSpec(_Strict):
    """A count table of the tier: records counted by some attributes, with margins, suppressed."""

    name: str = Field(pattern=NAME, description="The file name (without .csv), e.g. county_year.")
    by: list[str] = Field(min_length=1, description=(
        "The attributes to count by, as `privacy assess --qi` reads them: county, year, age:band_10, sex..."))
    totals: list[str] | None = Field(None, description="The attributes to total over (default: all of them).")
    threshold: int = Field(11, ge=0, description=(
        "Counts from 1 to threshold - 1 are suppressed, with optimal complementary suppression; 0 publishes "
        "every count (internal tier only)."))
    where: str | None = Field(None, description="Only records matching this SQL condition (on the dataset).")


class TierSpec(_Strict):
    """What one audience receives."""

    description: str = Field(min_length=1)
    records: RecordsSpec | None = None
    tables: list[TableSpec] = Field(default_factory=list)
    pseudonyms: bool = Field(False, description=(
        "Researcher tier: each released record carries a pseudonym keyed to the grantee (two researchers' "
        "files cannot be joined); equal to the pseudonym the gate shows that grantee."))

    @model_validator(mode="after")
    def _something(self) -> TierSpec:
        if self.records is None and not self.tables:
            raise ValueError("a tier releases records, tables or both: give records or tables")
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
        return self


class RiskSpec(_Strict):
    """The quasi-identifiers on which risk is reported, as held and as released."""

    qi: list[str] = Field(min_length=1)
    sensitive: list[str] = Field(default_factory=list)


class ReleasePolicyDocument(_Strict):
    """One dataset's releases, tier by tier."""

    schema_: str | None = Field(None, alias="$schema")
    dataset: str = Field(pattern=NAME)
    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1)
    description: str = Field(min_length=1)
    where: str | None = Field(None, description="Only records matching this SQL condition are released.")
    risk: RiskSpec
    tiers: dict[Tier, TierSpec] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _tier_rules(self) -> ReleasePolicyDocument:
        for name, tier in self.tiers.items():
            if tier.records is not None and tier.records.as_read and name != "internal":
                raise ValueError(f"tier {name}: records as_read is for the internal tier only")
            if tier.pseudonyms and name != "researcher":
                raise ValueError(f"tier {name}: pseudonyms are for the researcher tier only")
            for table in tier.tables:
                if table.threshold == 0 and name != "internal":
                    raise ValueError(f"tier {name}, table {table.name}: threshold 0 is for the internal tier only")
        return self


@dataclass(frozen=True)
class ReleasePolicy:
    """A validated release policy, where it came from, and its SHA-256 (recorded with every release)."""

    document: ReleasePolicyDocument
    path: Path | None
    root: yaml.Node | None
    sha256: str

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "release policy"

    def error(self, problems: list[tuple[Loc, str]]) -> PolicyError:
        return yaml_error(self.source, self.root, problems)

    def tier(self, name: str) -> TierSpec:
        if name not in TIERS:
            raise PolicyError(f"unknown tier {name!r}: expected one of {', '.join(TIERS)}")
        spec = self.document.tiers.get(name)  # type: ignore[call-overload]
        if spec is None:
            raise PolicyError(f"{self.source}: the policy has no {name} tier (it has "
                              f"{', '.join(self.document.tiers)})")
        return spec

    def anonymization(self, tier: str) -> AnonymizationPolicy | None:
        """The tier's anonymisation policy, read relative to this file; it must be about the same dataset."""
        records = self.tier(tier).records
        if records is None or records.policy is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        policy = load_policy(base / records.policy)
        if policy.document.dataset != self.document.dataset:
            raise self.error([(("tiers", tier, "records", "policy"),
                               f"{records.policy} is a policy for {policy.document.dataset}, not "
                               f"{self.document.dataset}")])
        return policy


def parse_release_policy(text: str, path: Path | None = None) -> ReleasePolicy:
    document, root = validate_yaml(text, str(path) if path else "release policy", ReleasePolicyDocument,
                                   "a mapping with dataset, title, publisher, description, risk and tiers")
    return ReleasePolicy(document, path, root, hashlib.sha256(text.encode("utf-8")).hexdigest())


def load_release_policy(path: Path) -> ReleasePolicy:
    """Read and validate a release policy file."""
    return parse_release_policy(read_text(path, "release policy"), path)


def release_policy_json_schema() -> dict[str, Any]:
    """JSON Schema of release policies (``$schema: release-policy.schema.json``)."""
    schema = ReleasePolicyDocument.model_json_schema(by_alias=True)
    schema["$id"] = "https://justicelab.org/schemas/release-policy.schema.json"
    return schema
