"""The same indicator expressions on PostgreSQL give the same answers as on DuckDB."""

from __future__ import annotations

import pytest

from justicelab.indicators import compute, trend
from justicelab.ingest import ingest_file, load_mapping
from justicelab.synth import generate_state
from justicelab.warehouse import Warehouse

pytestmark = pytest.mark.integration


def test_indicators_agree_between_duckdb_and_postgres(tmp_path, pg_url):
    m = generate_state(tmp_path / "files", agencies=58, years=2, first_year=2022, incidents=8_000, seed=9)
    with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "wh.duckdb")) as dd:
        for wh in (pg, dd):
            for s in m.sources:
                ingest_file(wh, m.path(s.path), load_mapping(m.path(s.mapping)))
        for name, by, where in [("arrest_rate", ["year", "race"], {}), ("arrest_rate", ["age_group"], {"year": [2023]}),
                                ("arrest_count", ["year", "county"], {}), ("population", ["year", "county"], {})]:
            a = compute(pg, name, by, where, change="year" in by).to_pyarrow().to_pylist()
            b = compute(dd, name, by, where, change="year" in by).to_pyarrow().to_pylist()
            assert len(a) == len(b) > 0
            for x, y in zip(a, b, strict=True):
                assert x.keys() == y.keys()
                for k in x:
                    assert x[k] == pytest.approx(y[k]) if isinstance(x[k], float) else x[k] == y[k], (name, k)
        a = trend(pg, "arrest_rate", ["county"]).to_pyarrow().to_pylist()
        b = trend(dd, "arrest_rate", ["county"]).to_pyarrow().to_pylist()
        assert len(a) == len(b) == 58
        for x, y in zip(a, b, strict=True):
            assert x["county"] == y["county"] and x["annual_pct_change"] == pytest.approx(y["annual_pct_change"])
