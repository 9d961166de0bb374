"""``justicelab audit``: the tamper-evident ledger of every read and every control-plane change."""

from __future__ import annotations

import typer

from justicelab.cli.control_cmd import AsOption, acting, control_session, moment
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping, err_console
from justicelab.control.audit import entries, verify
from justicelab.control.errors import ControlError
from justicelab.control.visibility import concerns_user, visible_entries

app = typer.Typer(help="The audit ledger: append-only, hash-chained.", no_args_is_help=True)


@app.command("list")
def list_cmd(user: str = typer.Option(None, "--user", help="Only entries by this user."),
             about: str = typer.Option(None, "--about", help="Only entries about this user (grants to them, "
                                       "decisions on their requests, their logins and tokens)."),
             action: str = typer.Option(None, "--action", help="Only this action and its sub-actions (read, "
                                        "grant, login, ...)."),
             target: str = typer.Option(None, "--target", help="Only this target, e.g. ed_visit or grant:3."),
             since: str = typer.Option(None, "--since", help="From this date/time (UTC)."),
             until: str = typer.Option(None, "--until", help="Before this date/time (UTC)."),
             limit: int = typer.Option(None, "--limit", help="Only the last N matching entries."),
             as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Ledger entries, oldest first: an admin sees all; a steward those that concern their departments
    (done by or about their members, or about their datasets).

    Example: justicelab audit list --user bob --since 2026-01-01 --as root
    """
    with acting(as_user) as (session, actor):
        found = visible_entries(session, actor, entries(
            session, actor=user, action=action, target=target, since=moment(since, "--since"),
            until=moment(until, "--until")))
    if about is not None:
        found = [e for e in found if concerns_user(e, [about])]
    if limit is not None:
        found = found[-limit:] if limit > 0 else []
    rows = [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
             "details": e.details if fmt is not Format.json else e.details_dict, "hash": e.hash} for e in found]
    emit(rows, fmt, "Audit ledger")


def _anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise ControlError(f"--expect {text!r}: expected SEQ:HASH as printed by an earlier `audit verify`")
    return int(seq), digest


@app.command("verify")
def verify_cmd(expect: list[str] = typer.Option([], "--expect", help="SEQ:HASH noted from an earlier verify "
                                                "(repeatable): also proves nothing before it was rewritten."),
               fmt: Format = FormatOption) -> None:
    """Recompute the hash chain: prints the entry count and head hash if intact, or names the first broken
    entry (edited, deleted, reordered, inserted) and exits with status 1.

    Example: justicelab audit verify
    """
    anchors = dict(_anchor(a) for a in expect)
    with control_session() as session:
        verdict = verify(session, anchors)
    if fmt is not Format.table:
        emit_mapping(verdict.as_dict(), fmt)
    elif verdict.ok:
        console.print(f"Ledger intact: {verdict.count} entries, head #{verdict.count} {verdict.head_hash}")
    else:
        err_console.print(f"[bold red]Ledger broken at entry #{verdict.broken_seq}:[/] {verdict.problem} "
                          f"({verdict.count} entries verified before it)", highlight=False)
    if not verdict.ok:
        raise typer.Exit(1)
