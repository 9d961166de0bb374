"""``justicelab user``: people, their departments and roles, their passwords (argon2 hashes)."""

from __future__ import annotations

import sys

import typer

from justicelab.cli.control_cmd import AsOption, acting, acting_token, control_session, user_row
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping
from justicelab.control import acting_user
from justicelab.control.accounts import (
    add_user,
    disable_user,
    enable_user,
    get_user,
    list_users,
    set_password,
    user_count,
)
from justicelab.control.authz import require_admin
from justicelab.control.errors import ControlError
from justicelab.control.models import ROLES
from justicelab.workspace import Workspace

app = typer.Typer(help="Users: members of departments with roles (" + ", ".join(ROLES) + ").",
                  no_args_is_help=True)
ReasonOption = typer.Option(..., "--reason", help="Why (kept in the ledger).")
PasswordStdin = typer.Option(False, "--password-stdin", help="Read the password from standard input (scripts).")


def _line(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise ControlError(f"--password-stdin: no {what} on standard input")
    return value


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return _line("password")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name, e.g. alice."),
    department: list[str] = typer.Option([], "--department", "-d", help="Department (repeat for several)."),
    role: list[str] = typer.Option([], "--role", "-r", help=f"Role (repeat for several): {', '.join(ROLES)}."),
    full_name: str = typer.Option(None, "--name", help="Full name."),
    password_stdin: bool = PasswordStdin,
    as_user: str = AsOption,
) -> None:
    """Add a user; asks for the password (hidden, twice). The first user of a new control plane must be an
    admin and needs no --as (bootstrap); after that an admin adds users.

    Examples: justicelab user add root --role admin | justicelab user add alice --department health --role
    steward --as root
    """
    with control_session() as session:  # refuse before asking for a password nobody may set
        bootstrap = user_count(session) == 0
    token = None if bootstrap else acting_token(Workspace.find(), as_user)
    if not bootstrap:
        with control_session() as session:
            require_admin(acting_user(session, as_user, token), "add users")
    password = _password(password_stdin)
    with control_session() as session:
        actor = None if user_count(session) == 0 else acting_user(session, as_user, token)
        user = add_user(session, actor, username, roles=role, departments=department, password=password,
                        full_name=full_name)
        summary = user_row(user)
    console.print(f"Added user [bold]{username}[/] ({summary['roles']}"
                  + (f" in {summary['departments']}" if summary["departments"] else "") + ")")


@app.command("list")
def list_cmd(as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """Every user, with roles, departments and whether disabled. Example: justicelab user list --as root"""
    with acting(as_user) as (session, _):
        rows = [user_row(u) for u in list_users(session)]
    emit(rows, fmt, "Users")


@app.command("show")
def show(username: str, as_user: str = AsOption, fmt: Format = FormatOption) -> None:
    """One user. Example: justicelab user show alice --as root"""
    with acting(as_user) as (session, _):
        row = user_row(get_user(session, username))
    emit_mapping(row, fmt, username)


@app.command("disable")
def disable(username: str, reason: str = ReasonOption,
            as_user: str = AsOption) -> None:
    """Disable a user (admin): their grants, tokens and password stop working; the record stays.

    Example: justicelab user disable bob --reason "left the department" --as root
    """
    with acting(as_user) as (session, actor):
        disable_user(session, actor, username, reason)
    console.print(f"Disabled user [bold]{username}[/]")


@app.command("enable")
def enable(username: str, reason: str = ReasonOption,
           as_user: str = AsOption) -> None:
    """Enable a disabled user again (admin): their grants and password work again.

    Example: justicelab user enable bob --reason "back from leave" --as root
    """
    with acting(as_user) as (session, actor):
        enable_user(session, actor, username, reason)
    console.print(f"Enabled user [bold]{username}[/]")


@app.command("password")
def password(username: str, password_stdin: bool = PasswordStdin, as_user: str = AsOption) -> None:
    """Change a password: your own (asks for the current one first; with --password-stdin, the current one on
    the first line and the new one on the second) or, as an admin, another user's.

    Example: justicelab user password alice --as alice
    """
    with acting(as_user) as (session, actor):
        own = actor.username == username and get_user(session, username).password_hash is not None
    current = None
    if own:
        current = (_line("current password") if password_stdin
                   else str(typer.prompt("Current password", hide_input=True)))
    new = _password(password_stdin)
    with acting(as_user) as (session, actor):
        set_password(session, actor, username, new, current=current)
    console.print(f"Changed the password of [bold]{username}[/]")
