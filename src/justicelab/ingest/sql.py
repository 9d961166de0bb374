"""Quoting helpers for the SQL that ingest generates (identifiers and literals from user files)."""

from __future__ import annotations

import datetime as dt


def ident(name: str) -> str:
    """A double-quoted SQL identifier; source column names can hold any character."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal for a string, number, boolean, date or None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"
