"""Errors of the control plane: each names what went wrong and what to do, so the CLI prints it as is."""

from __future__ import annotations

from justicelab.errors import JusticelabError


class ControlError(JusticelabError):
    """A control-plane request that cannot be met (unknown name, conflicting state, invalid value)."""


class NotPermitted(ControlError):
    """The acting user may not make this change (not an admin, not a steward of the owning department, ...).

    (A refused *read* is the gate's :class:`justicelab.errors.AccessDenied`.)
    """

    exit_code = 3


class AuthenticationError(ControlError):
    """A password or API token was refused (unknown, wrong, expired, revoked, too many attempts)."""

    exit_code = 3


class LoginLocked(AuthenticationError):
    """Too many failed logins: even the right password is refused until ``until`` (a datetime, UTC)."""

    def __init__(self, message: str, until: object) -> None:
        super().__init__(message)
        self.until = until


class AgreementError(ControlError):
    """An agreement document is not valid YAML or does not fit the schema, the standard or the control plane."""

    exit_code = 2
