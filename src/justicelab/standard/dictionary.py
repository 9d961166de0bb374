"""The standard as a data dictionary: rows for the CLI, Markdown for the docs, JSON Schema for editors.

Docs are generated from the YAML, never written twice (invariant 1).
"""

from __future__ import annotations

from typing import Any

from justicelab.standard.loader import Standard
from justicelab.standard.models import CodeList, EntityType, FieldGroup, Hierarchy, ResolvedEntity


def _allowed(field_codelist: str | None, standard: Standard) -> str:
    if not field_codelist:
        return ""
    codes = standard.codelist(field_codelist).values()
    shown = ", ".join(codes[:8]) + (f" … ({len(codes)} codes)" if len(codes) > 8 else "")
    return f"{field_codelist}: {shown}"


def _range(minimum: Any, maximum: Any) -> str:
    if minimum is None and maximum is None:
        return ""
    return f"{'' if minimum is None else minimum} .. {'' if maximum is None else maximum}"


def entity_dictionary(entity: ResolvedEntity, standard: Standard) -> list[dict[str, Any]]:
    """One row per field: everything a data user needs to read the table correctly."""
    return [
        {
            "field": f.name,
            "type": f.type.value,
            "required": f.required,
            "allowed": _allowed(f.codelist, standard),
            "range": _range(f.minimum, f.maximum),
            "privacy_role": f.privacy_role.value,
            "legal_class": f.legal_class.value,
            "hierarchy": f.hierarchy or "",
            "description": f.description,
        }
        for f in entity.fields
    ]


def entity_summary(standard: Standard) -> list[dict[str, Any]]:
    return [
        {
            "entity": e.name,
            "title": e.title,
            "kind": e.kind.value,
            "fields": len(e.fields),
            "direct_identifiers": sum(f.privacy_role.value == "direct_identifier" for f in e.fields),
            "legal_classes": ", ".join(sorted({f.legal_class.value for f in e.fields})),
        }
        for e in standard.entities.values()
    ]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def entity_markdown(entity: ResolvedEntity, standard: Standard) -> str:
    lines = [f"# {entity.title} (`{entity.name}`)", "", entity.description.strip(), "",
             f"Kind: {entity.kind.value}. Natural key by default: "
             f"{', '.join(entity.default_key) or '(none: declared per mapping)'}.", "",
             "| field | type | required | allowed values | range | privacy role | legal class | hierarchy |"
             " description |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in entity_dictionary(entity, standard):
        lines.append("| " + " | ".join(_md_escape(str(row[k])) for k in (
            "field", "type", "required", "allowed", "range", "privacy_role", "legal_class", "hierarchy",
            "description")) + " |")
    if entity.rules:
        lines += ["", "## Cross-field rules", ""]
        lines += [f"* `{r.name}`: {r.left} {r.op} {r.right} — {r.message}" for r in entity.rules]
    return "\n".join(lines) + "\n"


def codelist_markdown(codelist: CodeList) -> str:
    lines = [f"## {codelist.title} (`{codelist.name}`)", "", codelist.description.strip(), "",
             "| code | label |", "|---|---|"]
    lines += [f"| `{c.code}` | {_md_escape(c.label)} |" for c in codelist.codes]
    return "\n".join(lines) + "\n"


def markdown_docs(standard: Standard) -> dict[str, str]:
    """File name -> Markdown for the whole standard (an index, one page per entity, the code lists)."""
    pages = {f"{name}.md": entity_markdown(e, standard) for name, e in standard.entities.items()}
    index = ["# The Justice Data Standard", "", "Generated from the standard's YAML by `justicelab standard docs`.",
             "", "| entity | title | kind | fields |", "|---|---|---|---|"]
    index += [f"| [{e.name}]({e.name}.md) | {e.title} | {e.kind.value} | {len(e.fields)} |"
              for e in standard.entities.values()]
    pages["README.md"] = "\n".join(index) + "\n"
    pages["codelists.md"] = "# Code lists\n\n" + "\n".join(
        codelist_markdown(c) for _, c in sorted(standard.codelists.items())
    )
    return pages


def standard_json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the standard's YAML files, for editors and external validators."""
    from pydantic import TypeAdapter

    return {
        "entity.schema.json": EntityType.model_json_schema(),
        "field-group.schema.json": FieldGroup.model_json_schema(),
        "codelist.schema.json": CodeList.model_json_schema(),
        "hierarchies.schema.json": TypeAdapter(list[Hierarchy]).json_schema(),
    }
