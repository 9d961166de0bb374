"""The data dictionary of a release, generated from the standard: a Frictionless Data Package descriptor
(``datapackage.json``) whose fields carry the standard's descriptions and what the release did to each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from justicelab.standard import ResolvedEntity

_TYPES = {"string": "string", "large_string": "string", "int8": "integer", "int16": "integer", "int32": "integer",
          "int64": "integer", "uint8": "integer", "uint16": "integer", "uint32": "integer", "uint64": "integer",
          "double": "number", "float": "number", "bool": "boolean", "date32[day]": "date"}


def frictionless_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    if pa.types.is_decimal(arrow_type):
        return "number"
    return _TYPES.get(str(arrow_type), "string")


def field_entry(name: str, arrow_type: pa.DataType, entity: ResolvedEntity | None, note: str | None,
                source: str | None = None) -> dict[str, Any]:
    """One field of a resource: its type, the standard's description of the field it comes from, the note."""
    column = source or name
    described = next((f for f in entity.fields if f.name == column), None) if entity else None
    entry: dict[str, Any] = {"name": name, "type": frictionless_type(arrow_type)}
    if described is not None:
        entry["description"] = described.description
        entry["privacyRole"] = described.privacy_role.value
    if note:
        entry["description"] = f"{entry.get('description', '').rstrip('.')}. {note}".lstrip(". ")
    return entry


def resource(name: str, path: Path, table: pa.Table, fields: Sequence[dict[str, Any]], description: str,
             sha256: str) -> dict[str, Any]:
    return {"name": name, "path": path.as_posix(), "format": path.suffix.lstrip("."), "mediatype": "text/csv",
            "encoding": "utf-8", "description": description, "hash": f"sha256:{sha256}",
            "schema": {"fields": list(fields)}, "rows": table.num_rows}


def package(name: str, title: str, description: str, publisher: str, resources: Sequence[Mapping[str, Any]],
            created: str) -> dict[str, Any]:
    """The Data Package descriptor."""
    return {"profile": "data-package", "name": name.replace("_", "-"), "title": title, "description": description,
            "created": created, "contributors": [{"title": publisher, "role": "publisher"}],
            "resources": list(resources)}
