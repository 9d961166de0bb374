"""Who is calling the API: a bearer token (an API token, or the session token a password login returns).

Every call is authenticated by :func:`justicelab.control.accounts.verify_token`, which records the login or
the refusal in the ledger. Passwords are checked by :func:`~justicelab.control.accounts.authenticate`, which
rate-limits them per user; the API turns a lockout into ``429`` with ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from justicelab.control import AuthenticationError, ControlDB, ControlError, LoginLocked
from justicelab.control.accounts import open_session, verify_token
from justicelab.control.periods import as_utc, utcnow


@dataclass(frozen=True)
class Caller:
    """The authenticated user of one request, and the token they presented."""

    username: str
    token: str


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "send an API token: Authorization: Bearer TOKEN "
                            "(POST /api/v1/login gives one for a user name and password)",
                            headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def caller(control: ControlDB, request: Request) -> Caller:
    """The user whose token the request carries; ``401`` with the reason (expired, revoked, ...) otherwise."""
    token = bearer(request)
    try:
        with control.session() as session:
            user = verify_token(session, token)
            return Caller(user.username, token)
    except AuthenticationError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def login(control: ControlDB, username: str, password: str, hours: float) -> tuple[str, str, dt.datetime]:
    """A session token for ``username`` if ``password`` is theirs: (token, token id, expiry)."""
    try:
        with control.session() as session:
            row, token = open_session(session, username, password, hours, "api login")
            assert row.expires_at is not None
            return token, row.token_id, as_utc(row.expires_at)
    except LoginLocked as exc:
        until = as_utc(exc.until) if isinstance(exc.until, dt.datetime) else utcnow() + dt.timedelta(minutes=15)
        wait = max(1, int((until - utcnow()).total_seconds()))
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(wait)}) from None
    except AuthenticationError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    except ControlError as exc:
        raise HTTPException(422, str(exc)) from None
