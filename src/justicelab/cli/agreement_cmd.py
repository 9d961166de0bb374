"""``justicelab agreement``: machine-readable data-sharing agreements (YAML, validated by a schema)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from justicelab.cli.control_cmd import AsOption, acting, agreement_row
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping
from justicelab.control.agreement_schema import agreement_json_schema
from justicelab.control.agreements import add_agreement, get_agreement, list_agreements, read_agreement

app = typer.Typer(help="Data-sharing agreements: parties, purposes, datasets and fields, maximum level, "
                  "minimum cell size, retention, onward sharing, legal basis, term.", no_args_is_help=True)


@app.command("add")
def add(path: Path = typer.Argument(..., help="The agreement's YAML file."),
        replace: bool = typer.Option(False, "--replace", help="Store it as a new version of the same id."),
        as_user: str = AsOption) -> None:
    """Validate and store an agreement (an admin or a steward of a party).

    Example: justicelab agreement add dsa-2017.yaml --as alice
    """
    with acting(as_user) as (session, actor):
        row = add_agreement(session, actor, path, replace=replace)
        code, version = row.code, row.version
    console.print(f"Stored agreement [bold]{code}[/] (version {version})")


@app.command("check")
def check(path: Path = typer.Argument(..., help="The agreement's YAML file.")) -> None:
    """Validate an agreement file against the schema and the standard without storing it.

    Example: justicelab agreement check dsa-2017.yaml
    """
    parsed = read_agreement(path)
    console.print(f"{path}: agreement [bold]{parsed.code}[/] is valid")


@app.command("list")
def list_cmd(as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Stored agreements. Example: justicelab agreement list --as alice --format json"""
    with acting(as_user) as (session, _):
        rows = [agreement_row(a) for a in list_agreements(session)]
    if fmt is Format.table:
        keep = ("agreement", "title", "version", "parties", "datasets", "maximum_level", "start", "end")
        rows = [{k: r[k] for k in keep} for r in rows]
    emit(rows, fmt, "Agreements")


@app.command("show")
def show(code: str, document: bool = typer.Option(False, "--document", help="Print the YAML document as stored."),
         as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """One agreement's terms, or its document. Example: justicelab agreement show dsa-2017 --as alice"""
    with acting(as_user) as (session, _):
        row = get_agreement(session, code)
        text, terms = row.document, agreement_row(row)
    if document:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    emit_mapping(terms, fmt, f"Agreement {code}")


@app.command("schema")
def schema(output: Path = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout).")) -> None:
    """The JSON Schema of agreement files, for editors (``$schema:`` in the YAML).

    Example: justicelab agreement schema -o schemas/agreement.schema.json
    """
    text = json.dumps(agreement_json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote {output}")
