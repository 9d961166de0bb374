"""Mappings: YAML that turns one department's extract into a standard table.

A mapping names the entity type it fills, how to read the source file, the
source's natural key, and for each standard field where its value comes from
and how it is transformed. Transforms compile to SQL (see ``transforms.py``);
nothing here touches data.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from justicelab.errors import MappingError, describe_validation_error
from justicelab.standard import Standard, load_standard


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "windows-1252", "auto"]
SourceFormat = Literal["csv", "parquet", "xlsx", "jsonl"]


class SourceOptions(_Strict):
    """How to read the source file. Anything left out is detected from the file."""

    format: SourceFormat | None = Field(None, description="File format; by default from the file extension.")
    delimiter: str | None = Field(None, description="Field delimiter for CSV/TSV; detected when omitted.")
    quote: str = Field('"', description="Quote character for CSV.")
    encoding: Encoding = Field(
        "auto", description="Text encoding; 'auto' accepts UTF-8 (with or without BOM), else Windows-1252."
    )
    header_row: Annotated[int, Field(ge=1)] = Field(
        1, description="1-based row that holds the column names (rows above it are skipped)."
    )
    sheet: str | None = Field(None, description="Excel sheet name; the first sheet when omitted.")
    row_number_column: str | None = Field(
        None,
        description="Column holding each record's row number in the original file, for adapters that "
        "reshape a file before loading it (lineage then points at the original).",
    )
    null_values: list[str] = Field(
        default_factory=lambda: [""], description="Values that mean 'no value' (after trimming), e.g. NULL, N/A."
    )


class FieldMapping(_Strict):
    """Where one standard field's value comes from, and how it is cleaned."""

    column: str | None = Field(None, description="Source column holding the value.")
    columns: list[str] | None = Field(None, description="Source columns to concatenate, in order.")
    separator: str = Field(" ", description="Separator placed between concatenated columns.")
    constant: str | int | float | bool | None = Field(None, description="A fixed value for every row.")
    trim: bool = Field(True, description="Strip surrounding whitespace.")
    case: Literal["upper", "lower", "title", "keep"] = Field("keep", description="Change letter case.")
    split_name: Literal["last", "first", "middle"] | None = Field(
        None, description="Take this part of a 'LAST, FIRST MIDDLE' name."
    )
    date_format: str | list[str] | None = Field(
        None, description="strptime format(s) of a date or timestamp, e.g. '%m/%d/%y'; tried in order."
    )
    two_digit_year: Literal["past", "pivot"] = Field(
        "past",
        description="For %y formats: 'past' puts a date that would lie in the future a century earlier; "
        "'pivot' uses century_pivot.",
    )
    century_pivot: Annotated[int, Field(ge=0, le=99)] = Field(
        50, description="With two_digit_year: pivot, years above this are 19xx, the rest 20xx."
    )
    code_map: dict[str, str] | None = Field(
        None,
        description="Source code -> standard code. Unmapped values are kept (and checked against the code "
        "list); an empty source value is not a code: use default for it.",
    )
    default: str | int | float | bool | None = Field(None, description="Value used when the source is empty.")

    @model_validator(mode="after")
    def _one_origin(self) -> FieldMapping:
        origins = [self.column is not None, self.columns is not None, self.constant is not None]
        if sum(origins) != 1:
            raise ValueError("give exactly one of column, columns or constant")
        return self

    def source_columns(self) -> list[str]:
        if self.column is not None:
            return [self.column]
        return list(self.columns or [])


class Mapping(BaseModel):
    """A validated mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_ref: str | None = Field(None, alias="$schema", description="JSON Schema for editors.")
    entity: str = Field(description="The standard entity type this source fills.")
    name: str | None = Field(None, description="Source name; the mapping file's stem when omitted.")
    department: str | None = Field(None, description="The department that owns this source.")
    description: str | None = None
    source: SourceOptions = SourceOptions()
    natural_key: list[str] = Field(
        default_factory=list,
        description="Standard fields that identify one record within this source; a re-delivery "
        "updates records by this key. Defaults to the entity's default key.",
    )
    fields: dict[str, str | FieldMapping] = Field(
        description="Standard field -> source column name, or a full field mapping."
    )

    @property
    def field_mappings(self) -> dict[str, FieldMapping]:
        return {k: (FieldMapping(column=v) if isinstance(v, str) else v) for k, v in self.fields.items()}

    def source_columns(self) -> list[str]:
        cols: list[str] = []
        for fm in self.field_mappings.values():
            for c in fm.source_columns():
                if c not in cols:
                    cols.append(c)
        return cols


class LoadedMapping(BaseModel):
    """A mapping together with where it came from and its content hash (recorded in the batch log)."""

    model_config = ConfigDict(frozen=True)

    mapping: Mapping
    path: Path
    sha256: str
    source_name: str
    key: tuple[str, ...]


def _closest(name: str, candidates: list[str]) -> str:
    near = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def check_against_standard(mapping: Mapping, path: Path, standard: Standard) -> tuple[str, ...]:
    """Check field names and key against the standard; return the effective natural key."""
    try:
        entity = standard.entity(mapping.entity)
    except Exception as exc:
        raise MappingError(f"{path}: {exc}") from exc
    names = entity.field_names()
    for field_name in mapping.fields:
        if field_name not in names:
            raise MappingError(
                f"{path}: field {field_name!r} is not a field of {entity.name}{_closest(field_name, names)}"
            )
    for f in entity.fields:
        if f.required and f.name not in mapping.fields:
            raise MappingError(f"{path}: required field {f.name!r} of {entity.name} is not mapped")
    key = tuple(mapping.natural_key) or entity.default_key
    for k in key:
        if k not in mapping.fields:
            raise MappingError(f"{path}: natural key field {k!r} is not mapped")
    for field_name, fm in mapping.field_mappings.items():
        fdef = entity.field(field_name)
        if fm.date_format and fdef.type.value not in ("date", "timestamp"):
            raise MappingError(f"{path}: field {field_name!r} has a date_format but is {fdef.type.value}")
    return key


def parse_mapping(data: Any, path: Path, standard: Standard | None = None) -> LoadedMapping:
    """Validate mapping data (already parsed from YAML) and check it against the standard."""
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise MappingError(f"{path}: {problems}") from exc
    key = check_against_standard(mapping, path, standard or load_standard())
    text = yaml.safe_dump(data, sort_keys=True)
    return LoadedMapping(
        mapping=mapping,
        path=path,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        source_name=mapping.name or path.stem,
        key=key,
    )


def load_mapping(path: Path, standard: Standard | None = None) -> LoadedMapping:
    """Read and validate a mapping YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise MappingError(f"{path}: a mapping must be a YAML mapping with 'entity' and 'fields'")
    return parse_mapping(data, path, standard)


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema of mapping files, for editors (``$schema``)."""
    schema = Mapping.model_json_schema(by_alias=True)
    schema["$id"] = "https://justicelab.org/schemas/mapping.schema.json"
    schema["title"] = "justicelab mapping"
    return schema
