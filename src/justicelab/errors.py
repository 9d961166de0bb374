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


def describe_validation_error(exc: Exception) -> str:
    """One line per problem of a pydantic ValidationError: 'where.in.the.document: what is wrong'."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors())
