"""Errors every layer raises: each names what went wrong and where, so the CLI can print it as is."""

from __future__ import annotations


class JusticelabError(Exception):
    """Base class: an error a user can act on. The message is the whole explanation."""

    exit_code = 1


class StandardError(JusticelabError):
    """The standard's YAML is inconsistent or a name is not in it."""


class WorkspaceError(JusticelabError):
    """No workspace here, or its justicelab.toml is invalid."""


class MappingError(JusticelabError):
    """A mapping file is invalid or does not fit its source or the standard."""


class SourceFileError(JusticelabError):
    """A source file cannot be read as declared (missing, empty, wrong header, unreadable)."""

    exit_code = 2


class SynthError(JusticelabError, ValueError):
    """A synthetic-data request that cannot be met (e.g. fewer agencies than counties)."""


class AccessDenied(JusticelabError):
    """The gate refuses a read: the message says why (no grant, expired, aggregate only, no consent, ...)."""

    exit_code = 3

    def __init__(self, message: str, *, dataset: str | None = None, level: str | None = None,
                 reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.dataset = dataset
        self.level = level
        self.reasons = reasons


class GateError(JusticelabError):
    """The gate cannot work as configured (unreadable or exposed secret, a decision that does not fit the table)."""


def describe_validation_error(exc: Exception) -> str:
    """One line per problem of a pydantic ValidationError: 'where.in.the.document: what is wrong'."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors())
