"""What every control-plane command shares: the acting user (``--as`` / ``JUSTICELAB_USER``, or an API token
in ``JUSTICELAB_TOKEN``), the workspace's control database, and one-line rows for listings."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import typer
from sqlalchemy.orm import Session

from justicelab.cli.sessions import logged_in, session_token
from justicelab.control import acting_user, open_workspace_control
from justicelab.control.errors import AuthenticationError, ControlError
from justicelab.control.models import AccessRequest, Agreement, Consent, Grant, User
from justicelab.workspace import Workspace

AsOption = typer.Option(None, "--as", envvar="JUSTICELAB_USER", show_envvar=True,
                        help="The user acting (or set JUSTICELAB_USER; JUSTICELAB_TOKEN authenticates by token).")


@contextlib.contextmanager
def control_session() -> Iterator[Session]:
    """A unit of work on the current workspace's control database (created/upgraded on first use)."""
    db = open_workspace_control(Workspace.find())
    try:
        with db.session() as session:
            yield session
    finally:
        db.close()


def acting_token(workspace: Workspace, as_user: str | None) -> str | None:
    """The token the command acts with: ``JUSTICELAB_TOKEN``, else a ``justicelab login`` session (of
    ``as_user``, or the only one). A workspace with ``require_login`` refuses to go on without one."""
    token = os.environ.get("JUSTICELAB_TOKEN") or session_token(workspace, as_user)
    if token is None and workspace.config.require_login:
        several = sorted(logged_in(workspace)) if as_user is None else []
        if len(several) > 1:
            raise AuthenticationError(f"several users are logged in here ({', '.join(several)}): pick one with --as")
        raise AuthenticationError(f"this workspace requires a login: run `justicelab login {as_user or 'NAME'}` "
                                  "(it asks for the password) or set JUSTICELAB_TOKEN")
    return token


@contextlib.contextmanager
def acting(as_user: str | None) -> Iterator[tuple[Session, User]]:
    """A unit of work done by the acting user."""
    workspace = Workspace.find()
    token = acting_token(workspace, as_user)
    with control_session() as session:
        yield session, acting_user(session, as_user, token)


def day(text: str | None, what: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ControlError(f"{what} {text!r}: expected a date as YYYY-MM-DD") from None


def moment(text: str | None, what: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ControlError(f"{what} {text!r}: expected a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def split_fields(text: str | None) -> list[str] | None:
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


def user_row(u: User) -> dict[str, Any]:
    return {"user": u.username, "name": u.full_name, "roles": ", ".join(u.roles),
            "departments": ", ".join(u.department_codes), "created": u.created_at,
            "disabled": u.disabled_at, "disabled_reason": u.disabled_reason}


def agreement_row(a: Agreement) -> dict[str, Any]:
    covered = "; ".join(f"{c.dataset.name}({', '.join(c.fields) if c.fields else 'all'}"
                        + (f" ≤{c.max_level}" if c.max_level else "") + ")" for c in a.coverage)
    return {"agreement": a.code, "title": a.title, "version": a.version, "parties": ", ".join(a.parties),
            "purposes": "; ".join(a.purposes), "datasets": covered, "maximum_level": a.max_level,
            "minimum_cell_size": a.minimum_cell_size, "retention": a.retention, "onward_sharing": a.onward_sharing,
            "legal_basis": a.legal_basis, "start": a.starts, "end": a.ends, "sha256": a.sha256}


def grant_row(g: Grant) -> dict[str, Any]:
    return {"grant": g.id, "dataset": g.dataset.name, "to": g.principal, "level": g.level,
            "fields": ", ".join(g.fields) if g.fields else "(all covered)",
            "row_rule": g.row_rule, "agreement": g.agreement.code, "purpose": g.purpose or "(any of the agreement's)",
            "starts": g.starts, "expires": g.expires, "by": g.created_by,
            "revoked": g.revoked_at, "revoke_reason": g.revoke_reason}


def request_row(r: AccessRequest) -> dict[str, Any]:
    return {"request": r.id, "requester": r.requester.username, "dataset": r.dataset.name, "level": r.level,
            "fields": ", ".join(r.fields) if r.fields else "(all)", "purpose": r.purpose, "status": r.status,
            "created": r.created_at, "decided_by": r.decided_by, "decided": r.decided_at, "reason": r.reason,
            "grant": r.grant_id}


def consent_row(c: Consent) -> dict[str, Any]:
    return {"consent": c.id, "person_id": c.person_id, "program": c.program, "scope": c.scope,
            "recorded": c.recorded_at, "by": c.recorded_by, "expires": c.expires, "revoked": c.revoked_at,
            "revoked_by": c.revoked_by, "note": c.note}
