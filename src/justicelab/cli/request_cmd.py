"""``justicelab request``: users ask for access; the owning department's stewards approve or decline."""

from __future__ import annotations

import typer

from justicelab.cli.control_cmd import AsOption, acting, day, request_row, split_fields
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping, err_console
from justicelab.control.access_requests import (
    approve_request,
    decline_request,
    get_request,
    list_requests,
    request_access,
    unapprovable,
    who_decides,
)
from justicelab.control.errors import NotPermitted
from justicelab.control.levels import Level
from justicelab.control.visibility import may_see_request, visible_requests

app = typer.Typer(help="Access requests: ask for access; a steward of the owning department decides.",
                  no_args_is_help=True)


@app.command("add")
def add(dataset: str = typer.Option(..., "--dataset"), level: Level = typer.Option(..., "--level"),
        purpose: str = typer.Option(..., "--purpose", help="What the data is for (one of an agreement's purposes)."),
        fields: str = typer.Option(None, "--fields", help="Comma-separated fields (default: all)."),
        as_user: str = AsOption) -> None:
    """Ask for access to a dataset.

    Example: justicelab request add --dataset ed_visit --level identified --purpose "MDT case review" --as bob
    """
    with acting(as_user) as (session, actor):
        req = request_access(session, actor, dataset=dataset, level=level, purpose=purpose,
                             fields=split_fields(fields))
        rid, decides, problem = req.id, who_decides(session, req), unapprovable(session, req)
    console.print(f"Request [bold]#{rid}[/] filed; {decides} will decide", highlight=False)
    if problem:
        err_console.print(f"note: as asked, it cannot be approved yet ({problem}); the steward may ask for "
                          "the agreement to be amended, or decline it", highlight=False, markup=False)


@app.command("list")
def list_cmd(status: str = typer.Option("pending", "--status", help="pending, approved, declined or all."),
             dataset: str = typer.Option(None, "--dataset"), as_user: str = AsOption,
             fmt: Format = FormatOption) -> None:
    """Requests (pending ones by default): yours, and those on your department's datasets if you are a
    steward (an admin sees all). Example: justicelab request list --as alice"""
    with acting(as_user) as (session, actor):
        rows = [request_row(r) for r in visible_requests(actor, list_requests(
            session, status=None if status == "all" else status, dataset=dataset))]
    emit(rows, fmt, "Access requests")


@app.command("show")
def show(request_id: int, as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """One request. Example: justicelab request show 7 --as alice"""
    with acting(as_user) as (session, actor):
        req = get_request(session, request_id)
        if not may_see_request(actor, req):
            raise NotPermitted(f"{actor.username} may not see request #{request_id}: only its requester, the "
                               f"stewards of {req.dataset.owner.code} or an admin may")
        row = request_row(req)
    emit_mapping(row, fmt, f"Request #{request_id}")


@app.command("approve")
def approve(request_id: int,
            agreement: str = typer.Option(None, "--agreement", help="Grant under this agreement (default: the one "
                                          "in force that covers the dataset, level, fields and purpose)."),
            expires: str = typer.Option(None, "--expires", help="Last day (default: the agreement's end)."),
            fields: str = typer.Option(None, "--fields", help="Grant only these of the fields asked for."),
            row_rule: str = typer.Option(None, "--row-rule", help="Grant only the rows this rule admits, e.g. "
                                         "'consent: {program: mdt, scope: part2}' (as in grant add)."),
            as_user: str = AsOption) -> None:
    """Approve a request: creates the grant to the requester, or a narrower one (--fields, --row-rule).

    Example: justicelab request approve 7 --row-rule "consent: {program: mdt, scope: part2}" --as alice
    """
    with acting(as_user) as (session, actor):
        req, grant = approve_request(session, actor, request_id, agreement=agreement,
                                     expires=day(expires, "--expires"), fields=split_fields(fields),
                                     row_rule=row_rule)
        msg = (f"Approved request #{req.id}: grant #{grant.id} to {req.requester.username} on {req.dataset.name} "
               f"at {grant.level} under {grant.agreement.code} until {grant.expires}"
               + (f", rows: {grant.row_rule}" if grant.row_rule else "")
               + (f", fields: {', '.join(grant.fields)}" if grant.fields else ""))
    console.print(msg)


@app.command("decline")
def decline(request_id: int, reason: str = typer.Option(..., "--reason", help="Why (the requester sees it)."),
            as_user: str = AsOption) -> None:
    """Decline a request with a reason. Example: justicelab request decline 7 --reason "no agreement covers it" """
    with acting(as_user) as (session, actor):
        decline_request(session, actor, request_id, reason)
    console.print(f"Declined request [bold]#{request_id}[/]")
