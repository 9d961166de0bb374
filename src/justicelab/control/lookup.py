"""Finding one row by its name or number, with an error that lists what exists and says what to do."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from justicelab.control.errors import ControlError

T = TypeVar("T")


def by_name(session: Session, column: InstrumentedAttribute[str], value: str, missing: str) -> Any:
    """The row whose ``column`` is ``value``; else ControlError(``missing`` with ``{known}`` filled in)."""
    row = session.scalar(select(column.class_).where(column == value))
    if row is None:
        known = ", ".join(session.scalars(select(column).order_by(column))) or "none yet"
        raise ControlError(missing.format(known=known))
    return row


def by_id(session: Session, model: type[T], key: int, missing: str) -> T:
    """The row with primary key ``key``; else ControlError(``missing``)."""
    row = session.get(model, key)
    if row is None:
        raise ControlError(missing)
    return row
