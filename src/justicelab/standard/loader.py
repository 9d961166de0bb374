"""Load and cross-check the Justice Data Standard from its YAML files."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from justicelab.errors import StandardError, describe_validation_error
from justicelab.standard.indicators import Indicator
from justicelab.standard.models import (
    CodeList,
    EntityType,
    FieldGroup,
    Hierarchy,
    ResolvedEntity,
)

DATA_DIR = Path(__file__).with_name("data")

M = TypeVar("M", bound=BaseModel)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StandardError(f"{path}: not valid YAML: {exc}") from exc


def _parse(model: type[M], data: Any, path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise StandardError(f"{path}: {problems}") from exc


def _load_dir(folder: Path, model: type[M]) -> list[tuple[M, Path]]:
    return [(_parse(model, _read_yaml(p), p), p) for p in sorted(folder.glob("*.yaml"))]


class Standard:
    """The whole standard: code lists, hierarchies, field groups and entity types, cross-checked."""

    def __init__(
        self,
        codelists: Iterable[CodeList],
        hierarchies: Iterable[Hierarchy],
        groups: Iterable[FieldGroup],
        entities: Iterable[EntityType],
        indicators: Iterable[Indicator] = (),
    ) -> None:
        self.codelists = {c.name: c for c in codelists}
        self.hierarchies = {h.name: h for h in hierarchies}
        self.groups = {g.name: g for g in groups}
        self._entities = {e.name: e for e in entities}
        self.entities = {name: self._resolve(e) for name, e in sorted(self._entities.items())}
        self.indicators: dict[str, Indicator] = {}
        for ind in indicators:
            if ind.name in self.indicators:
                raise StandardError(f"indicator {ind.name} is defined twice")
            self._check_indicator(ind)
            self.indicators[ind.name] = ind

    def _check_indicator(self, ind: Indicator) -> None:
        where = f"indicator {ind.name}"
        measures = [ind.numerator] + ([ind.denominator.measure] if ind.denominator and ind.denominator.measure else [])
        for m in measures:
            if m.table not in self.entities:
                raise StandardError(f"{where}: unknown table {m.table!r}")
            names = self.entities[m.table].field_names()
            dim_cols = [d.column or d.year_of or d.bands_of for d in (m.dimensions or {}).values()]
            for col in [m.column, *m.include, *m.exclude, *dim_cols]:
                if col and col not in names:
                    raise StandardError(f"{where}: {m.table} has no field {col!r}")
            if m.dimensions is not None and set(m.dimensions) - set(ind.dimensions):
                raise StandardError(f"{where}: {m.table} maps dimensions the indicator does not have")
            for col, values in [*m.include.items(), *m.exclude.items()]:
                f = self.entities[m.table].field(col)
                if f.codelist:
                    codes = set(self.codelists[f.codelist].values())
                    unknown = [v for v in values if v not in codes]
                    if unknown:
                        raise StandardError(f"{where}: {unknown} not in code list {f.codelist}")
        table_fields = self.entities[ind.numerator.table].field_names()
        for name, dim in ind.dimensions.items():
            col = dim.column or dim.year_of or dim.bands_of
            if col not in table_fields:
                raise StandardError(f"{where}: dimension {name} reads unknown field {col!r}")
        for name in ind.not_additive_over:
            if name not in ind.dimensions:
                raise StandardError(f"{where}: not_additive_over names unknown dimension {name!r}")

    def indicator(self, name: str) -> Indicator:
        try:
            return self.indicators[name]
        except KeyError:
            known = ", ".join(self.indicators)
            raise StandardError(f"unknown indicator {name!r}; the standard defines: {known}") from None

    def _resolve(self, entity: EntityType) -> ResolvedEntity:
        fields = []
        for group_name in entity.includes:
            if group_name not in self.groups:
                raise StandardError(f"entity {entity.name}: includes unknown field group {group_name!r}")
            for f in self.groups[group_name].fields:
                fields.append(f.model_copy(update={"legal_class": entity.legal_class}) if entity.legal_class else f)
        fields.extend(entity.fields)
        names = [f.name for f in fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise StandardError(f"entity {entity.name}: fields defined twice: {', '.join(dupes)}")
        for f in fields:
            if f.codelist and f.codelist not in self.codelists:
                raise StandardError(f"entity {entity.name}, field {f.name}: unknown codelist {f.codelist!r}")
            if f.hierarchy and f.hierarchy not in self.hierarchies:
                raise StandardError(f"entity {entity.name}, field {f.name}: unknown hierarchy {f.hierarchy!r}")
        for rule in entity.rules:
            for side in (rule.left, rule.right):
                if side not in names:
                    raise StandardError(f"entity {entity.name}, rule {rule.name}: unknown field {side!r}")
        for key in entity.default_key:
            if key not in names:
                raise StandardError(f"entity {entity.name}: default_key names unknown field {key!r}")
        return ResolvedEntity(
            name=entity.name,
            title=entity.title,
            kind=entity.kind,
            description=entity.description,
            fields=tuple(fields),
            rules=tuple(entity.rules),
            default_key=tuple(entity.default_key),
            includes=tuple(entity.includes),
        )

    def entity(self, name: str) -> ResolvedEntity:
        try:
            return self.entities[name]
        except KeyError:
            known = ", ".join(self.entities)
            raise StandardError(f"unknown entity type {name!r}; the standard defines: {known}") from None

    def codelist(self, name: str) -> CodeList:
        return self.codelists[name]

    @classmethod
    def from_directory(cls, root: Path) -> Standard:
        hierarchies_file = root / "hierarchies.yaml"
        raw = _read_yaml(hierarchies_file) or []
        hierarchies = [_parse(Hierarchy, h, hierarchies_file) for h in raw]
        return cls(
            codelists=[c for c, _ in _load_dir(root / "codelists", CodeList)],
            hierarchies=hierarchies,
            groups=[g for g, _ in _load_dir(root / "groups", FieldGroup)],
            entities=[e for e, _ in _load_dir(root / "entities", EntityType)],
            indicators=[
                _parse(Indicator, item, path)
                for path in sorted((root / "indicators").glob("*.yaml"))
                for item in (_read_yaml(path) or [])
            ],
        )


@functools.cache
def load_standard() -> Standard:
    """The standard shipped with justicelab (cached: it is read-only)."""
    return Standard.from_directory(DATA_DIR)
