"""``justicelab token``: API tokens, shown once and stored only as a hash."""

from __future__ import annotations

import json
import sys

import typer

from justicelab.cli.control_cmd import AsOption, acting
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.control.accounts import create_token, list_tokens, revoke_token
from justicelab.control.authz import require_admin
from justicelab.control.periods import expiry
from justicelab.control.visibility import visible_tokens

app = typer.Typer(help="API tokens for scripts and the web API: shown once, stored as a hash.", no_args_is_help=True)


@app.command("create")
def create(
    username: str = typer.Argument(..., help="Whose token (yourself, or anyone if you are an admin)."),
    expires: str = typer.Option("90d", "--expires", help="Lifetime (30d, 12w, 6m, 1y) or last day (YYYY-MM-DD)."),
    label: str = typer.Option(None, "--label", help="What the token is for."),
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """Create an API token and print it once: store it now, it cannot be shown again.

    Example: justicelab token create alice --expires 30d --as alice
    """
    with acting(as_user) as (session, actor):
        row, token = create_token(session, actor, username, expiry(expires), label)
        info = {"token_id": row.token_id, "user": username, "expires_at": row.expires_at, "token": token}
    if fmt is Format.json:
        sys.stdout.write(json.dumps(info, default=str, indent=2) + "\n")
        return
    err_console.print(f"Token {row.token_id} for {username}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC. "
                      "Store it now: it is not kept and cannot be shown again.")
    sys.stdout.write(token + "\n")


@app.command("list")
def list_cmd(username: str = typer.Argument(None, help="Only this user's tokens."), as_user: str = AsOption,
             fmt: Format = FormatOption) -> None:
    """Tokens (never their secrets): id, owner, created, expires, revoked, last used.

    Example: justicelab token list alice --as alice
    """
    with acting(as_user) as (session, actor):
        if username is not None and username != actor.username:
            require_admin(actor, f"list {username}'s tokens")
        rows = [{"token_id": t.token_id, "user": t.user.username, "label": t.label, "created": t.created_at,
                 "expires": t.expires_at, "revoked": t.revoked_at, "last_used": t.last_used_at}
                for t in visible_tokens(actor, list_tokens(session, username))]
    emit(rows, fmt, "API tokens")


@app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The token id (the part after jlt_, see token list)."),
           as_user: str = AsOption) -> None:
    """Revoke a token (its owner or an admin). Example: justicelab token revoke 3f9a01bc --as alice"""
    with acting(as_user) as (session, actor):
        revoke_token(session, actor, token_id)
    console.print(f"Revoked token [bold]{token_id}[/]")
