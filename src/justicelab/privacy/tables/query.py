"""Query-time helpers for the dashboard and API: rounding published counts and flagging unstable rates.

Both are pure functions over a pyarrow table or a DuckDB relation; they return the same kind (a relation stays a
lazy relation) and add or replace columns with one SQL projection, so they cost milliseconds on the few
hundred cells a dashboard shows. Suppressed cells (nulls) stay null.

* Rounding to a base (e.g. 5) blurs published counts but is **not protection on its own**: with margins an
  attacker can often undo it, and a rounded 0 or 5 still says the cell is small. Round after suppression.
* A rate whose numerator has fewer than ``min_events`` events (20, as NCHS and CDC WONDER do) is flagged
  unstable: its relative standard error, 100/sqrt(n) for a Poisson count, is about 23% or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

import duckdb
import pyarrow as pa

from justicelab.errors import JusticelabError
from justicelab.ingest.sql import ident

Data = TypeVar("Data", pa.Table, duckdb.DuckDBPyRelation)
RoundMode = Literal["nearest", "up", "down"]


def _apply(data: Data, replace: dict[str, str], add: dict[str, str]) -> Data:
    """Project ``data`` with some columns replaced and some added, keeping the column order."""
    columns = _columns(data)
    missing = [c for c in replace if c not in columns]
    if missing:
        raise JusticelabError(f"no column {', '.join(missing)}; columns present: {', '.join(columns)}")
    exprs = [f"{replace[c]} AS {ident(c)}" if c in replace else ident(c) for c in columns if c not in add]
    exprs += [f"{sql} AS {ident(name)}" for name, sql in add.items()]
    projection = ", ".join(exprs)
    if isinstance(data, duckdb.DuckDBPyRelation):
        return data.project(projection)
    con = duckdb.connect()
    try:
        return con.from_arrow(data).project(projection).to_arrow_table()
    finally:
        con.close()


def _columns(data: pa.Table | duckdb.DuckDBPyRelation) -> list[str]:
    return list(data.column_names if isinstance(data, pa.Table) else data.columns)


def round_to_base(data: Data, columns: Sequence[str], base: int = 5, *, mode: RoundMode = "nearest") -> Data:
    """Counts in ``columns`` rounded to a multiple of ``base`` (nearest, halves up; or always up or down)."""
    if base < 1:
        raise JusticelabError(f"base {base}: expected a whole number of 1 or more")
    fn = {"nearest": "floor({c} / {b} + 0.5)", "up": "ceil({c} / {b})", "down": "floor({c} / {b})"}.get(mode)
    if fn is None:
        raise JusticelabError(f"rounding mode {mode!r}: expected nearest, up or down")
    replace = {c: f"CAST({fn.format(c=f'CAST({ident(c)} AS DOUBLE)', b=base)} * {base} AS BIGINT)"
               for c in columns}
    return _apply(data, replace, {})


def flag_unstable(data: Data, numerator: str, *, denominator: str | None = None, per: float = 100_000,
                  min_events: int = 20, rate: str = "rate") -> Data:
    """Add ``unstable`` (fewer than ``min_events`` events, or a suppressed numerator), ``unstable_reason``, the
    relative standard error ``rse_pct`` (100/sqrt(n)) and, given a denominator, ``rate`` per ``per``."""
    if min_events < 1:
        raise JusticelabError(f"min_events {min_events}: expected 1 or more")
    n = ident(numerator)
    add = {
        "unstable": f"({n} IS NULL OR {n} < {int(min_events)})",
        "unstable_reason": (f"CASE WHEN {n} IS NULL THEN 'numerator suppressed' WHEN {n} < {int(min_events)} "
                            f"THEN 'fewer than {int(min_events)} events' END"),
        "rse_pct": f"CASE WHEN {n} > 0 THEN round(100 / sqrt({n}), 1) END",
    }
    if denominator is not None:
        d = ident(denominator)
        add = {rate: f"CASE WHEN {d} > 0 THEN CAST({n} AS DOUBLE) / {d} * {float(per)!r} END", **add}
        if denominator not in _columns(data):
            raise JusticelabError(f"no column {denominator}; columns present: {', '.join(_columns(data))}")
    return _apply(data, {numerator: n}, add)
