"""The gate on PostgreSQL: the same restricted rows as on DuckDB, and pseudonyms that are exactly HMAC-SHA256."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from justicelab.control.levels import Level
from justicelab.errors import AccessDenied
from justicelab.gate import (
    AccessDecision,
    AllOf,
    Compare,
    PersonIn,
    Pseudonymiser,
    grantee_key,
    readable_table,
    restrict,
)
from justicelab.warehouse import Warehouse
from tests.gate.sample import CITATION, SECRET, STANDARD, generaliser, load_citations, rows_of

pytestmark = pytest.mark.integration

COLUMNS = (*CITATION.field_names(), "_record_id", "_source", "_batch_id", "_source_row", "person_id")


@pytest.fixture
def engines(tmp_path, pg_url):
    with Warehouse.open(pg_url) as pg, Warehouse.open(str(tmp_path / "wh.duckdb")) as dd:
        for wh in (pg, dd):
            load_citations(wh)
        yield readable_table(pg, CITATION), readable_table(dd, CITATION)


def both(engines, decision: AccessDecision) -> tuple[list[dict], list[dict]]:
    pg, dd = engines
    return (rows_of(restrict(pg, decision, STANDARD, generaliser(), SECRET)),
            rows_of(restrict(dd, decision, STANDARD, generaliser(), SECRET)))


def test_deidentified_consent_restricted_reads_agree(engines):
    consent = AllOf((PersonIn(frozenset({"P000001", "P000002", "P000005"}), "consent"),
                     Compare("citation_date", ">=", dt.date(2021, 1, 1), "grant 2")))
    decision = AccessDecision.of("citation", "MDT case review", "user:bob", dict.fromkeys(COLUMNS, "deidentified"),
                                 "grant 2", rows=consent)
    on_pg, on_dd = both(engines, decision)
    assert on_pg == on_dd and len(on_pg) == 4
    assert {r["person_id"] for r in on_pg} == {r["person_id"] for r in on_dd}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.fixed_dictionaries({c: st.sampled_from([Level.identified, Level.deidentified, Level.none])
                                     for c in COLUMNS}))
def test_any_mix_of_levels_gives_identical_rows_on_both_engines(engines, levels):
    decision = AccessDecision.of("citation", "research", "user:erin", levels, "random grant")
    pg, dd = engines
    try:
        on_pg = rows_of(restrict(pg, decision, STANDARD, generaliser(), SECRET))
    except AccessDenied:  # e.g. only direct identifiers at deidentified: DuckDB must refuse alike
        with pytest.raises(AccessDenied):
            restrict(dd, decision, STANDARD, generaliser(), SECRET)
        return
    assert on_pg == rows_of(restrict(dd, decision, STANDARD, generaliser(), SECRET))


def test_postgres_computes_hmac_sha256(pg_url):
    values = ["P000001", "", "GARCÍA O'BRIEN", "名前 ✓", "x" * 300, None]
    with Warehouse.open(pg_url) as pg:
        pg.ibis.create_table("v", ibis.memtable({"v": values}, schema={"v": "string"}))
        table = pg.ibis.table("v")
        key = grantee_key(SECRET, "user:alice")
        got = table.select(v=table.v, p=Pseudonymiser(key, "postgres").expr(table.v, "person_id")).to_pyarrow()
    for row in got.to_pylist():
        expected = None if row["v"] is None else "p_" + hmac.new(
            key.key, f"person_id:{row['v']}".encode(), hashlib.sha256).hexdigest()[:20]
        assert row["p"] == expected
