"""Reading a count table from CSV or Parquet: dimension columns plus a count column, margins optional.

The file is read by ingest's readers (encoding, delimiter and header detection, the row numbers a person sees)
and handed to :meth:`CountTable.from_arrow`, which names file, row and column in every error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from justicelab.errors import SourceFileError
from justicelab.ingest.mapping import SourceOptions
from justicelab.ingest.readers import RAW, stage_source
from justicelab.ingest.sql import ident
from justicelab.privacy.tables.table import DEFAULT_TOTAL_LABELS, CountTable


def read_table(
    path: Path,
    *,
    dims: Sequence[str] | None = None,
    count_column: str | None = None,
    totals: Sequence[str] | None = None,
    total_labels: Sequence[str] = DEFAULT_TOTAL_LABELS,
    integer: bool = True,
) -> CountTable:
    """A table of counts from ``path``: ``count_column`` (default: the last column) holds the counts and every
    other column (or ``dims``) is a dimension. Rows with a total label or an empty dimension are margins,
    checked against their cells; ``totals`` (default: the dimensions that have margin rows) are computed."""
    needed = [*(dims or []), *([count_column] if count_column else [])]
    con = duckdb.connect()
    try:
        staged = stage_source(con, Path(path), SourceOptions(), needed)
        rejected = con.execute("SELECT _source_row, reason FROM jl_reader_rejects ORDER BY 1 LIMIT 1").fetchone()
        if rejected:
            raise SourceFileError(f"{path}, row {rejected[0]}: cannot be split into the header's columns "
                                  f"({rejected[1]})")
        columns = staged.columns
        value = staged.column_map.get(count_column, count_column) if count_column else columns[-1]
        dimensions = [staged.column_map.get(d, d) for d in dims] if dims else [c for c in columns if c != value]
        if len(columns) < 2:
            raise SourceFileError(f"{path}: only one column ({', '.join(columns)}); expected dimension columns "
                                  "and a count column")
        select = ", ".join(ident(c) for c in [*dimensions, value])
        data = con.execute(f"SELECT {select}, _source_row FROM {RAW} ORDER BY _source_row").to_arrow_table()
    finally:
        con.close()
    rows = data.column("_source_row").to_pylist()
    return CountTable.from_arrow(data.drop_columns(["_source_row"]), dimensions, value, totals=totals,
                                 total_labels=total_labels, integer=integer, source=str(path), row_numbers=rows)
