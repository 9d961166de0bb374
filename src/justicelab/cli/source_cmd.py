"""``justicelab source``: declare the department extracts a workspace ingests."""

from __future__ import annotations

from pathlib import Path

import typer

from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.ingest import load_mapping
from justicelab.workspace import SourceDecl, Workspace

app = typer.Typer(help="Declare and list the sources (department extracts) of the workspace.",
                  no_args_is_help=True)


def _relative(ws: Workspace, path: Path) -> str:
    path = path.resolve()
    try:
        return str(path.relative_to(ws.root))
    except ValueError:
        return str(path)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Source name (lower case, e.g. police_citations)."),
    file: Path = typer.Option(..., "--file", help="The extract file."),
    mapping: Path = typer.Option(..., "--mapping", help="Its mapping YAML (validated now)."),
    department: str = typer.Option(None, "--department", help="Owning department."),
    replace: bool = typer.Option(False, "--replace", help="Replace a source of the same name."),
) -> None:
    """Declare a source so that `justicelab ingest --all` loads it.

    Example: justicelab source add police_citations --file data/police_citations.csv
             --mapping mappings/police_citations.yaml --department police
    """
    ws = Workspace.find()
    loaded = load_mapping(mapping)
    decl = SourceDecl(name=name, file=_relative(ws, file), mapping=_relative(ws, mapping),
                      department=department or loaded.mapping.department, description=loaded.mapping.description)
    ws.add_source(decl, replace=replace)
    console.print(f"declared source {name} ({loaded.mapping.entity}) in {ws.config_path}")


@app.command("list")
def list_(fmt: Format = FormatOption) -> None:
    """The sources declared in justicelab.toml.

    Example: justicelab source list --format json
    """
    ws = Workspace.find()
    emit([s.model_dump() for s in ws.config.sources], fmt, "Sources")
