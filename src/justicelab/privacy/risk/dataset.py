"""The table a risk measurement reads: a warehouse table of the workspace or a CSV/Parquet file, open in DuckDB."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from justicelab.ingest.sql import ident, literal
from justicelab.privacy.risk.measures import RiskError
from justicelab.standard import ResolvedEntity, Standard
from justicelab.warehouse import SYSTEM_COLUMNS, Warehouse

SOURCE_VIEW = "_jl_risk_source"
FILE_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".parquet": "read_parquet",
                ".pq": "read_parquet"}


@dataclass
class Dataset:
    """Rows to measure: ``relation`` on ``con`` (DuckDB), with its columns and, for a standard table, its entity."""

    name: str
    con: duckdb.DuckDBPyConnection
    relation: str
    columns: dict[str, str]
    entity: ResolvedEntity | None = None
    warehouse: Warehouse | None = None
    #: A column naming each record in the riskiest-records list (None: the row number).
    key: str | None = None
    _own: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Drop what was created for the measurement; close the connection if it is ours."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW}")
        if self._own:
            self.con.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _default_key(columns: dict[str, str], entity: ResolvedEntity | None) -> str | None:
    if entity and len(entity.default_key) == 1 and entity.default_key[0] in columns:
        return entity.default_key[0]
    return "_record_id" if "_record_id" in columns else None


def open_table(warehouse: Warehouse, name: str, standard: Standard) -> Dataset:
    """A table of the warehouse (DuckDB in place; a PostgreSQL table is read into DuckDB through Arrow)."""
    tables = sorted(t for t in warehouse.ibis.list_tables() if not t.startswith(("_", "ingest_")))
    if name not in tables:
        standard_tables = [t for t in tables if t in standard.entities]
        known = ", ".join(standard_tables or tables) or "no tables"
        raise RiskError(f"unknown dataset {name!r}: the warehouse has {known} (or measure a file with --file)")
    entity = standard.entities.get(name)
    if warehouse.kind == "duckdb":
        con = warehouse.raw
        con.execute(f"CREATE OR REPLACE TEMP VIEW {SOURCE_VIEW} AS SELECT * FROM {ident(name)}")
        own = False
    else:
        con = duckdb.connect()
        con.register("_jl_arrow", warehouse.ibis.table(name).to_pyarrow())
        con.execute(f"CREATE VIEW {SOURCE_VIEW} AS SELECT * FROM _jl_arrow")
        own = True
    columns = _describe(con, SOURCE_VIEW)
    return Dataset(name, con, SOURCE_VIEW, columns, entity, warehouse, _default_key(columns, entity), own)


def open_file(path: Path, standard: Standard, entity: str | None = None, warehouse: Warehouse | None = None) -> Dataset:
    """A CSV or Parquet file read by DuckDB; ``entity`` names the standard table it follows, if any."""
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        raise RiskError(f"{path}: cannot read a {path.suffix or 'suffix-less'} file; "
                        f"give a {', '.join(sorted(FILE_READERS))} file")
    if not path.is_file():
        raise RiskError(f"{path}: no such file")
    resolved = standard.entity(entity) if entity else None
    con = duckdb.connect()
    try:
        con.execute(f"CREATE VIEW {SOURCE_VIEW} AS SELECT * FROM {reader}({literal(str(path))})")
        columns = _describe(con, SOURCE_VIEW)
    except duckdb.Error as exc:
        con.close()
        raise RiskError(f"{path}: DuckDB cannot read it: {exc}") from None
    return Dataset(path.name, con, SOURCE_VIEW, columns, resolved, warehouse,
                   _default_key(columns, resolved), True)


def user_columns(dataset: Dataset) -> list[str]:
    """The dataset's columns a user may name (lineage columns left out)."""
    return [c for c in dataset.columns if c not in SYSTEM_COLUMNS]
