"""``justicelab consent``: persons' consents to a program using their records of one legal class."""

from __future__ import annotations

import datetime as dt

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.control_cmd import AsOption, acting, consent_row, day
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.control.consent import list_consents, record_consent, revoke_consent
from justicelab.control.errors import ControlError
from justicelab.control.visibility import visible_consents
from justicelab.linkage.store import PERSON_INDEX

app = typer.Typer(help="Consent: a person's consent to a program (e.g. mdt) for one legal class (e.g. part2).",
                  no_args_is_help=True)
ScopeHelp = "Legal class the consent covers: public, cori, hipaa, part2, personnel or hmis."


def _require_indexed(person_id: str) -> None:
    """A consent names a person of the person index: refuse an id the index does not hold (a typo would
    otherwise be recorded, admit nobody, and read as consent given)."""
    with open_warehouse() as (_, wh):
        if not wh.has_table(PERSON_INDEX):
            err_console.print(f"note: no person index yet (`justicelab link run` makes one), so {person_id} "
                              "cannot be checked", highlight=False, markup=False)
            return
        index = wh.ibis.table(PERSON_INDEX)
        if not index.filter(index.person_id == person_id).count().execute():
            raise ControlError(f"no person {person_id!r} in the person index (ids look like PER-00000042)")


@app.command("record")
def record(person_id: str = typer.Argument(..., help="The person index id, e.g. PER-00000042."),
           program: str = typer.Option(..., "--program"), scope: str = typer.Option(..., "--scope", help=ScopeHelp),
           expires: str = typer.Option(None, "--expires", help="Last day the consent holds (YYYY-MM-DD)."),
           note: str = typer.Option(None, "--note", help="E.g. where the signed form is kept."),
           as_user: str = AsOption) -> None:
    """Record a consent (an MDT member, a steward or an admin).

    Example: justicelab consent record PER-00000042 --program mdt --scope part2 --expires 2027-01-01 --as carol
    """
    _require_indexed(person_id)
    with acting(as_user) as (session, actor):
        row = record_consent(session, actor, person_id, program=program, scope=scope,
                             expires=day(expires, "--expires"), note=note)
        cid = row.id
    console.print(f"Recorded consent [bold]#{cid}[/]: {person_id}, {program}/{scope}"
                  + (f", through {expires}" if expires else ""))


@app.command("revoke")
def revoke(person_id: str, program: str = typer.Option(..., "--program"),
           scope: str = typer.Option(None, "--scope", help="Only this scope (default: every scope)."),
           reason: str = typer.Option(None, "--reason"), as_user: str = AsOption) -> None:
    """Revoke a person's current consent(s) for a program.

    Example: justicelab consent revoke PER-00000042 --program mdt --scope part2 --as carol
    """
    with acting(as_user) as (session, actor):
        rows = revoke_consent(session, actor, person_id, program=program, scope=scope, reason=reason)
        n = len(rows)
    console.print(f"Revoked {n} consent(s) of {person_id} for {program}")


@app.command("list")
def list_cmd(person: str = typer.Option(None, "--person"), program: str = typer.Option(None, "--program"),
             current: bool = typer.Option(False, "--current", help="Only consents in force now."),
             as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Consent records: an admin sees all; others (who may record consent) see those their departments
    recorded. Example: justicelab consent list --program mdt --current --as carol"""
    with acting(as_user) as (session, actor):
        rows = [consent_row(c) for c in visible_consents(session, actor, list_consents(
            session, person_id=person, program=program, current_at=dt.datetime.now(dt.UTC) if current else None))]
    emit(rows, fmt, "Consents")
