"""``justicelab grant``: who may see what of a dataset, under which agreement, for which purpose, until when."""

from __future__ import annotations

import datetime as dt
import re

import typer

from justicelab.cli.control_cmd import AsOption, acting, day, grant_row, split_fields
from justicelab.cli.output import Format, FormatOption, console, emit
from justicelab.control.errors import ControlError
from justicelab.control.grants import add_grant, list_grants, revoke_grant
from justicelab.control.levels import Level
from justicelab.control.periods import check_period, shift, utcnow

app = typer.Typer(help="Grants: dataset × grantee × level × fields × row rule × agreement × purpose × term.",
                  no_args_is_help=True)


def last_day(text: str | None) -> dt.date | None:
    """``--expires`` as a last day: a date as given, or today moved on by a period (``30d``, ``1y``)."""
    if text is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        return day(text, "--expires")
    try:
        return shift(utcnow().date(), check_period(text.strip(), "--expires"))
    except ControlError:
        raise ControlError(f"--expires {text!r}: expected a last day (YYYY-MM-DD) or a period from today such as "
                           "90d, 12w, 18m or 1y") from None


@app.command("add")
def add(
    dataset: str = typer.Option(..., "--dataset", help="The dataset, e.g. ed_visit."),
    to: str = typer.Option(..., "--to", help="user:NAME, role:NAME or department:NAME."),
    level: Level = typer.Option(..., "--level", help="aggregate, deidentified or identified."),
    agreement: str = typer.Option(..., "--agreement", help="The agreement it is granted under."),
    fields: str = typer.Option(None, "--fields", help="Comma-separated fields (default: all the agreement covers)."),
    row_rule: str = typer.Option(None, "--row-rule", help="A row rule in YAML, e.g. "
                                 "'consent: {program: mdt, scope: part2}' or 'field_in: {field: x, values: [a]}'."),
    purpose: str = typer.Option(None, "--purpose", help="Only for this purpose of the agreement (default: any)."),
    starts: str = typer.Option(None, "--starts", help="First day (default: today or the agreement's start)."),
    expires: str = typer.Option(None, "--expires", help="Last day, YYYY-MM-DD, or a period from today such as "
                                "90d or 1y (default: the agreement's end)."),
    as_user: str = AsOption,
) -> None:
    """Grant access (a steward of the owning department, or an admin), within the agreement's terms.

    Example: justicelab grant add --dataset ed_visit --to role:mdt_member --level deidentified --agreement dsa-2017
    --expires 2027-06-30 --as alice
    """
    with acting(as_user) as (session, actor):
        grant = add_grant(session, actor, dataset=dataset, principal=to, level=level, agreement=agreement,
                          fields=split_fields(fields), row_rule=row_rule, purpose=purpose,
                          starts=day(starts, "--starts"), expires=last_day(expires))
        gid, until = grant.id, grant.expires
    console.print(f"Grant [bold]#{gid}[/]: {to} may see {dataset} at {level.value} until {until}")


@app.command("list")
def list_cmd(dataset: str = typer.Option(None, "--dataset"), to: str = typer.Option(None, "--to"),
             all_: bool = typer.Option(False, "--all", help="Include revoked grants."),
             as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Grants, by dataset and/or grantee. Example: justicelab grant list --dataset ed_visit --as alice"""
    with acting(as_user) as (session, _):
        rows = [grant_row(g) for g in list_grants(session, dataset=dataset, principal=to, include_revoked=all_)]
    emit(rows, fmt, "Grants")


@app.command("revoke")
def revoke(grant_id: int, reason: str = typer.Option(None, "--reason", help="Why (kept in the ledger)."),
           as_user: str = AsOption) -> None:
    """Revoke a grant (a steward of the owning department, or an admin).

    Example: justicelab grant revoke 3 --reason "project ended" --as alice
    """
    with acting(as_user) as (session, actor):
        revoke_grant(session, actor, grant_id, reason)
    console.print(f"Revoked grant [bold]#{grant_id}[/]")
