"""DuckDB SQL for Bloom-filter encodings (see :mod:`justicelab.linkage.encoding` for the scheme).

Filters travel and are stored as base64 text (it survives Parquet, DuckDB and PostgreSQL alike); the
linkage turns them into BIT values once, when it loads records, and compares them by Dice similarity.
"""

from __future__ import annotations


def bit_sql(column_expr: str) -> str:
    """A stored filter (base64 text) as a BIT value; NULL stays NULL."""
    return f"CAST(from_base64({column_expr}) AS BIT)"


def dice_sql(left_expr: str, right_expr: str) -> str:
    """The Dice coefficient 2|A∩B| / (|A|+|B|) of two BIT filters of one column; NULL when either is NULL
    (a missing value is not a disagreement)."""
    return (f"(2.0 * bit_count({left_expr} & {right_expr}) / "
            f"nullif(bit_count({left_expr}) + bit_count({right_expr}), 0))")
