"""A quasi-identifier's generalisation level in a release, as DuckDB SQL.

For one hierarchy level a :class:`Codec` gives: the release's label as a join key, the check that a label
really is a label of that level ("30-34" is a 5-year band, "2021-03" a month, "bay_area" a region), and
the external file's exact value generalised to the same level with the :class:`Generaliser` (age 33 →
"30-34", 2021-03-14 → "2021-03", alameda → "bay_area"), with the check that the external value is one
the hierarchy can generalise. :func:`detect` finds the level a release column is at from its labels.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from justicelab.errors import StandardError
from justicelab.ingest.sql import ident, literal
from justicelab.privacy.attack.errors import AttackError
from justicelab.privacy.attack.tables import ROW, Side
from justicelab.standard import Standard
from justicelab.warehouse import Generaliser
from justicelab.warehouse.generalise import SUPPRESSED

_NULL = "CAST(NULL AS VARCHAR)"


def lookup_domain(standard: Standard, hierarchy: str) -> list[str] | None:
    """The level-0 codes of a lookup hierarchy when a code list holds them (``county``), else None (``place``)."""
    h = standard.hierarchies[hierarchy]
    first = next((lvl.lookup for lvl in h.levels[1:] if lvl.lookup), None)
    if first is None:
        return None
    table = first.split(".", 1)[0]
    if table not in standard.codelists:
        return None
    return sorted(c.code for c in standard.codelists[table].codes)


def _in(v: str, values: list[str]) -> str:
    return f"({v} IN ({', '.join(literal(x) for x in values)}))" if values else "FALSE"


class Codec:
    """One level of one hierarchy (or no hierarchy: compared as recorded, case-insensitively) as SQL."""

    def __init__(self, con: duckdb.DuckDBPyConnection, generaliser: Generaliser, hierarchy: str | None,
                 level: int | str | None = None) -> None:
        self.g = generaliser
        self.hierarchy = hierarchy
        self.level: str | None = None
        self.index = 0
        self.kind = "recorded"
        self.suppressed = False
        self.domain: list[str] | None = None
        self.labels: list[str] | None = None  # lookup levels: every label the level can have (None: unknown)
        if hierarchy is None:
            return
        try:
            h = generaliser.hierarchy(hierarchy)
            self.index = generaliser.level_index(hierarchy, 0 if level is None else level)
        except StandardError as exc:
            raise AttackError(str(exc)) from None
        names = [lvl.name for lvl in h.levels]
        self.suppressed = self.index == len(names)
        self.level = SUPPRESSED if self.suppressed else names[self.index]
        self.kind = h.kind
        self.prefix = h.kind == "bands" and generaliser.is_prefix(hierarchy)
        self.width = None if self.suppressed else h.levels[self.index].width
        self.part = None if self.suppressed else (h.levels[self.index].truncate_to or "day")
        if h.kind == "lookup" and not self.suppressed:
            self.domain = lookup_domain(generaliser.standard, hierarchy)
            target = h.levels[self.index]
            if self.index == 0:
                self.labels = self.domain
            elif target.lookup is None:
                self.labels = [target.name]
            elif self.domain is not None:
                values = ", ".join(f"({literal(c)})" for c in self.domain)
                rows = con.execute(f"SELECT DISTINCT {self._gen('c')} AS l FROM (VALUES {values}) t(c) "
                                   "WHERE l IS NOT NULL ORDER BY l").fetchall()
                self.labels = [str(r[0]) for r in rows]

    def _gen(self, value_sql: str) -> str:
        assert self.hierarchy is not None
        try:
            return self.g.sql(value_sql, self.hierarchy, self.index)
        except StandardError as exc:
            raise AttackError(f"hierarchy {self.hierarchy}, level {self.level}: {exc}") from None

    @property
    def name(self) -> str | None:
        """``hierarchy.level``, or None when compared as recorded."""
        return f"{self.hierarchy}.{self.level}" if self.hierarchy else None

    # -- the release's labels ------------------------------------------------------------------------

    def _release_rep(self, v: str) -> str:
        """A finest-level value inside the label (the band's low end, the month's first day)."""
        if self.kind == "date":
            if self.part == "day":
                return f"TRY_CAST({v} AS TIMESTAMP)"
            if self.part == "month":
                return (f"(CASE WHEN regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}') "
                        f"THEN TRY_CAST({v} || '-01' AS DATE) END)")
            if self.part == "quarter":
                return (f"(CASE WHEN regexp_full_match({v}, '[0-9]{{4}}-Q[1-4]') THEN make_date("
                        f"TRY_CAST(substr({v}, 1, 4) AS BIGINT), "
                        f"TRY_CAST(substr({v}, 7, 1) AS BIGINT) * 3 - 2, 1) END)")
            return f"(CASE WHEN regexp_full_match({v}, '[0-9]{{4}}') THEN make_date(TRY_CAST({v} AS BIGINT), 1, 1) END)"
        return f"TRY_CAST(regexp_extract({v}, '^(-?[0-9]+(\\.[0-9]+)?)-', 1) AS DOUBLE)"

    def release_key(self, v: str) -> str:
        """The release label ``v`` (text, not NULL) as the join key at this level."""
        if self.hierarchy is None:
            return f"lower({v})"
        if self.suppressed:
            return _NULL
        if self.kind == "date":
            return self._gen(self._release_rep(v))
        if self.kind == "bands" and not self.prefix and (self.index == 0 or self.width is None):
            return f"TRY_CAST({v} AS DOUBLE)"
        return v

    def release_valid(self, v: str) -> str:
        """SQL: whether the (present) release label ``v`` is a label of this level."""
        if self.hierarchy is None:
            return "TRUE"
        if self.suppressed:
            return "FALSE"
        if self.kind == "date":
            rep = self._release_rep(v)
            return f"({rep} IS NOT NULL)" if self.part == "day" else f"coalesce({self._gen(rep)} = {v}, FALSE)"
        if self.kind == "bands":
            if self.prefix:
                return "TRUE" if self.index == 0 or self.width is None else f"(length({v}) = {self.width})"
            if self.index == 0 or self.width is None:
                return f"(TRY_CAST({v} AS DOUBLE) IS NOT NULL)"
            return f"coalesce({self._gen(self._release_rep(v))} = {v}, FALSE)"
        if self.labels is None:
            if self.index == 0:
                return "TRUE"
            raise AttackError(f"hierarchy {self.hierarchy}: its codes come from a reference table, so the labels "
                              f"of level {self.level} cannot be recognised; name the level (e.g. COLUMN:{self.level})")
        return _in(v, self.labels)

    # -- the external file's exact values ------------------------------------------------------------

    def external_key(self, v: str) -> str:
        """The external value ``v`` (as recorded: an age, a date, a county code) generalised to this level."""
        if self.hierarchy is None:
            return f"lower({v})"
        if self.suppressed:
            return _NULL
        if self.kind == "date":
            return self._gen(f"TRY_CAST({v} AS TIMESTAMP)")
        if self.kind == "bands" and not self.prefix:
            number = f"TRY_CAST({v} AS DOUBLE)"
            return number if self.index == 0 or self.width is None else self._gen(number)
        return self._gen(v)

    def external_valid(self, v: str) -> str:
        """SQL: whether the (present) external value ``v`` is a value the hierarchy generalises."""
        if self.hierarchy is None:
            return "TRUE"
        if self.kind == "date":
            return f"(TRY_CAST({v} AS TIMESTAMP) IS NOT NULL)"
        if self.kind == "bands":
            return "TRUE" if self.prefix else f"(TRY_CAST({v} AS DOUBLE) IS NOT NULL)"
        if self.domain is not None:
            return _in(v, self.domain)
        return "TRUE" if self.suppressed else f"({self._gen(v)} IS NOT NULL)"

    def external_expects(self) -> str:
        """What an external value must be, for messages."""
        if self.kind == "date":
            return "a date (YYYY-MM-DD)"
        if self.kind == "bands":
            return "a code" if self.prefix else f"a number (the {self.hierarchy} hierarchy's finest level)"
        if self.domain:
            return f"a code of the {self.hierarchy} hierarchy's finest level (e.g. {', '.join(self.domain[:3])})"
        return f"a code the {self.hierarchy} hierarchy knows"

    def example(self, con: duckdb.DuckDBPyConnection) -> str:
        """A label of this level, for messages ("30-34")."""
        if self.hierarchy is None:
            return "any value"
        if self.suppressed:
            return "empty"
        if self.labels:
            return self.labels[0]
        sample = {"date": "DATE '2021-03-14'"}.get(self.kind, "'94501'" if self.prefix else "34")
        if self.kind == "lookup":
            return self.level or ""
        return str(con.execute(f"SELECT {self._gen(sample)}").fetchone()[0])  # type: ignore[index]


def distinct_values(con: duckdb.DuckDBPyConnection, side: Side, column: str) -> str:
    """A table of the column's present values with their first row and count, made once per column: every
    check of labels runs over distinct values, not over every record."""
    name = f"{side.table}_v{side.columns.index(column)}"
    v = ident(column)
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} AS SELECT {v} AS v, min({ROW}) AS first_row, "
                f"count(*) AS n FROM {side.table} WHERE {v} IS NOT NULL GROUP BY {v}")
    return name


def first_invalid(con: duckdb.DuckDBPyConnection, side: Side, column: str,
                  valid: Callable[[str], str]) -> tuple[int, int, str]:
    """How many present values of ``column`` fail ``valid`` (SQL over a value), and the first one's row and value."""
    row = con.execute(f"SELECT sum(n), min(first_row), arg_min(v, first_row) "
                      f"FROM {distinct_values(con, side, column)} WHERE NOT ({valid('v')})").fetchone()
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0), str(row[2])


def has_values(con: duckdb.DuckDBPyConnection, side: Side, column: str) -> bool:
    """Whether the column has any present value."""
    return bool(con.execute(f"SELECT count(*) FROM {distinct_values(con, side, column)}").fetchone()[0])  # type: ignore[index]


def check_release(con: duckdb.DuckDBPyConnection, side: Side, column: str, codec: Codec) -> None:
    """Every present label of the release column is a label of ``codec``'s level, or an error naming the row."""
    bad, row, value = first_invalid(con, side, column, codec.release_valid)
    if bad:
        raise AttackError(f"{side.where(row, column)}: {value!r} is not a label of hierarchy {codec.hierarchy} at "
                          f"level {codec.level} (expected e.g. {codec.example(con)}); {bad} value(s) do not fit")


def check_external(con: duckdb.DuckDBPyConnection, side: Side, column: str, codec: Codec) -> None:
    """Every present value of the external column can be generalised to ``codec``'s level."""
    bad, row, value = first_invalid(con, side, column, codec.external_valid)
    if bad:
        raise AttackError(f"{side.where(row, column)}: {value!r} is not {codec.external_expects()}; "
                          f"{bad} value(s) do not fit")


def detect(con: duckdb.DuckDBPyConnection, side: Side, column: str, generaliser: Generaliser,
           hierarchy: str) -> tuple[Codec, tuple[str, ...]]:
    """The finest level of ``hierarchy`` whose labels hold every present value of the column (all empty:
    suppressed), and the other levels that would fit too; an error naming the first row that fits none."""
    names = generaliser.levels(hierarchy)
    if not has_values(con, side, column):
        return Codec(con, generaliser, hierarchy, SUPPRESSED), ()
    codecs = [Codec(con, generaliser, hierarchy, i) for i in range(len(names))]
    tried = []
    for codec in codecs:
        try:
            tried.append((codec, *first_invalid(con, side, column, codec.release_valid)))
        except AttackError:
            continue
    fits = [c for c, bad, _, _ in tried if bad == 0]
    if fits:
        return fits[0], tuple(str(c.level) for c in fits[1:])
    if not tried:
        raise AttackError(f"{side.where(None, column)}: the {hierarchy} hierarchy's levels cannot be recognised "
                          f"from labels; name the level, e.g. {column}:{names[0]}")
    _, _, row, value = min(tried, key=lambda t: (t[1], t[2]))
    choices = "; ".join(f"{c.level} e.g. {c.example(con)}" for c, *_ in tried)
    raise AttackError(f"{side.where(row, column)}: {value!r} is not a label of hierarchy {hierarchy} at any level "
                      f"(expected one of: {choices}; or empty where suppressed)")
