"""``justicelab department``: the organisations that own data."""

from __future__ import annotations

import typer

from justicelab.cli.control_cmd import AsOption, acting
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.control.accounts import add_department, list_departments

app = typer.Typer(help="Departments: the organisations that own and share data.", no_args_is_help=True)


@app.command("add")
def add(code: str = typer.Argument(..., help="Short lower-case code, e.g. health."),
        name: str = typer.Option(..., "--name", help="Full name."), as_user: str = AsOption) -> None:
    """Register a department (admin).

    Example: justicelab department add health --name "Health and Human Services"
    """
    with acting(as_user) as (session, actor):
        dep = add_department(session, actor, code, name)
    console.print(f"Added department [bold]{dep.code}[/] ({dep.name})")


@app.command("list")
def list_cmd(as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Every department and its datasets.

    Example: justicelab department list --format json
    """
    from justicelab.control.datasets import list_datasets

    with acting(as_user) as (session, _):
        owned: dict[str, list[str]] = {}
        for ds in list_datasets(session):
            owned.setdefault(ds.owner.code, []).append(ds.name)
        rows = [{"department": d.code, "name": d.name, "datasets": ", ".join(owned.get(d.code, [])),
                 "created": d.created_at} for d in list_departments(session)]
    emit(rows, fmt, "Departments")
