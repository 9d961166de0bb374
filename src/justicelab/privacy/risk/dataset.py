"""The table a risk measurement reads, open in DuckDB: a warehouse dataset read through the gate as a user for a
purpose (:func:`open_gated_table`, what every command uses), a CSV/Parquet file the user already holds
(:func:`open_file`), or a warehouse table as stored (:func:`open_table`: engine tests and trusted library code
only, never a surface: it bypasses the gate)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis.expr.types as ir

from justicelab.control import ControlDB, Level
from justicelab.gate import GateResult, GateSecret, Treatment, plan
from justicelab.gate import read as gate_read
from justicelab.ingest.sql import ident, literal
from justicelab.privacy.risk.measures import RiskError
from justicelab.standard import ResolvedEntity, Standard
from justicelab.warehouse import SYSTEM_COLUMNS, Generaliser, Warehouse
from justicelab.workspace import Workspace

SOURCE_VIEW = "_jl_risk_source"
#: The rows of a gated read, registered from Arrow (on the warehouse's DuckDB connection or an own one).
GATED_ROWS = "_jl_risk_gated_rows"
FILE_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".parquet": "read_parquet",
                ".pq": "read_parquet"}


@dataclass(frozen=True)
class GatedRead:
    """How a dataset was read through the gate: by whom, for what, its ledger entry, and what the reader was not
    shown as recorded: ``generalised`` columns (column -> (hierarchy, level) of the labels they hold) and
    ``withheld`` ones (column -> why it is not readable)."""

    user: str
    purpose: str
    entry: int
    rows: int
    generalised: dict[str, tuple[str, str]]
    withheld: dict[str, str]
    #: The gate's restricted expression, when the DuckDB view is compiled from it (it holds its in-memory tables).
    expression: ir.Table | None = field(default=None, repr=False)


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
    #: Set when the rows came through the gate (:func:`open_gated_table`).
    gate: GatedRead | None = None

    def close(self) -> None:
        """Drop what was created for the measurement; close the connection if it is ours."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW}")
        if self.gate is not None and not self._own:
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(GATED_ROWS)
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


def _check_table(warehouse: Warehouse, name: str, standard: Standard) -> None:
    tables = sorted(t for t in warehouse.ibis.list_tables() if not t.startswith(("_", "ingest_")))
    if name not in tables:
        standard_tables = [t for t in tables if t in standard.entities]
        known = ", ".join(standard_tables or tables) or "no tables"
        raise RiskError(f"unknown dataset {name!r}: the warehouse has {known} (or measure a file with --file)")


def open_table(warehouse: Warehouse, name: str, standard: Standard) -> Dataset:
    """A table of the warehouse as stored, NOT through the gate (DuckDB in place; a PostgreSQL table is read
    into DuckDB through Arrow): for the engines' tests and trusted library code; surfaces use
    :func:`open_gated_table`."""
    _check_table(warehouse, name, standard)
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


def open_gated_table(warehouse: Warehouse, control_db: ControlDB, workspace: Workspace | Path, user: str, name: str,
                     purpose: str, *, standard: Standard, generaliser: Generaliser | None = None,
                     secret: GateSecret | None = None) -> Dataset:
    """``name``'s rows that ``user`` may see for ``purpose``, read through the gate (one audit-ledger entry; a
    refusal raises :class:`~justicelab.errors.AccessDenied`, recorded too), as a DuckDB relation.

    Each column is as the gate shows it: identified ones as recorded; de-identified ones pseudonymised or
    generalised (``Dataset.gate.generalised``); columns the user may not see are not there
    (``Dataset.gate.withheld`` says why). On a DuckDB warehouse the relation lives on the warehouse's own
    connection: the gate's restricted expression compiled to SQL when it shows every column as recorded; when
    it computes keyed pseudonyms or generalised labels, the rows the gate already computed, through Arrow
    (a view would compute them again on every scan: twice as slow for an assessment). On another warehouse
    the rows come through Arrow into an own DuckDB connection.
    """
    _check_table(warehouse, name, standard)
    if name not in standard.entities:
        raise RiskError(f"{name!r} is not a table of the standard: only the standard's datasets are read through "
                        "the gate")
    generaliser = generaliser or Generaliser.for_warehouse(standard, warehouse)
    result = gate_read(warehouse, control_db, workspace, user, name, purpose, standard=standard,
                       generaliser=generaliser, secret=secret)
    entity = standard.entity(name)
    expression: ir.Table | None = None
    transformed = any(p.treatment is not Treatment.keep for _, plans in result.parts for p in plans)
    if warehouse.kind == "duckdb" and not transformed:
        con, own, expression = warehouse.raw, False, result.expression
        expression.limit(0).to_pyarrow()  # registers the expression's in-memory tables on con, if any
        con.execute(f"CREATE OR REPLACE TEMP VIEW {SOURCE_VIEW} AS {warehouse.ibis.compile(expression)}")
    else:
        own = warehouse.kind != "duckdb"
        con = duckdb.connect() if own else warehouse.raw
        con.register(GATED_ROWS, result.table)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {SOURCE_VIEW} AS SELECT * FROM {GATED_ROWS}")
    columns = _describe(con, SOURCE_VIEW)
    read = GatedRead(user, purpose, result.entry, result.row_count, generalised_columns(result, generaliser),
                     _withheld(result, entity), expression)
    return Dataset(name, con, SOURCE_VIEW, columns, entity, warehouse, _default_key(columns, entity), own, read)


def generalised_columns(result: GateResult, generaliser: Generaliser) -> dict[str, tuple[str, str]]:
    """Columns holding a hierarchy's labels above its first level (the first level is the value as recorded)."""
    out: dict[str, tuple[str, str]] = {}
    for _, plans in result.parts:
        for p in plans:
            if (p.treatment is Treatment.generalise and p.hierarchy and p.hierarchy_level
                    and generaliser.level_index(p.hierarchy, p.hierarchy_level) > 0):
                out[p.column] = (p.hierarchy, p.hierarchy_level)
    return out


def _withheld(result: GateResult, entity: ResolvedEntity) -> dict[str, str]:
    """Each column of the table the read did not return, with the level it has and why it is left out."""
    shown = set(result.columns)
    candidates = [*entity.field_names(), *SYSTEM_COLUMNS]
    out: dict[str, str] = {}
    for column in dict.fromkeys(c for c in candidates if c not in shown):
        whys: dict[str, None] = {}
        level = Level.none
        for decision, _ in result.parts:
            (p,) = plan(decision, entity, [column])
            level = max(level, p.level)
            whys[p.why] = None
        out[column] = f"{level.value}: {'; '.join(whys) or 'no grant covers it'}"
    return out


def not_readable(dataset: Dataset, name: str) -> str | None:
    """Why column ``name`` (or the one column starting ``name_``) is missing from a gated dataset: it is withheld
    from its reader; None when it is not (the column does not exist, or the dataset was not read through the gate)."""
    read = dataset.gate
    if read is None:
        return None
    found = [name] if name in read.withheld else [c for c in read.withheld if c.startswith(name + "_")]
    if len(found) != 1:
        return None
    return (f"{found[0]} of {dataset.name} is not readable by {read.user} at this level "
            f"({read.withheld[found[0]]}, for purpose {read.purpose!r})")


def shown_as(dataset: Dataset, column: str) -> tuple[str, str] | None:
    """The (hierarchy, level) whose labels a gated dataset's ``column`` holds, or None when it is as recorded."""
    return dataset.gate.generalised.get(column) if dataset.gate else None


def coarsening_source(generaliser: Generaliser, hierarchy: str, shown: str, target: str, column_sql: str) -> str | None:
    """SQL of a value from which the labels of ``target`` (coarser than ``shown``) follow exactly, given a column of
    ``shown`` labels: a period's first day, a band's lower bound, a prefix. None when they do not (a lookup level:
    its labels come from the codes; bands whose widths do not nest)."""
    h = generaliser.hierarchy(hierarchy)
    i, j = generaliser.level_index(hierarchy, shown), generaliser.level_index(hierarchy, target)
    if j == len(h.levels):  # suppressed: nothing is read
        return column_sql
    x = column_sql
    if h.kind == "date":
        return {"day": f"CAST({x} AS DATE)", "month": f"CAST({x} || '-01' AS DATE)",
                "quarter": f"make_date(CAST(substr({x}, 1, 4) AS INTEGER), 3 * CAST(substr({x}, 7) AS INTEGER) - 2, 1)",
                "year": f"CAST({x} || '-01-01' AS DATE)"}[h.levels[i].truncate_to or "day"]
    if h.kind == "bands":
        if generaliser.is_prefix(hierarchy):
            return x
        width, coarser = h.levels[i].width, h.levels[j].width
        if width is None or coarser is None or coarser % width:
            return None
        return f"CAST(split_part({x}, '-', 1) AS DOUBLE)"
    return None


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
