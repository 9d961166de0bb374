"""``justicelab synth``: the synthetic city and state that the demo, tests and benchmarks share."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from justicelab.cli import synth_external_cmd
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.errors import WorkspaceError
from justicelab.workspace import SourceDecl, Workspace

app = typer.Typer(help="Generate a synthetic city or state, with answer keys.", no_args_is_help=True)


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console)


def _register(sources: Sequence[Any], out: Path) -> None:
    """Declare the generated extracts in the current workspace, copying their mappings into mappings/."""
    try:
        ws = Workspace.find()
    except WorkspaceError as exc:
        raise WorkspaceError(f"--register needs a workspace: {exc}") from None
    (ws.root / "mappings").mkdir(exist_ok=True)
    for s in sources:
        mapping_src = out / s.mapping  # manifests give paths relative to out, or absolute
        target = ws.root / "mappings" / mapping_src.name
        shutil.copyfile(mapping_src, target)
        data = out / s.path
        try:
            rel = str(data.resolve().relative_to(ws.root))
        except ValueError:
            rel = str(data.resolve())
        ws.add_source(SourceDecl(name=s.name, file=rel, mapping=f"mappings/{target.name}",
                                 department=s.department, description=f"synthetic {s.entity} extract"),
                      replace=True)
    console.print(f"declared {len(sources)} sources in {ws.config_path}")


def _rows(sources: Sequence[Any], out: Path) -> list[dict[str, Any]]:
    return [{"source": s.name, "department": s.department, "entity": s.entity, "file": str(out / s.path),
             "rows": s.rows} for s in sources]


@app.command("city")
def city(
    out: Path = typer.Argument(..., help="Folder for the extracts, mappings and answer key."),
    people: int = typer.Option(50_000, help="Residents in the synthetic city."),
    years: int = typer.Option(6, help="Years of records."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same files."),
    register: bool = typer.Option(False, "--register", help="Declare the extracts in the current workspace."),
    fmt: Format = FormatOption,
) -> None:
    """A synthetic city: each department's extract in its own format, ready mappings, an answer key.

    Example: justicelab synth city out/ --people 50000 --years 6 --seed 1
    """
    from justicelab.synth import generate_city

    out = out.resolve()
    with _progress_bar() as bar:
        task = bar.add_task("synthetic city", total=None)
        manifest = generate_city(out, people=people, years=years, seed=seed,
                                 progress=lambda stage, done, total: bar.update(
                                     task, description=stage, completed=done, total=total))
    emit(_rows(manifest.sources, out), fmt, "Synthetic city")
    if fmt is Format.table:
        console.print(f"answer key: {manifest.answer_key} (kept apart from the extracts)")
    if register:
        _register(manifest.sources, out)


@app.command("state")
def state(
    out: Path = typer.Argument(..., help="Folder for the files and mappings."),
    agencies: int = typer.Option(120, help="Reporting agencies."),
    years: int = typer.Option(10, help="Years of data."),
    first_year: int = typer.Option(2013, help="First year."),
    incidents: int = typer.Option(500_000, help="Reported crime incidents in all."),
    seed: int = typer.Option(1, help="Random seed."),
    register: bool = typer.Option(False, "--register", help="Declare the files in the current workspace."),
    fmt: Format = FormatOption,
) -> None:
    """A synthetic state: incident-level crime and arrests, agencies, population, and the same crime
    aggregated to the OpenJustice Crimes & Clearances layout.

    Example: justicelab synth state out/ --agencies 120 --years 10 --incidents 1000000
    """
    from justicelab.synth import generate_state

    out = out.resolve()
    with _progress_bar() as bar:
        task = bar.add_task("synthetic state", total=None)
        manifest = generate_state(out, agencies=agencies, years=years, first_year=first_year,
                                  incidents=incidents, seed=seed,
                                  progress=lambda stage, done, total: bar.update(
                                      task, description=stage, completed=done, total=total))
    emit(_rows(manifest.sources, out), fmt, "Synthetic state")
    if register:
        _register(manifest.sources, out)


app.command("external")(synth_external_cmd.external)
