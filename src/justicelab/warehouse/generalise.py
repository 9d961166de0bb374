"""Generalise a quasi-identifier by the standard's hierarchies, as an Ibis expression or a DuckDB SQL text.

Every level gives a string-typed, clean, publishable label, and NULL once the value is suppressed
(level index ``len(levels)``, also named ``suppressed``). A missing value stays missing at every level.

* ``bands`` over a number (age): level 0 is the number as recorded ("34"); a level of width ``w``
  gives the band ``lo-hi`` with ``lo = floor(value / w) * w`` ("30-34" for width 5, "30-39" for 10).
* ``bands`` over a string (ZIP code, a hierarchy whose fields in the standard are strings): a level
  of width ``w`` keeps the first ``w`` characters ("945" for zip3).
* ``date``: ``day`` "2021-03-14", ``month`` "2021-03", ``quarter`` "2021-Q1", ``year`` "2021".
* ``lookup``: level 0 is the code as recorded; a level with ``lookup: TABLE.COLUMN`` maps the previous
  level through a code list attribute (``county.region``: the county code list's ``region``) or a
  reference table of the warehouse (``agency.county``: the agency directory, keyed by its default key);
  a code the lookup does not know becomes NULL (never passed through unpublished). A last level
  without a lookup (``state``) is one category for every present value, labelled by its level name.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from justicelab.errors import StandardError
from justicelab.standard import FieldType, Hierarchy, Standard
from justicelab.warehouse.connection import Warehouse

SUPPRESSED = "suppressed"
_NUMERIC = (FieldType.integer, FieldType.number)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Generaliser:
    """Turns a value into its label at a level of one of the standard's hierarchies (Ibis or DuckDB SQL)."""

    def __init__(self, standard: Standard, lookups: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.standard = standard
        # Reference-table lookups by their spec ("agency.county" -> {agency_code: county}).
        self._tables: dict[str, dict[str, str]] = {k: dict(v) for k, v in (lookups or {}).items()}

    @classmethod
    def for_warehouse(cls, standard: Standard, warehouse: Warehouse) -> Generaliser:
        """A generaliser with every reference-table lookup the warehouse can answer (e.g. agency.county)."""
        lookups: dict[str, dict[str, str]] = {}
        for hierarchy in standard.hierarchies.values():
            for level in hierarchy.levels:
                if not level.lookup:
                    continue
                table, column = level.lookup.split(".", 1)
                if table in standard.codelists or table not in standard.entities:
                    continue
                entity = standard.entities[table]
                if not entity.default_key or not warehouse.has_table(table):
                    continue
                key = entity.default_key[0]
                t = warehouse.ibis.table(table)
                if key not in t.columns or column not in t.columns:
                    continue
                rows = (t.filter(t[key].notnull() & t[column].notnull())
                        .select(k=t[key].cast("string"), v=t[column].cast("string"))
                        .distinct().to_pyarrow().to_pylist())
                lookups[level.lookup] = {r["k"]: r["v"] for r in rows}
        return cls(standard, lookups)

    # -- names ---------------------------------------------------------------------------------------

    def hierarchy(self, name: str) -> Hierarchy:
        """The hierarchy ``name`` of the standard, or a StandardError naming the choices."""
        try:
            return self.standard.hierarchies[name]
        except KeyError:
            known = ", ".join(self.standard.hierarchies)
            raise StandardError(f"unknown hierarchy {name!r}; the standard defines: {known}") from None

    def levels(self, hierarchy: str) -> list[str]:
        """Level names, finest first; index ``len(levels)`` (also called ``suppressed``) means suppressed."""
        return [lvl.name for lvl in self.hierarchy(hierarchy).levels]

    def level_index(self, hierarchy: str, level: int | str) -> int:
        """The index of ``level`` (a name, ``suppressed`` or an index), or a StandardError naming the choices."""
        names = self.levels(hierarchy)
        choices = f"{', '.join(names)}, {SUPPRESSED} (or 0-{len(names)})"
        if isinstance(level, bool):
            raise StandardError(f"hierarchy {hierarchy}: level {level!r} is not a level; choose one of: {choices}")
        if isinstance(level, int):
            if 0 <= level <= len(names):
                return level
            raise StandardError(f"hierarchy {hierarchy} has no level {level}; choose one of: {choices}")
        if level == SUPPRESSED:
            return len(names)
        if level in names:
            return names.index(level)
        raise StandardError(f"hierarchy {hierarchy} has no level {level!r}; choose one of: {choices}")

    def is_prefix(self, hierarchy: str) -> bool:
        """Whether a ``bands`` hierarchy cuts strings to a prefix (its fields are strings, like ZIP codes)."""
        types = {f.type for e in self.standard.entities.values() for f in e.fields if f.hierarchy == hierarchy}
        return bool(types) and not (types & set(_NUMERIC))

    def _mapping(self, hierarchy: Hierarchy, index: int) -> dict[str, str] | str:
        """For a lookup level: the map from a level-0 code to its label, or the constant label of a top level."""
        target = hierarchy.levels[index]
        if target.lookup is None:
            return target.name
        composed: dict[str, str] | None = None
        for level in hierarchy.levels[1:index + 1]:
            if level.lookup is None:
                raise StandardError(f"hierarchy {hierarchy.name}: level {level.name} has no lookup, "
                                    f"so level {target.name} after it cannot be reached")
            step = self._lookup(hierarchy.name, level.name, level.lookup)
            composed = dict(step) if composed is None else {
                k: step[v] for k, v in composed.items() if v in step}
        return composed or {}

    def _lookup(self, hierarchy: str, level: str, spec: str) -> dict[str, str]:
        if spec in self._tables:
            return self._tables[spec]
        table, _, attribute = spec.partition(".")
        if table in self.standard.codelists:
            codes = self.standard.codelists[table].codes
            missing = [c.code for c in codes if attribute not in c.attributes]
            if missing:
                raise StandardError(f"hierarchy {hierarchy}, level {level}: code list {table} has no "
                                    f"attribute {attribute!r} for {', '.join(missing[:5])}")
            return {c.code: c.attributes[attribute] for c in codes}
        raise StandardError(
            f"hierarchy {hierarchy}, level {level} needs the reference table {table} ({spec}): "
            f"load {table} into the warehouse and use Generaliser.for_warehouse, or pass lookups={{{spec!r}: ...}}")

    # -- Ibis ----------------------------------------------------------------------------------------

    def expr(self, value: ir.Value, hierarchy: str, level: int | str) -> ir.StringValue:
        """``value`` generalised to ``level`` of ``hierarchy``: a string label, NULL when missing or suppressed."""
        h = self.hierarchy(hierarchy)
        index = self.level_index(hierarchy, level)
        null = ibis.null("string")
        if index == len(h.levels):
            return null
        if h.kind == "date":
            return _date_expr(value, h.levels[index].truncate_to or "day")
        if h.kind == "bands":
            width = h.levels[index].width
            if self.is_prefix(hierarchy):
                text = value.cast("string")
                return text if index == 0 or width is None else text.substr(0, width)
            if index == 0 or width is None:
                return value.cast("string")
            lo = (value.cast("float64") / width).floor().cast("int64") * width
            return lo.cast("string").concat("-", (lo + (width - 1)).cast("string"))
        text = value.cast("string")
        if index == 0:
            return text
        mapping = self._mapping(h, index)
        if isinstance(mapping, str):
            return ibis.ifelse(text.isnull(), null, ibis.literal(mapping, "string"))
        if not mapping:
            return null
        return text.substitute(mapping, else_=null).cast("string")

    # -- SQL text ------------------------------------------------------------------------------------

    def sql(self, column_sql: str, hierarchy: str, level: int | str) -> str:
        """The same as :meth:`expr`, as DuckDB SQL over ``column_sql`` (a quoted column or any expression)."""
        h = self.hierarchy(hierarchy)
        index = self.level_index(hierarchy, level)
        x = f"({column_sql})"
        if index == len(h.levels):
            return "CAST(NULL AS VARCHAR)"
        if h.kind == "date":
            d = f"CAST({x} AS DATE)"
            part = h.levels[index].truncate_to or "day"
            if part == "quarter":
                return f"(strftime({d}, '%Y') || '-Q' || CAST(quarter({d}) AS VARCHAR))"
            fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[part]
            return f"strftime({d}, '{fmt}')"
        if h.kind == "bands":
            width = h.levels[index].width
            if self.is_prefix(hierarchy):
                text = f"CAST({x} AS VARCHAR)"
                return text if index == 0 or width is None else f"substr({text}, 1, {width})"
            if index == 0 or width is None:
                return f"CAST({x} AS VARCHAR)"
            lo = f"(CAST(floor(CAST({x} AS DOUBLE) / {width}) AS BIGINT) * {width})"
            return f"(CAST({lo} AS VARCHAR) || '-' || CAST({lo} + {width - 1} AS VARCHAR))"
        text = f"CAST({x} AS VARCHAR)"
        if index == 0:
            return text
        mapping = self._mapping(h, index)
        if isinstance(mapping, str):
            return f"CASE WHEN {x} IS NULL THEN NULL ELSE {_quote(mapping)} END"
        if not mapping:
            return "CAST(NULL AS VARCHAR)"
        branches = " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in sorted(mapping.items()))
        return f"(CASE {text} {branches} ELSE NULL END)"


def _date_expr(value: ir.Value, part: str) -> ir.StringValue:
    """A date label built from its parts, so that DuckDB and PostgreSQL give the same text."""
    d = value.cast("date") if value.type().is_string() else value
    year = d.year().cast("string")
    if part == "year":
        return year
    if part == "quarter":
        return year.concat("-Q", d.quarter().cast("string"))
    month = year.concat("-", d.month().cast("string").lpad(2, "0"))
    if part == "month":
        return month
    return month.concat("-", d.day().cast("string").lpad(2, "0"))
