"""``justicelab ingest``: load one file with a mapping, or every source the workspace declares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.errors import JusticelabError
from justicelab.ingest import BatchResult, ingest_file, load_mapping
from justicelab.ingest.declared import SourceFailure, ingest_declared
from justicelab.ingest.pipeline import STAGES

_COLUMNS = {"status": "status", "batch": "batch_id", "source": "source", "entity": "entity",
            "read": "rows_read", "loaded": "rows_loaded", "inserted": "rows_inserted", "updated": "rows_updated",
            "unchanged": "rows_unchanged", "quarantined": "rows_quarantined"}


def _row(r: BatchResult) -> dict[str, object]:
    out: dict[str, object] = {short: getattr(r, attr) for short, attr in _COLUMNS.items()}
    out["seconds"] = round(r.seconds, 2)
    return out


def ingest(
    file: Path = typer.Argument(None, help="A source file to load (CSV/TSV, Excel, Parquet or JSON lines)."),
    mapping: Path = typer.Option(None, "--mapping", "-m", help="Mapping YAML for FILE."),
    all_sources: bool = typer.Option(False, "--all", help="Load every source declared in justicelab.toml."),
    source: list[str] = typer.Option(None, "--source", "-s", help="Load only these declared sources."),
    fmt: Format = FormatOption,
) -> None:
    """Load source files into the warehouse: valid rows load, the rest go to quarantine with reasons.

    Each file is one atomic batch; loading the same file again changes nothing; a corrected
    re-delivery updates records by natural key and reports what changed.

    Examples:
      justicelab ingest --all
      justicelab ingest police_citations.csv --mapping mappings/police_citations.yaml
    """
    if not all_sources and not source and file is None:
        raise typer.BadParameter("give FILE with --mapping, or --all, or --source NAME")
    if file is not None and mapping is None:
        raise typer.BadParameter("FILE needs --mapping")
    with open_warehouse() as (ws, wh), Progress(
        TextColumn("{task.description:<24}"), BarColumn(), TextColumn("{task.fields[stage]:<10}"),
        TimeElapsedColumn(), console=err_console, transient=fmt is not Format.table,
    ) as bar:

        def tracker(name: str) -> Callable[[str, int, int], None]:
            task = bar.add_task(name, total=len(STAGES), stage="waiting")
            return lambda stage, done, total: bar.update(task, completed=done, stage=stage)

        if file is not None:
            loaded = load_mapping(mapping)
            results = [ingest_file(wh, file, loaded, progress=tracker(loaded.source_name))]
            failures: list[SourceFailure] = []
        else:
            results, failures = ingest_declared(ws, wh, source or None, on_source=lambda d: tracker(d.name))
    emit([_row(r) for r in results], fmt, "Ingest")
    if fmt is Format.table:
        for r in results:
            if r.status == "skipped":
                console.print(f"{r.source}: {r.file} was already loaded (batch {r.batch_id}); nothing changed")
            if r.rows_updated:
                changed = ", ".join(f"{f} ({n})" for f, n in sorted(r.changed_fields.items()))
                console.print(f"{r.source}: {r.rows_updated} records updated by natural key; fields changed: "
                              f"{changed}")
            if r.rows_quarantined:
                console.print(f"{r.source}: {r.rows_quarantined} rows quarantined — "
                              f"`justicelab quarantine show {r.batch_id}`")
            for note in (n for n in r.notes if r.status != "skipped"):
                console.print(f"{r.source}: {note}")
    for f in failures:
        err_console.print(f"[bold red]error:[/] {f.source}: {f.error}", highlight=False, soft_wrap=True)
    if failures:
        raise JusticelabError(f"{len(failures)} of {len(failures) + len(results)} sources failed; "
                              "nothing of the failed sources was loaded")
