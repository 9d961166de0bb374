"""Releases checked together: two tables safe alone can reveal a small count together (this year's table minus
last year's), and republishing the same table never does."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from justicelab.privacy.releases import check, records_artifact, table_artifact
from justicelab.privacy.tables import CountTable, suppress


def records(n: int, seed: int, prefix: str = "r") -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"record_key": [f"{prefix}{i}" for i in range(n)],
                     "county": rng.choice(["a", "b", "c", "d", "e"], n, p=[.4, .3, .15, .1, .05]).tolist(),
                     "year": rng.choice(["2016", "2017", "2018"], n).tolist()})


def county_year(recs: pa.Table, release: str, threshold: int = 11):
    con = duckdb.connect()
    con.register("r", recs)
    rows = con.execute("SELECT county, year, count(*) AS n FROM r GROUP BY ALL").to_arrow_table()
    table = CountTable.from_arrow(rows, ["county", "year"], "n", totals=["county", "year"])
    result = suppress(table, threshold)
    index = {d.name: d.code_index() for d in table.dimensions}
    coords = [[index[d][v] for v in recs.column(d).to_pylist()] for d in ("county", "year")]
    cells = np.ravel_multi_index(tuple(np.array(c) for c in coords), table.shape)
    return table_artifact(release, "county_year", result, recs.column("record_key"), cells)


def test_a_suppressed_table_alone_is_safe():
    report = check([county_year(records(300, 0), "one")], 11)
    assert report.safe and report.protected > 0


def test_adding_a_few_records_to_a_published_cell_gives_them_away_when_both_tables_are_out():
    before = records(300, 0)
    after = pa.concat_tables([before, pa.table({"record_key": ["n1", "n2", "n3"], "county": ["a"] * 3,
                                                "year": ["2018"] * 3})])
    report = check([county_year(before, "v1"), county_year(after, "v2")], 11)
    assert not report.safe
    (exposure,) = report.exposures
    assert exposure.value == 3 and exposure.low == exposure.high == 3
    assert "county=a, year=2018 of v2/county_year" in exposure.what
    assert "v1" not in exposure.what.split(" and in ")[0] or "not counted" in exposure.what


def test_the_same_table_republished_reveals_nothing_new():
    recs = records(300, 4)
    report = check([county_year(recs, "v1"), county_year(recs, "v2")], 11)
    assert report.safe


def test_a_record_file_and_a_table_of_the_same_records_are_checked_together():
    recs = records(400, 7)
    membership = pa.table({"record_key": recs.column("record_key"), "county": recs.column("county")})
    file = records_artifact("v1", "deaths", membership, ["county"])
    assert sorted(file.values.tolist()) == sorted(np.unique(recs.column("county").to_numpy(zero_copy_only=False),
                                                            return_counts=True)[1].tolist())
    report = check([file, county_year(recs, "v1")], 11)
    # the record file publishes each county's total: the same as the table's margins, so nothing new is learnt
    assert report.safe


@settings(max_examples=10, deadline=None)
@given(n=st.integers(40, 250), seed=st.integers(0, 10_000), added=st.integers(1, 10))
def test_a_small_addition_to_one_cell_is_always_caught_or_hidden(n, seed, added):
    before = records(n, seed)
    extra = pa.table({"record_key": [f"n{i}" for i in range(added)], "county": ["a"] * added,
                      "year": ["2017"] * added})
    v1, v2 = county_year(before, "v1"), county_year(pa.concat_tables([before, extra]), "v2")
    report = check([v1, v2], 11)
    cell = next(c for c, label in enumerate(v2.labels) if label == "county=a, year=2017")
    old = next(c for c, label in enumerate(v1.labels) if label == "county=a, year=2017")
    new_atom = [e for e in report.exposures if e.value == added and (1, cell) in e.cells and len(e.cells) == 1]
    if v1.published[old] and v2.published[cell]:
        # both releases show the cell: its difference (the added records) is exposed, and the check says so
        assert new_atom and new_atom[0].low == new_atom[0].high == added
    for e in report.exposures:  # whatever it flags is a small count bounded away from [0, 11]
        assert 1 <= e.value <= 10 and (e.low > 1e-6 or e.high < 11 - 1e-6)
