"""open_gated_table: the privacy engines measure exactly the rows and columns the gate gives a reader, on DuckDB (the
gate's expression compiled on the warehouse's connection) and on PostgreSQL (through Arrow), one ledger entry each."""

from __future__ import annotations

import pytest

from justicelab.control import entries, open_control
from justicelab.errors import AccessDenied
from justicelab.gate import grantee_key, reference_pseudonym
from justicelab.privacy.dp import GatedRows, dp_counts
from justicelab.privacy.risk import RiskError, assess, open_gated_table
from justicelab.warehouse import Warehouse
from tests.gate.access import grant, load_agencies, seed_citation_access
from tests.gate.sample import ROWS, SECRET, STANDARD, generaliser, load_citations, month

KEY = grantee_key(SECRET, "user:bob")


@pytest.fixture
def control(tmp_path):
    db = open_control(str(tmp_path / "control.sqlite"))
    seed_citation_access(db, tmp_path)
    grant(db, principal="role:mdt_member", level="deidentified")
    yield db
    db.close()


def _open(wh: Warehouse, db, root, user: str = "bob"):
    return open_gated_table(wh, db, root, user, "citation", "MDT case review", standard=STANDARD,
                            generaliser=generaliser(), secret=SECRET)


def _reads(db) -> list:
    with db.session() as s:
        return [(e.action, e.actor) for e in entries(s) if e.action.startswith("read")]


def _check_deidentified(wh: Warehouse, db, root) -> None:
    with _open(wh, db, root) as ds:
        assert ds.gate is not None and ds.gate.rows == len(ROWS) and ds.key == "_record_id"
        assert "last_name" not in ds.columns and "citation_number" not in ds.columns
        assert ds.gate.withheld["last_name"] == "deidentified: direct identifier: dropped"
        assert ds.gate.generalised["citation_date"] == ("date", "month")
        got = {r[0]: r[1:] for r in ds.con.execute(
            f"SELECT _record_id, citation_date, person_id FROM {ds.relation}").fetchall()}
        want = {reference_pseudonym(KEY, "_record_id", r["_record_id"]):
                (month(r["citation_date"]), reference_pseudonym(KEY, "person_id", r["person_id"])) for r in ROWS}
        assert got == want
        report = assess(ds, "citation_date,sex", None, generaliser=generaliser(), top=0)
        assert report.records == len(ROWS) and report.classes.k == 1
        with pytest.raises(RiskError, match="last_name of citation is not readable by bob at this level"):
            assess(ds, "last_name", None, generaliser=generaliser())
    assert _reads(db) == [("read", "bob")]  # the assessments read the relation, not the warehouse again
    with pytest.raises(AccessDenied, match="rita may not read rows of citation"):
        _open(wh, db, root, "rita")
    assert _reads(db) == [("read", "bob"), ("read.denied", "rita")]


def test_on_duckdb_the_gates_expression_is_the_relation(tmp_path, control):
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        load_citations(wh)
        load_agencies(wh)
        _check_deidentified(wh, control, tmp_path)
        assert wh.raw.execute("SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '_jl_risk%'").fetchone() \
            == (0,)  # closed: the view is gone


def test_on_postgres_the_rows_come_through_arrow(tmp_path, control, pg_url):
    with Warehouse.open(pg_url) as wh:
        load_citations(wh)
        load_agencies(wh)
        _check_deidentified(wh, control, tmp_path)


def test_a_dataset_the_warehouse_lacks_is_named_before_the_gate(tmp_path, control):
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        load_citations(wh)
        with pytest.raises(RiskError, match="unknown dataset 'arrest': the warehouse has citation"):
            open_gated_table(wh, control, tmp_path, "bob", "arrest", "MDT case review", standard=STANDARD)
    assert _reads(control) == []


def test_dp_counts_bound_each_person_by_the_gates_pseudonymous_person_ids(tmp_path, control):
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        load_citations(wh)
        load_agencies(wh)
        rows = GatedRows(wh, control, tmp_path, "bob", "MDT case review", STANDARD, generaliser(), SECRET)
        release = dp_counts(wh, "citation", ["sex"], epsilon=1.0, who="bob", standard=STANDARD, records=rows)
    assert release.contribution.enforced and release.contribution.person_source == "the person_id column"
    assert rows.result is not None and rows.result.row_count == len(ROWS)
    assert sorted(rows.result.columns) == ["_record_id", "person_id", "sex"]  # only what the release needs
    assert all(p.startswith("p_") for p in rows.result.table["person_id"].to_pylist() if p)
    assert _reads(control) == [("read", "bob")]
