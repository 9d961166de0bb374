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
    tokens = ", ".join(literal(v) for v in null_values if v != "")
    cond = f"{expr} = ''" + (f" OR {expr} IN ({tokens})" if tokens else "")
    return f"CASE WHEN {cond} THEN NULL ELSE {expr} END"


def _split_name(expr: str, part: str) -> str:
    rest = f"trim(substr({expr}, strpos({expr}, ',') + 1))"
    first = f"split_part({rest}, ' ', 1)"
    if part == "last":
        return f"trim(CASE WHEN strpos({expr}, ',') > 0 THEN split_part({expr}, ',', 1) ELSE {expr} END)"
    if part == "first":
        return f"CASE WHEN strpos({expr}, ',') > 0 THEN nullif({first}, '') END"
    return f"CASE WHEN strpos({expr}, ',') > 0 THEN nullif(trim(substr({rest}, length({first}) + 1)), '') END"


def raw_source_expr(fm: FieldMapping, column_map: Mapping[str, str]) -> str:
    """The source value as it stood in the file (for quarantine reasons)."""
    if fm.constant is not None:
        return literal(str(fm.constant))
    cols = [ident(column_map[c]) for c in fm.source_columns()]
    if len(cols) == 1:
        return cols[0]
    return f"concat_ws({literal(fm.separator)}, {', '.join(cols)})"


def text_expr(fm: FieldMapping, column_map: Mapping[str, str], null_values: Sequence[str]) -> str:
    """SQL for the cleaned text value of one standard field, before type parsing."""
    if fm.constant is not None:
        return literal(str(fm.constant))
    parts = []
    for col in fm.source_columns():
        e = ident(column_map[col])
        if fm.trim:
            e = f"trim({e})"
        parts.append(_nullify(e, null_values))
    expr = parts[0] if len(parts) == 1 else f"nullif(concat_ws({literal(fm.separator)}, {', '.join(parts)}), '')"
    if fm.split_name:
        expr = _split_name(expr, fm.split_name)
    if fm.case == "upper":
        expr = f"upper({expr})"
    elif fm.case == "lower":
        expr = f"lower({expr})"
    elif fm.case == "title":
        expr = _title_case(expr)
    if fm.code_map:
        whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in fm.code_map.items())
        expr = f"CASE {expr} {whens} ELSE {expr} END"
    if fm.default is not None:
        expr = f"coalesce({expr}, {literal(str(fm.default))})"
    return expr
