"""The same ingest against the real PostgreSQL server: same rows, same quarantine, same atomicity."""

from __future__ import annotations

import pytest

from justicelab.ingest import ingest_file
from justicelab.ingest.batches import quarantined_rows, table_counts
from justicelab.warehouse import Warehouse
from tests.conftest import BOOKING_MAPPING, make_mapping
from tests.ingest.test_readers_and_load import ROWS, write_csv, write_xlsx

pytestmark = pytest.mark.integration

BAD = ["B9", "DOE, JOHN", "31/12/1980", "Q", "01/02/2021 10:00", "01/01/2021 10:00"]


def _ingest_everything(wh: Warehouse, tmp_path) -> list:
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    first = ingest_file(wh, write_csv(tmp_path / "a.csv", [*ROWS, BAD], encoding="cp1252",
                                      delimiter="|", newline="\r\n"), mapping)
    again = ingest_file(wh, tmp_path / "a.csv", mapping)
    corrected = [list(r) for r in ROWS]
    corrected[1][5] = "01/03/2022 09:30"
    second = ingest_file(wh, write_xlsx(tmp_path / "b.xlsx", corrected, title="export"), mapping)
    return [first, again, second]


def _summary(results) -> list[tuple]:
    return [(r.status, r.rows_read, r.rows_loaded, r.rows_inserted, r.rows_updated, r.rows_unchanged,
             r.rows_quarantined, r.changed_fields) for r in results]


def test_postgres_and_duckdb_ingest_agree(tmp_path, pg_url):
    (tmp_path / "pg").mkdir()
    (tmp_path / "dd").mkdir()
    with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "dd" / "wh.duckdb")) as dd:
        assert pg.kind == "postgres"
        pg_results = _ingest_everything(pg, tmp_path / "pg")
        dd_results = _ingest_everything(dd, tmp_path / "dd")
        assert _summary(pg_results) == _summary(dd_results)
        assert _summary(pg_results)[0][:7] == ("loaded", 4, 3, 3, 0, 0, 1)
        cols = ["_record_id", "_source_row", "last_name", "first_name", "date_of_birth", "release_datetime"]
        pg_rows = pg.ibis.table("booking").select(cols).order_by("_record_id").to_pyarrow().to_pylist()
        dd_rows = dd.ibis.table("booking").select(cols).order_by("_record_id").to_pyarrow().to_pylist()
        assert pg_rows == dd_rows
        assert pg_rows[1]["last_name"] == "O’BRIEN"
        assert quarantined_rows(pg, 1) == quarantined_rows(dd, 1)
        assert table_counts(pg).to_pylist() == table_counts(dd).to_pylist()


def test_postgres_load_is_atomic(tmp_path, pg_url, monkeypatch):
    import justicelab.ingest.pipeline as pipeline

    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    real = pipeline.load_batch

    def fail_after_insert(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("crash after inserting, before commit")

    with Warehouse.open(pg_url) as pg:
        monkeypatch.setattr(pipeline, "load_batch", fail_after_insert)
        with pytest.raises(RuntimeError):
            ingest_file(pg, write_csv(tmp_path / "a.csv", [*ROWS, BAD]), mapping)
        monkeypatch.setattr(pipeline, "load_batch", real)
        assert pg.count("booking") == 0
        assert pg.count("ingest_batches") == 0
        assert pg.count("ingest_quarantine") == 0
        result = ingest_file(pg, tmp_path / "a.csv", mapping)
        assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
