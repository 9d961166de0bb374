"""Magnitude tables from contributions (one row per contributor and cell), for the dominance rules.

Each cell, margins included, gets its total, its number of contributors and its largest contributions: a
contributor's values in a cell are added up first, so one business (or agency) reporting twice is one
contributor. The work runs in DuckDB: every contribution row is joined to each dimension's codes (its category,
its groups, the total) and grouped once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from justicelab.errors import SourceFileError
from justicelab.ingest.sql import ident
from justicelab.privacy.tables.table import CountTable, Dimension, natural_sorted


def _expansion(dim: Dimension, label_type: pa.DataType) -> pa.Table:
    """Each category with every code it counts towards: itself, its groups, the total."""
    parent = {kid: p for p, kids in dim.children.items() for kid in kids}
    labels, codes = [], []
    for i in range(dim.n_categories):
        code: int | None = i
        while code is not None:
            labels.append(dim.codes[i])
            codes.append(code)
            code = parent.get(code)
    return pa.table({"label": pa.array(labels, type=label_type), "code": pa.array(codes, type=pa.int64())})


def contributor_table(
    data: pa.Table | duckdb.DuckDBPyRelation,
    dims: Sequence[str],
    value: str,
    contributor: str | None = None,
    *,
    totals: Sequence[str] = (),
    hierarchies: Mapping[str, Mapping[Any, Any]] | None = None,
    top: int = 2,
    source: str = "table",
) -> CountTable:
    """A magnitude table (sums of ``value``) over ``dims`` with margins, carrying per-cell contributor figures.

    ``contributor`` names the column identifying who contributed (None: every row is its own contributor).
    """
    table = data.to_arrow_table() if isinstance(data, duckdb.DuckDBPyRelation) else data
    needed = [*dims, value, *([contributor] if contributor else [])]
    for c in needed:
        if c not in table.column_names:
            raise SourceFileError(f"{source}, column {c}: no such column; columns present: "
                                  f"{', '.join(table.column_names)}")
    con = duckdb.connect()
    try:
        con.register("jl_contrib_raw", table)
        con.execute("CREATE TEMP TABLE jl_contrib AS SELECT *, row_number() OVER () AS jl_row FROM jl_contrib_raw")
        checks = [(f"{ident(d)} IS NULL", d, "is empty; expected a category") for d in dims]
        checks += [(f"{ident(value)} IS NULL", value, "is empty; expected a non-negative number"),
                   (f"{ident(value)} < 0", value, "is negative; expected a non-negative number")]
        for cond, column, what in checks:
            row = con.execute(f"SELECT jl_row, {ident(column)} FROM jl_contrib WHERE {cond} ORDER BY jl_row "
                              "LIMIT 1").fetchone()
            if row:
                shown = "" if row[1] is None else f"{row[1]} "
                raise SourceFileError(f"{source}, row {row[0]}, column {column}: {shown}{what}")
        dimensions = []
        for d in dims:
            cats = [r[0] for r in con.execute(f"SELECT DISTINCT {ident(d)} FROM jl_contrib").fetchall()]
            hierarchy = (hierarchies or {}).get(d)
            if hierarchy:
                cats = sorted(set(cats) | {k for k in hierarchy if k not in set(hierarchy.values())}, key=str)
            dimensions.append(Dimension.build(d, natural_sorted(cats), total=d in totals, hierarchy=hierarchy))
        joins, codes = [], []
        for i, (d, dim) in enumerate(zip(dims, dimensions, strict=True)):
            con.register(f"jl_exp{i}", _expansion(dim, table.schema.field(d).type))
            joins.append(f"JOIN jl_exp{i} e{i} ON c.{ident(d)} = e{i}.label")
            codes.append(f"e{i}.code AS c{i}")
        who = f"CAST(c.{ident(contributor)} AS VARCHAR)" if contributor else "CAST(c.jl_row AS VARCHAR)"
        cell_cols = ", ".join(f"c{i}" for i in range(len(dims)))
        result = con.execute(f"""
            WITH expanded AS (
                SELECT {', '.join(codes)}, {who} AS who, CAST(c.{ident(value)} AS DOUBLE) AS v
                FROM jl_contrib c {' '.join(joins)}),
            per_contributor AS (SELECT {cell_cols}, who, sum(v) AS v FROM expanded GROUP BY ALL)
            SELECT {cell_cols}, sum(v) AS total, count(*) AS n, list(v ORDER BY v DESC)[1:{int(top)}] AS top
            FROM per_contributor GROUP BY ALL
        """).to_arrow_table()
    finally:
        con.close()
    shape = tuple(len(dim.codes) for dim in dimensions)
    size = int(np.prod(shape))
    flat = np.ravel_multi_index(tuple(result.column(f"c{i}").to_numpy() for i in range(len(dims))), shape)
    values = np.zeros(size)
    values[flat] = result.column("total").to_numpy()
    counts = np.zeros(size, dtype=np.int64)
    counts[flat] = result.column("n").to_numpy()
    tops = np.zeros((size, top))
    for cell, largest in zip(flat, result.column("top").to_pylist(), strict=True):
        tops[cell, : len(largest)] = largest
    return CountTable(tuple(dimensions), values, value, integer=False, top=tops, contributors=counts,
                      source=source)
