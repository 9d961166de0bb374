"""The two files of an attack (the release and the external knowledge), read into DuckDB as text with row numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from justicelab.ingest.pipeline import file_sha256
from justicelab.ingest.sql import ident, literal
from justicelab.privacy.attack.errors import AttackError
from justicelab.privacy.risk.dataset import FILE_READERS

ROW = "_jl_row"


@dataclass(frozen=True)
class Side:
    """One side of the attack: a DuckDB view of trimmed text values (empty is NULL) and a 1-based row number."""

    name: str
    table: str
    columns: tuple[str, ...]
    rows: int
    path: str | None = None
    sha256: str | None = None

    def where(self, row: int | None = None, column: str | None = None) -> str:
        """``file, row N, column C`` for messages (row 1 is the first record after the header)."""
        return self.name + (f", row {row}" if row is not None else "") + (f", column {column}" if column else "")

    def as_dict(self) -> dict[str, object]:
        """What a release ledger records about the file."""
        return {"name": self.name, "path": self.path, "rows": self.rows, "sha256": self.sha256}


def load_side(con: duckdb.DuckDBPyConnection, source: Path | pa.Table, table: str, name: str | None = None) -> Side:
    """Read a CSV/Parquet file (or an Arrow table) into ``table``: every column as trimmed text, plus its row."""
    raw = f"{table}_raw"
    path: Path | None = None
    if isinstance(source, pa.Table):
        label = name or "table"
        con.register(f"{raw}_arrow", source)
        con.execute(f"CREATE TEMP TABLE {raw} AS SELECT * FROM {raw}_arrow")
        con.unregister(f"{raw}_arrow")
    else:
        path = Path(source)
        label = name or str(path)
        reader = FILE_READERS.get(path.suffix.lower())
        if reader is None:
            raise AttackError(f"{path}: cannot read a {path.suffix or 'suffix-less'} file; "
                              f"give a {', '.join(sorted(FILE_READERS))} file")
        if not path.is_file():
            raise AttackError(f"{path}: no such file")
        options = ", all_varchar = true, header = true" if reader == "read_csv" else ""
        try:
            con.execute(f"CREATE TEMP TABLE {raw} AS SELECT * FROM {reader}({literal(str(path))}{options})")
        except duckdb.Error as exc:
            raise AttackError(f"{path}: DuckDB cannot read it: {exc}") from None
    columns = tuple(str(r[0]) for r in con.execute(f"DESCRIBE {raw}").fetchall())
    if ROW in columns:
        raise AttackError(f"{label}: has a column named {ROW}, which the attack uses for row numbers")
    text = ", ".join(f"NULLIF(trim(CAST({ident(c)} AS VARCHAR)), '') AS {ident(c)}" for c in columns)
    # rowid follows insertion order, which DuckDB keeps for a file read into a table. A view: only the
    # columns a query uses are converted.
    con.execute(f"CREATE TEMP VIEW {table} AS SELECT rowid + 1 AS {ROW}, {text} FROM {raw}")
    rows = int(con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0])  # type: ignore[index]
    if rows == 0:
        raise AttackError(f"{label}: no records")
    return Side(label, table, columns, rows, str(path) if path else None, file_sha256(path) if path else None)
