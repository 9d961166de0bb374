"""The generaliser's Ibis expressions give the same labels on PostgreSQL as on DuckDB."""

from __future__ import annotations

import ibis
import pytest

from justicelab.warehouse import Generaliser, Warehouse
from tests.privacy.test_generalise import AGENCIES, STANDARD, VALUES, _all_levels, _by_ibis

pytestmark = pytest.mark.integration


def test_generalised_labels_agree_between_duckdb_and_postgres(tmp_path, pg_url):
    g = Generaliser(STANDARD, {"agency.county": AGENCIES})
    with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "wh.duckdb")) as dd:
        for wh in (pg, dd):
            wh.ibis.create_table("v", ibis.memtable(VALUES))
        on_pg, on_dd = _by_ibis(g, pg.ibis, "v"), _by_ibis(g, dd.ibis, "v")
        assert set(on_pg) == set(_all_levels(g))
        for name in on_dd:
            assert on_pg[name] == on_dd[name], name
        assert on_pg["age__band_5"][3] == "25-29" and on_pg["d__quarter"][0] == "2021-Q1"
        assert on_pg["zip__zip3"][0] == "945" and on_pg["county__region"][0] == "bay_area"


def test_risk_assessment_of_a_postgres_warehouse_table_matches_duckdb(tmp_path, pg_url):
    from justicelab.privacy.risk import assess, open_table
    from justicelab.warehouse import ensure_entity_table
    from tests.privacy.test_risk_cli import DEATHS

    results = []
    with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "wh.duckdb")) as dd:
        for wh in (pg, dd):
            ensure_entity_table(wh, STANDARD.entity("custody_death"))
            for row in DEATHS:
                wh.execute("INSERT INTO custody_death (death_id, date_of_death, county, age, sex, race_ethnicity, "
                           f"manner_of_death) VALUES ('{row[0]}', DATE '{row[1]}', '{row[2]}', {row[3]}, "
                           f"'{row[4]}', '{row[5]}', '{row[6]}')")
            with open_table(wh, "custody_death", STANDARD) as ds:
                results.append(assess(ds, "county:region,year,age:band_10,sex", "manner_of_death",
                                      generaliser=Generaliser.for_warehouse(STANDARD, wh), top=6))
    on_pg, on_dd = results
    assert on_pg.measures() == on_dd.measures() and on_pg.top == on_dd.top
    assert on_pg.classes.sizes == ((1, 1), (2, 1), (3, 1))
