"""Warehouse.insert_parquet: a Parquet file's rows appended by column name, with constant columns, inside the
caller's transaction, on DuckDB and on the real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from justicelab.warehouse import Warehouse

SCHEMA = ibis.schema({"run_id": "int64", "record_l": "string", "record_r": "string", "p": "float64"})


def _rows(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "links.parquet"
    # columns in another order than the table's, and a value with a quote and a comma
    pq.write_table(pa.table({"p": [i / n for i in range(n)], "record_r": [f"r{i}" for i in range(n)],
                             "record_l": ["o'brien, a"] + [f"l{i}" for i in range(1, n)]}), path, row_group_size=7)
    return path


def _check(wh: Warehouse, tmp_path: Path) -> None:
    wh.ensure_table("links", SCHEMA)
    path = _rows(tmp_path, 25)
    with wh.transaction():
        wh.insert_parquet("links", path, {"run_id": 3}, batch_rows=10)
    rows = wh.execute('SELECT run_id, record_l, record_r, p FROM "links" ORDER BY record_r')
    assert len(rows) == 25
    assert {r[0] for r in rows} == {3}
    assert ("o'brien, a", "r0") in {(r[1], r[2]) for r in rows}
    assert sorted(r[3] for r in rows) == pytest.approx(sorted(i / 25 for i in range(25)))
    # inside a transaction that fails, nothing is appended
    with pytest.raises(RuntimeError), wh.transaction():
        wh.insert_parquet("links", path, {"run_id": 4})
        raise RuntimeError("the rest of the write failed")
    assert wh.execute('SELECT count(*) FROM "links"')[0][0] == 25


def test_insert_parquet_duckdb(tmp_path, warehouse):
    _check(warehouse, tmp_path)


def test_insert_parquet_postgres(tmp_path, pg_url):
    with Warehouse.open(pg_url) as wh:
        _check(wh, tmp_path)
