"""``justicelab standard``: the Justice Data Standard as a data dictionary, docs and JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.ingest.mapping import mapping_json_schema
from justicelab.standard import load_standard
from justicelab.standard.dictionary import (
    entity_dictionary,
    entity_summary,
    markdown_docs,
    standard_json_schemas,
)

app = typer.Typer(help="The Justice Data Standard: entity types, fields, code lists.", no_args_is_help=True)


@app.command("list")
def list_(fmt: Format = FormatOption) -> None:
    """Every entity type of the standard.

    Example: justicelab standard list
    """
    emit(entity_summary(load_standard()), fmt, "Justice Data Standard")


@app.command("show")
def show(
    entity: str = typer.Argument(..., help="Entity type, e.g. booking."),
    fmt: Format = FormatOption,
) -> None:
    """The data dictionary of one entity type: type, allowed values, privacy role, legal class, hierarchy.

    Example: justicelab standard show booking --format csv
    """
    standard = load_standard()
    e = standard.entity(entity)
    if fmt is Format.table:
        console.print(f"[bold]{e.title}[/] ({e.name}, {e.kind.value}) — {e.description.strip()}")
    emit(entity_dictionary(e, standard), fmt, None)
    if fmt is Format.table and e.rules:
        for r in e.rules:
            console.print(f"rule {r.name}: {r.left} {r.op} {r.right} — {r.message}")


@app.command("codelist")
def codelist(name: str = typer.Argument(..., help="Code list name, e.g. county."),
             fmt: Format = FormatOption) -> None:
    """The codes of one code list.

    Example: justicelab standard codelist custody_stage
    """
    cl = load_standard().codelist(name)
    emit([{"code": c.code, "label": c.label, **c.attributes} for c in cl.codes], fmt, cl.title)


@app.command("docs")
def docs(out: Path = typer.Argument(Path("docs/standard"), help="Folder to write Markdown into.")) -> None:
    """Generate the standard's reference docs (Markdown) from its YAML.

    Example: justicelab standard docs docs/standard
    """
    out.mkdir(parents=True, exist_ok=True)
    pages = markdown_docs(load_standard())
    for name, text in pages.items():
        (out / name).write_text(text, encoding="utf-8")
    console.print(f"wrote {len(pages)} pages to {out}")


@app.command("schema")
def schema(out: Path = typer.Argument(Path("schemas"), help="Folder to write JSON Schema files into.")) -> None:
    """Write JSON Schemas for mapping files and the standard's YAML (for editors' `$schema`).

    Example: justicelab standard schema schemas/
    """
    out.mkdir(parents=True, exist_ok=True)
    schemas = {"mapping.schema.json": mapping_json_schema(), **standard_json_schemas()}
    for name, body in schemas.items():
        (out / name).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {len(schemas)} schemas to {out}")
