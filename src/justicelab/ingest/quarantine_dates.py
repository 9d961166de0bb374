"""The event date of a quarantined row, read from its source columns as its batch's mapping would parse it.

A quarantined row is kept as read (JSON of its source columns), so its date is whatever the source wrote. The
batch log names the mapping that read it; the date is parsed with that mapping's transforms and formats
only while the mapping file still has the content the batch recorded (else the date counts as unreadable).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa

from justicelab.errors import JusticelabError
from justicelab.ingest.checks import typed_expr
from justicelab.ingest.mapping import LoadedMapping, load_mapping
from justicelab.ingest.readers import _json_path_key, resolve_columns
from justicelab.ingest.sql import ident, literal
from justicelab.ingest.transforms import clean_columns_sql, text_expr
from justicelab.standard import FieldDef, Standard
from justicelab.warehouse import BATCHES, QUARANTINE, Warehouse

#: What :func:`quarantined_event_dates` returns: the row (``row_key``: ``batch_id:source_row``) and its event date.
DATES_SCHEMA = pa.schema([("row_key", pa.string()), ("event_date", pa.date32())])


def quarantined_event_dates(warehouse: Warehouse, entity: str, field: str, since: dt.date, standard: Standard,
                            root: Path | None = None) -> pa.Table:
    """The ``field`` dates of the rows ``entity``'s sources quarantined in batches started on or after
    ``since`` (null where unreadable). ``root``: where relative mapping paths of the batch log are read from."""
    rows = warehouse.execute(
        f"SELECT b.mapping_path, b.mapping_sha256, CAST(q.batch_id AS VARCHAR) || ':' || CAST(q.source_row AS "
        f"VARCHAR), q.record FROM {ident(QUARANTINE)} q JOIN {ident(BATCHES)} b ON b.batch_id = q.batch_id "
        f"WHERE q.entity = {literal(entity)} AND b.started_at >= {literal(since)}")
    fdef = standard.entity(entity).field(field)
    by_mapping: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for path, sha, row, record in rows:
        by_mapping.setdefault((path, sha), []).append((row, record))
    parts = [_parse(records, _mapping(path, sha, root, standard), fdef)
             for (path, sha), records in by_mapping.items()]
    return pa.concat_tables(parts) if parts else DATES_SCHEMA.empty_table()


def _mapping(path: str, sha: str, root: Path | None, standard: Standard) -> LoadedMapping | None:
    """The batch's mapping, if its file still holds what the batch recorded."""
    file = Path(path)
    loaded = _load(file if file.is_absolute() or root is None else root / file, standard)
    return loaded if loaded is not None and loaded.sha256 == sha else None


def _load(path: Path, standard: Standard) -> LoadedMapping | None:
    try:
        return load_mapping(path, standard)
    except JusticelabError:
        return None


def _parse(records: list[tuple[str, str]], loaded: LoadedMapping | None, fdef: FieldDef) -> pa.Table:
    rows = pa.table({"row_key": [r for r, _ in records], "record": [j for _, j in records]})
    fm = loaded.mapping.field_mappings.get(fdef.name) if loaded else None
    if loaded is None or fm is None:
        return pa.table({"row_key": rows["row_key"], "event_date": pa.nulls(rows.num_rows, pa.date32())})
    con = duckdb.connect()
    try:
        con.register("jl_records", rows)
        keys = [k for (k,) in con.execute("SELECT DISTINCT unnest(json_keys(record)) FROM jl_records "
                                          "WHERE json_valid(record)").fetchall()]
        columns = resolve_columns(fm.source_columns(), keys)
        if columns is None:  # the mapped columns are not there (a malformed line is kept as one text)
            return pa.table({"row_key": rows["row_key"], "event_date": pa.nulls(rows.num_rows, pa.date32())})
        raw = ", ".join(f"json_extract_string(record, {literal('$.' + _json_path_key(c))}) AS {ident(c)}"
                        for c in dict.fromkeys(columns.values()))
        clean = clean_columns_sql({fdef.name: fm}, columns, loaded.mapping.source.null_values)
        return con.execute(
            f"SELECT row_key, CAST({typed_expr(fdef, fm, text_expr(fm))} AS DATE) AS event_date FROM ("
            f"SELECT *{', ' + clean if clean else ''} FROM (SELECT row_key{', ' + raw if raw else ''} FROM jl_records))"
        ).to_arrow_table().cast(DATES_SCHEMA)
    finally:
        con.close()
