"""Compile a field mapping's transforms to a DuckDB SQL text expression over ``jl_raw``.

Order of operations: take the column(s) or constant, trim, turn null tokens into NULL,
split a "LAST, FIRST MIDDLE" name, change case, translate codes, apply the default.
Parsing to the field's type happens afterwards, in ``checks.py``, so a value that
does not parse can be quarantined with the text it had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from justicelab.ingest.mapping import FieldMapping
from justicelab.ingest.sql import ident, literal


def _title_case(expr: str) -> str:
    return (
        f"array_to_string(list_transform(string_split(lower({expr}), ' '), "
        "w -> upper(w[1]) || w[2:]), ' ')"
    )


def _nullify(expr: str, null_values: Sequence[str]) -> str:
    # nullif chains evaluate expr once (a CASE would evaluate it twice).
    out = f"nullif({expr}, '')"
    for token in null_values:
        if token != "":
            out = f"nullif({out}, {literal(token)})"
    return out


def _split_name(col: str, part: str) -> str:
    # col is a plain column reference (cleaned once in the layer below); plain string functions, no regex.
    if part == "last":
        return f"CASE WHEN strpos({col}, ',') > 0 THEN nullif(trim(split_part({col}, ',', 1)), '') ELSE {col} END"
    rest = f"ltrim(split_part({col}, ',', 2))"
    if part == "first":
        return f"nullif(split_part({rest}, ' ', 1), '')"
    return f"CASE WHEN strpos({rest}, ' ') > 0 THEN nullif(trim(substr({rest}, strpos({rest}, ' ') + 1)), '') END"


def clean_col(column: str, trim: bool) -> str:
    """Name of the cleaned (trimmed, null tokens removed) copy of a source column."""
    return ident(("c$" if trim else "r$") + column)


def clean_columns_sql(mappings: Mapping[str, FieldMapping], column_map: Mapping[str, str],
                      null_values: Sequence[str]) -> str:
    """One cleaned copy per source column that a mapping uses: the first layer of the staging query."""
    seen: dict[str, str] = {}
    for fm in mappings.values():
        for col in fm.source_columns():
            name = clean_col(col, fm.trim)
            if name not in seen:
                e = ident(column_map[col])
                seen[name] = _nullify(f"trim({e})" if fm.trim else e, null_values)
    return ", ".join(f"{expr} AS {name}" for name, expr in seen.items())


def raw_source_expr(fm: FieldMapping, column_map: Mapping[str, str]) -> str:
    """The source value as it stood in the file (for quarantine reasons)."""
    if fm.constant is not None:
        return literal(str(fm.constant))
    cols = [ident(column_map[c]) for c in fm.source_columns()]
    if len(cols) == 1:
        return cols[0]
    return f"concat_ws({literal(fm.separator)}, {', '.join(cols)})"


def text_expr(fm: FieldMapping) -> str:
    """SQL for the cleaned text value of one standard field, over the cleaned source columns."""
    if fm.constant is not None:
        return literal(str(fm.constant))
    parts = [clean_col(c, fm.trim) for c in fm.source_columns()]
    expr = parts[0] if len(parts) == 1 else f"nullif(concat_ws({literal(fm.separator)}, {', '.join(parts)}), '')"
    if fm.split_name:
        expr = _split_name(expr, fm.split_name) if len(parts) == 1 else _split_name(f"({expr})", fm.split_name)
    if fm.case == "upper":
        expr = f"upper({expr})"
    elif fm.case == "lower":
        expr = f"lower({expr})"
    elif fm.case == "title":
        expr = _title_case(expr)
    if fm.code_map:
        pairs = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in fm.code_map.items())
        # A map lookup is one hash probe, however long the code list.
        expr = f"coalesce(MAP {{{pairs}}}[{expr}], {expr})"
    if fm.default is not None:
        expr = f"coalesce({expr}, {literal(str(fm.default))})"
    return expr
