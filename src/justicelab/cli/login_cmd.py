"""``justicelab login`` / ``logout``: act on the command line as a user who proved it with their password."""

from __future__ import annotations

import sys

import typer

from justicelab.cli.control_cmd import control_session
from justicelab.cli.output import console
from justicelab.cli.sessions import forget, logged_in, remember
from justicelab.control import ControlError
from justicelab.control.accounts import MAX_SESSION_HOURS, get_token, open_session, revoke_token
from justicelab.workspace import Workspace


def login(username: str = typer.Argument(..., help="Your user name."),
          hours: float = typer.Option(8, "--hours", help=f"How long the session lasts (at most {MAX_SESSION_HOURS})."),
          password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard "
                                              "input (scripts).")) -> None:
    """Log in: asks for your password (five wrong ones in 15 minutes lock the account for a while) and keeps a
    session token for this workspace in your own configuration folder, so that later commands act as you
    without --as. Several users may be logged in; --as picks one.

    Example: justicelab login alice
    """
    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin
                else str(typer.prompt("Password", hide_input=True)))
    workspace = Workspace.find()
    with control_session() as session:
        row, token = open_session(session, username, password, hours, "cli login")
        expires = row.expires_at
    remember(workspace, username, token)
    console.print(f"Logged in as [bold]{username}[/] until {expires:%Y-%m-%d %H:%M} UTC", highlight=False)


def logout(username: str = typer.Argument(None, help="Whose session to end (default: the only one).")) -> None:
    """Log out: revokes the session's token and forgets it.

    Example: justicelab logout alice
    """
    workspace = Workspace.find()
    mine = logged_in(workspace)
    if username is None:
        if len(mine) != 1:
            raise ControlError("name the user to log out: " + (", ".join(sorted(mine)) or "nobody is logged in"))
        username = next(iter(mine))
    token = mine.get(username)
    if token is None:
        raise ControlError(f"{username} is not logged in here")
    with control_session() as session:
        row = get_token(session, token.split("_")[1])
        if row.revoked_at is None:
            revoke_token(session, row.user, row.token_id)
    forget(workspace, username)
    console.print(f"Logged out [bold]{username}[/]")
