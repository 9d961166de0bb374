"""Departments, users (argon2 password hashes), API tokens (kept only as SHA-256) and authentication.

A token is ``jlt_<token id>_<secret>``: the token id is public (listings, the ledger), the secret is
32 random bytes shown once. Tokens are high-entropy random strings, so a fast hash is enough to store them
(a slow hash protects guessable passwords, not 256-bit secrets) and lets a token be found by its hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.authz import require_active, require_admin
from justicelab.control.errors import AuthenticationError, ControlError, LoginLocked, NotPermitted
from justicelab.control.lookup import by_name
from justicelab.control.models import ROLES, ApiToken, AuditEntry, Department, User, UserRole
from justicelab.control.periods import as_utc, utcnow

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
DEPARTMENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MIN_PASSWORD = 10
#: Login rate limit: this many failed attempts within the window lock further attempts until it passes.
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
#: A password login's session token lasts at most this long (a script that needs longer uses an API token).
MAX_SESSION_HOURS = 12
#: Uses of a token closer together than this are one login in the ledger.
TOKEN_SESSION = dt.timedelta(minutes=10)
_hasher = PasswordHasher()


def _check_name(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise ControlError(f"{what} {value!r}: expected lower-case letters, digits and _ "
                           f"(starting with a letter), e.g. {'health' if what == 'department' else 'alice'}")
    return value


# departments ---------------------------------------------------------------------------------------------

def add_department(session: Session, actor: User, code: str, name: str) -> Department:
    """Register a department (admin only)."""
    require_admin(actor, "add departments")
    _check_name(code, DEPARTMENT, "department")
    if session.scalar(select(Department).where(Department.code == code)):
        raise ControlError(f"department {code} already exists")
    dep = Department(code=code, name=name, created_at=utcnow())
    session.add(dep)
    audit.record(session, actor, "department.add", f"department:{code}", {"name": name})
    return dep


def get_department(session: Session, code: str) -> Department:
    dep: Department = by_name(session, Department.code, code, f"no department {code!r} (known: {{known}}); add it "
                              f"with `justicelab department add {code} --name ...`")
    return dep


def list_departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.code)))


# users -----------------------------------------------------------------------------------------------------

def user_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ControlError(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ControlError(f"password too short: at least {MIN_PASSWORD} characters")


def add_user(session: Session, actor: User | None, username: str, *, roles: Iterable[str],
             departments: Iterable[str] = (), password: str | None = None, full_name: str | None = None) -> User:
    """Create a user. The very first user (bootstrap, ``actor`` None) must be an admin; after that only
    an admin may add users."""
    roles, departments = sorted(set(roles)), sorted(set(departments))
    _check_name(username, USERNAME, "user name")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ControlError(f"role {', '.join(bad) or '(none)'}: expected one or more of {', '.join(ROLES)}")
    if user_count(session) == 0:
        if "admin" not in roles:
            raise ControlError("the control plane has no users yet: the first user must be an admin "
                               f"(justicelab user add {username} --role admin)")
    elif actor is None:
        raise NotPermitted("adding a user needs an acting admin: pass --as ADMIN or set JUSTICELAB_USER")
    else:
        require_admin(actor, "add users")
    if session.scalar(select(User).where(User.username == username)):
        raise ControlError(f"user {username} already exists")
    if set(roles) - {"admin"} and not departments:
        raise ControlError(f"user {username} with role {', '.join(roles)} needs a department (--department)")
    deps = [get_department(session, d) for d in departments]
    if password is not None:
        _check_password(password)
    user = User(username=username, full_name=full_name, created_at=utcnow(),
                password_hash=_hasher.hash(password) if password is not None else None)
    user.role_rows = [UserRole(role=r) for r in roles]
    user.departments = deps
    session.add(user)
    audit.record(session, actor or username, "user.add", f"user:{username}",
                 {"roles": roles, "departments": departments, "bootstrap": actor is None,
                  "password_set": password is not None})
    return user


def set_password(session: Session, actor: User, username: str, password: str, *,
                 current: str | None = None) -> None:
    """Change a password: an admin resetting another user's, or the user themself, who must give the current
    one (checked like a login: rate-limited and recorded) when they have one, so that whoever holds a
    session or token cannot take the account over, nor slip past a lockout."""
    user = get_user(session, username)
    if actor.id != user.id:
        require_admin(actor, f"change {username}'s password")
    require_active(actor)
    if actor.id == user.id and user.password_hash is not None:
        if current is None:
            raise AuthenticationError(f"changing your own password needs the current one ({username})")
        authenticate(session, username, current)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    audit.record(session, actor, "user.password", f"user:{username}")


def disable_user(session: Session, actor: User, username: str, reason: str) -> User:
    """Disable a user (admin): every grant, token and password of theirs stops working; the row stays
    because the ledger names them."""
    require_admin(actor, "disable users")
    user = get_user(session, username)
    if user.disabled_at is not None:
        raise ControlError(f"user {username} is already disabled")
    if user.id == actor.id:
        raise ControlError("an admin cannot disable themself")
    user.disabled_at, user.disabled_reason = utcnow(), reason
    audit.record(session, actor, "user.disable", f"user:{username}", {"reason": reason})
    return user


def enable_user(session: Session, actor: User, username: str, reason: str) -> User:
    """Enable a disabled user again (admin). Their grants apply again; tokens revoked meanwhile stay revoked."""
    require_admin(actor, "enable users")
    user = get_user(session, username)
    if user.disabled_at is None:
        raise ControlError(f"user {username} is not disabled")
    user.disabled_at, user.disabled_reason = None, None
    audit.record(session, actor, "user.enable", f"user:{username}", {"reason": reason})
    return user


# authentication --------------------------------------------------------------------------------------------

def _fail(session: Session, who: str, method: str, reason: str, message: str) -> AuthenticationError:
    """Record a refused login and commit it (the caller's unit of work fails, the attempt must stay on record)."""
    audit.record(session, who, "login.failed", f"user:{who}", {"method": method, "reason": reason})
    session.commit()
    return AuthenticationError(message)


def _recent_failures(session: Session, username: str, now: dt.datetime) -> list[dt.datetime]:
    """When the user's password was refused within the window (refused tokens do not count: a token is not
    guessed, and a revoked one left in a script must not lock its owner out)."""
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.details).where(
            AuditEntry.actor == username, AuditEntry.action == "login.failed",
            AuditEntry.at > now - FAILURE_WINDOW).order_by(AuditEntry.at))
    return [at for at, details in rows if json.loads(details or "{}").get("method") == "password"]


def authenticate(session: Session, username: str, password: str, at: dt.datetime | None = None) -> User:
    """The user whose password this is; records the login (committed, like a refusal). At most MAX_FAILURES
    failed attempts per FAILURE_WINDOW: after that even the right password is refused until the window
    passes."""
    now = at or utcnow()
    user = session.scalar(select(User).where(User.username == username))
    failures = _recent_failures(session, username, now)
    if len(failures) >= MAX_FAILURES:
        until = failures[-MAX_FAILURES] + FAILURE_WINDOW
        shown = (until + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)  # rounded up: not a minute early
        audit.record(session, username, "login.locked", f"user:{username}", {"method": "password"}, at=now)
        session.commit()
        raise LoginLocked(f"too many failed logins for {username} ({len(failures)} in the last "
                          f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes): try again at "
                          f"{shown:%Y-%m-%d %H:%M} UTC", until)
    if user is None or user.password_hash is None:
        raise _fail(session, username, "password", "unknown user or no password", "wrong user name or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise _fail(session, username, "password", "wrong password", "wrong user name or password") from None
    if user.disabled_at is not None:
        raise _fail(session, username, "password", "user disabled", f"user {username} is disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, user, "login", f"user:{username}", {"method": "password"}, at=now)
    session.commit()
    return user


# tokens ----------------------------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, actor: User, username: str, expires_at: dt.datetime | None,
                 label: str | None = None) -> tuple[ApiToken, str]:
    """A new API token for ``username`` (the user themself or an admin). Returns the row and the token,
    which is never stored and cannot be shown again."""
    require_active(actor)
    user = get_user(session, username)
    if actor.id != user.id:
        require_admin(actor, f"create tokens for {username}")
    require_active(user)
    if expires_at is not None and expires_at <= utcnow():
        raise ControlError(f"token expiry {expires_at:%Y-%m-%d %H:%M} is in the past")
    token_id = secrets.token_hex(4)
    token = f"jlt_{token_id}_{secrets.token_urlsafe(32)}"
    row = ApiToken(token_id=token_id, user_id=user.id, secret_hash=_token_hash(token), label=label,
                   created_at=utcnow(), expires_at=expires_at)
    session.add(row)
    audit.record(session, actor, "token.create", f"user:{username}",
                 {"token_id": token_id, "expires_at": expires_at, "label": label})
    return row, token


def open_session(session: Session, username: str, password: str, hours: float,
                 label: str) -> tuple[ApiToken, str]:
    """A password login (rate-limited, recorded) that gives a session token lasting ``hours``: the row and the
    token, which is never stored. Both the command line's ``login`` and the API's use it."""
    if not 0 < hours <= MAX_SESSION_HOURS:
        raise ControlError(f"hours {hours:g}: expected more than 0 and at most {MAX_SESSION_HOURS}")
    user = authenticate(session, username, password)
    return create_token(session, user, username, utcnow() + dt.timedelta(hours=hours), label=label)


def get_token(session: Session, token_id: str) -> ApiToken:
    row = session.scalar(select(ApiToken).where(ApiToken.token_id == token_id))
    if row is None:
        raise ControlError(f"no token {token_id!r} (see `justicelab token list`)")
    return row


def list_tokens(session: Session, username: str | None = None) -> list[ApiToken]:
    q = select(ApiToken).order_by(ApiToken.created_at)
    if username is not None:
        q = q.where(ApiToken.user_id == get_user(session, username).id)
    return list(session.scalars(q))


def revoke_token(session: Session, actor: User, token_id: str) -> ApiToken:
    """Revoke a token (its owner or an admin); it fails verification from now on."""
    row = get_token(session, token_id)
    if actor.id != row.user_id:
        require_admin(actor, f"revoke {row.user.username}'s tokens")
    require_active(actor)
    if row.revoked_at is not None:
        raise ControlError(f"token {token_id} was already revoked on {row.revoked_at:%Y-%m-%d}")
    row.revoked_at = utcnow()
    audit.record(session, actor, "token.revoke", f"user:{row.user.username}", {"token_id": token_id})
    return row


def verify_token(session: Session, token: str, at: dt.datetime | None = None) -> User:
    """The user a token belongs to, if it is known, unexpired, unrevoked and its user enabled; records the
    login (or the refusal, with its reason) in the ledger and commits it, so it stays on record even if the
    work the token was presented for then fails. Call it first in a unit of work."""
    now = at or utcnow()
    parts = token.split("_")
    token_id = parts[1] if len(parts) >= 3 and parts[0] == "jlt" else None
    row = session.scalar(select(ApiToken).where(ApiToken.secret_hash == _token_hash(token)))
    if row is None:
        known = token_id is not None and session.scalar(select(ApiToken).where(ApiToken.token_id == token_id))
        who = known.user.username if known else None
        raise _fail(session, who or "(unknown)", "token", f"unknown token {token_id or '(malformed)'}",
                    "the API token is not valid")
    username = row.user.username
    if row.revoked_at is not None:
        raise _fail(session, username, "token", f"token {row.token_id} revoked",
                    f"the API token {row.token_id} was revoked on {row.revoked_at:%Y-%m-%d}")
    if row.expires_at is not None and row.expires_at <= now:
        raise _fail(session, username, "token", f"token {row.token_id} expired",
                    f"the API token {row.token_id} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC")
    if row.user.disabled_at is not None:
        raise _fail(session, username, "token", "user disabled", f"user {username} is disabled")
    # A token presented again within TOKEN_SESSION of its last use continues that session: the ledger
    # records when a token starts being used, not every API call (each read has its own entry anyway).
    idle = row.last_used_at is None or as_utc(row.last_used_at) <= now - TOKEN_SESSION
    row.last_used_at = now
    if idle:
        audit.record(session, row.user, "login", f"user:{username}",
                     {"method": "token", "token_id": row.token_id}, at=now)
    session.commit()
    return row.user


def acting_user(session: Session, username: str | None, token: str | None = None) -> User:
    """Who is acting: the owner of ``token`` when one is given (verified, and it must match ``username`` if
    that is given too), else the enabled user ``username``."""
    if token:
        user = verify_token(session, token)
        if username and username != user.username:
            raise AuthenticationError(f"the API token belongs to {user.username}, not {username}")
        return user
    if not username:
        raise NotPermitted("no acting user: pass --as USER or set JUSTICELAB_USER (or JUSTICELAB_TOKEN)")
    named = session.scalar(select(User).where(User.username == username))
    if named is None:  # recorded like a refused token: every refusal to act is in the ledger
        raise _fail(session, username, "name", "unknown user", f"no user {username!r}")
    if named.disabled_at is not None:
        raise _fail(session, username, "name", "user disabled",
                    f"user {username} is disabled (since {named.disabled_at:%Y-%m-%d})")
    return named
