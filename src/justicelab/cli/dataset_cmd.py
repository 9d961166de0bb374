"""``justicelab dataset``: the standard tables departments own and share."""

from __future__ import annotations

import typer

from justicelab.cli.control_cmd import AsOption, acting
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.control.datasets import SourceOwner, add_dataset, list_datasets, sync_datasets
from justicelab.ingest import load_mapping
from justicelab.workspace import Workspace

app = typer.Typer(help="Datasets: standard entity tables, each owned by one department.", no_args_is_help=True)


@app.command("add")
def add(name: str = typer.Argument(..., help="An entity type of the standard, e.g. ed_visit."),
        owner: str = typer.Option(..., "--owner", help="The department that owns it."),
        description: str = typer.Option(None, "--description"), as_user: str = AsOption) -> None:
    """Register a dataset and its owning department (an admin, or a steward of that department).

    Example: justicelab dataset add ed_visit --owner health --as root
    """
    with acting(as_user) as (session, actor):
        add_dataset(session, actor, name, owner, description)
    console.print(f"Registered dataset [bold]{name}[/], owned by {owner}")


@app.command("list")
def list_cmd(as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Registered datasets and their owners. Example: justicelab dataset list --as alice"""
    with acting(as_user) as (session, _):
        rows = [{"dataset": d.name, "owner": d.owner.code, "description": d.description, "registered": d.created_at}
                for d in list_datasets(session)]
    emit(rows, fmt, "Datasets")


@app.command("sync")
def sync(dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be registered."),
         as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Register the dataset of every source in justicelab.toml, owned by the source's department (the
    source's `department`, else its mapping's), adding missing departments (admin). Sources of one entity
    from two departments are an error: register that dataset by hand.

    Example: justicelab dataset sync --dry-run --as root
    """
    ws = Workspace.find()
    owners = []
    for s in ws.config.sources:
        mapping = load_mapping(ws.path(s.mapping)).mapping
        owners.append(SourceOwner(s.name, mapping.entity, s.department or mapping.department))
    with acting(as_user) as (session, actor):
        rows = [r.__dict__ for r in sync_datasets(session, actor, owners, dry_run=dry_run)]
    emit(rows, fmt, "Datasets from the workspace's sources")
