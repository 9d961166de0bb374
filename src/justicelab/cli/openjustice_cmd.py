"""``justicelab openjustice``: load (or download) the California DOJ OpenJustice files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.sources.openjustice import download as download_files
from justicelab.sources.openjustice import load_all

app = typer.Typer(help="California DOJ OpenJustice files: load into the standard tables, or download.",
                  no_args_is_help=True)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description:<36}"), BarColumn(), TextColumn("{task.fields[stage]:<12}"),
                    TimeElapsedColumn(), console=err_console)


@app.command("load")
def load(
    folder: Path = typer.Argument(..., help="Folder holding the DOJ files (e.g. ../shared/data/openjustice)."),
    fmt: Format = FormatOption,
) -> None:
    """Load every OpenJustice file in FOLDER: agencies, crimes and clearances, deaths in custody,
    personnel and population. Names that match no directory entry are reported, never dropped.

    Example: justicelab openjustice load ../shared/data/openjustice
    """
    with open_warehouse() as (_, wh), _bar() as bar:

        def step(label: str) -> Callable[[str, int, int], None]:
            task = bar.add_task(label, total=None, stage="")
            return lambda stage, done, total: bar.update(task, completed=done, total=total or None, stage=stage)

        result = load_all(wh, folder, on_step=step)
    emit([{"source": b.source, "entity": b.entity, "status": b.status, "read": b.rows_read,
           "loaded": b.rows_loaded, "quarantined": b.rows_quarantined, "batch": b.batch_id}
          for b in result.batches], fmt, "OpenJustice")
    if result.unmatched and fmt is Format.table:
        console.print(f"{len(result.unmatched)} names matched no directory entry:")
        emit([vars(u) for u in result.unmatched[:50]], fmt)


@app.command("download")
def download(
    folder: Path = typer.Argument(..., help="Folder to download into."),
    base_url: str = typer.Option(None, "--base-url", help="Fetch every file from this mirror instead."),
) -> None:
    """Download the OpenJustice files (the only command that uses the network).

    Example: justicelab openjustice download data/openjustice
    """
    with _bar() as bar:
        task = bar.add_task("download", total=None, stage="")
        paths = download_files(folder, base_url=base_url,
                               progress=lambda stage, done, total: bar.update(task, completed=done, total=total,
                                                                              stage=stage))
    console.print(f"downloaded {len(paths)} files into {folder}")
