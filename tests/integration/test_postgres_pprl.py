"""Loading privacy-preserving encodings into a PostgreSQL warehouse: same checks, same replacement, same refusal."""

from __future__ import annotations

import duckdb
import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage.bloom import bit_sql, dice_sql
from justicelab.linkage.pprl import encode_extract, load_encodings
from justicelab.linkage.store import LinkageError
from justicelab.synth import generate_city
from justicelab.warehouse import Warehouse

pytestmark = pytest.mark.integration


def test_encodings_load_into_postgres_and_survive_the_round_trip(tmp_path, pg_url):
    city = generate_city(tmp_path / "city", people=200, years=1, seed=4)
    ed, ems = city.source("ed_visits"), city.source("ems_responses")
    encode_extract(ed.path, load_mapping(ed.mapping), b"departments-only-secret", tmp_path / "ed.parquet")
    encode_extract(ems.path, load_mapping(ems.mapping), b"another-secret-entirely", tmp_path / "ems.parquet")
    with Warehouse.open(pg_url) as pg:
        ingest_file(pg, ed.path, load_mapping(ed.mapping))
        first = load_encodings(pg, tmp_path / "ed.parquet")
        again = load_encodings(pg, tmp_path / "ed.parquet")
        assert first.in_warehouse == first.rows == again.replaced == pg.count("person_encodings") > 0
        with pytest.raises(LinkageError, match="different secret than the 1 earlier upload"):
            load_encodings(pg, tmp_path / "ems.parquet")
        assert pg.count("person_encodings") == first.rows
        stored = pg.ibis.table("person_encodings").to_pyarrow()
    # Text that went through PostgreSQL still compares in DuckDB: every filter equals itself.
    con = duckdb.connect()
    con.register("s", stored)
    worst = con.execute(f"SELECT min({dice_sql(bit_sql('name_bf'), bit_sql('name_bf'))}) FROM s").fetchone()
    assert worst == (1.0,)
