"""Durations written the short way (``30d``, ``12w``, ``18m``, ``7y``) and the clock every service reads."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from justicelab.control.errors import ControlError

_PERIOD = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$")
_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC (every stored time is UTC)."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (a naive one is taken to be UTC already)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def check_period(text: str, what: str = "period") -> str:
    """``text`` normalised (``7y``) if it is a count and a unit d, w, m or y; a clear error otherwise."""
    m = _PERIOD.match(text or "")
    if not m or int(m.group(1)) == 0:
        raise ControlError(f"{what} {text!r}: expected a positive count and a unit, e.g. 30d, 12w, 18m or 7y "
                           "(days, weeks, months, years)")
    return f"{int(m.group(1))}{m.group(2)}"


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def shift(day: dt.date, period: str, sign: int = 1) -> dt.date:
    """``day`` moved forward (``sign=1``) or back (``-1``) by ``period`` in calendar units."""
    m = _PERIOD.match(check_period(period))
    assert m
    n, unit = int(m.group(1)) * sign, m.group(2)
    if unit == "d":
        return day + dt.timedelta(days=n)
    if unit == "w":
        return day + dt.timedelta(weeks=n)
    return _add_months(day, n if unit == "m" else 12 * n)


def expiry(period_or_date: str, now: dt.datetime | None = None) -> dt.datetime:
    """When something given ``--expires 30d`` or ``--expires 2027-06-30`` expires (the end of a given day)."""
    now = now or utcnow()
    try:
        day = dt.date.fromisoformat(period_or_date)
    except ValueError:
        return now + (dt.datetime.combine(shift(now.date(), period_or_date), dt.time(), dt.UTC)
                      - dt.datetime.combine(now.date(), dt.time(), dt.UTC))
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)


def parse_day(text: str, what: str) -> dt.date:
    """A ``YYYY-MM-DD`` date, or a clear error naming ``what`` it was for."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ControlError(f"{what} {text!r}: expected a date as YYYY-MM-DD") from None
