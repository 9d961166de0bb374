"""Data-quality findings on a small Crimes & Clearances table whose problems are known."""

from __future__ import annotations

import pyarrow as pa
import pytest

from justicelab.indicators.quality import findings, summary_by_agency
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse, ensure_entity_table


def _rows(agency, county, year, **counts):
    return [{"agency_code": agency, "county": county, "year": year, "offense": o, "offenses": n,
             "clearances": c} for o, (n, c) in counts.items()]


@pytest.fixture
def wh(tmp_path):
    w = Warehouse.open(str(tmp_path / "wh.duckdb"))
    std = load_standard()
    for name in ("crime_clearance", "agency"):
        ensure_entity_table(w, std.entity(name))
    rows = []
    good = {"violent": (10, 5), "homicide": (1, 1), "rape": (2, 1), "robbery": (3, 1), "aggravated_assault": (4, 2),
            "property": (100, 10)}
    for y in (2019, 2020, 2021, 2022):
        rows += _rows("Goodtown", "alameda", y, **good)
    rows += _rows("Gappy", "kern", 2019, **good) + _rows("Gappy", "kern", 2021, **good)  # 2020 missing
    rows += _rows("Zeroville", "inyo", 2020, **good)
    rows += _rows("Zeroville", "inyo", 2021, violent=(0, 0), property=(0, 0))
    rows += _rows("Sloppy", "kings", 2021, violent=(10, 12), homicide=(1, 1), rape=(2, 1), robbery=(3, 1),
                  aggravated_assault=(9, 2), property=(100, 10))  # parts sum to 15, not 10; 12 cleared > 10
    rows += _rows("Minus", "lake", 2020, violent=(10, 1), property=(-3, 0))
    rows += _rows("Jumpy", "napa", 2020, violent=(10, 1), property=(100, 10))
    rows += _rows("Jumpy", "napa", 2021, violent=(10, 1), property=(400, 10))
    table = pa.Table.from_pylist([{**r, "_record_id": f"{r['agency_code']}:{r['year']}:{r['offense']}",
                                   "_source": "t", "_batch_id": 1, "_source_row": i} for i, r in enumerate(rows)])
    w.raw.register("cc_rows", table)
    cols = ", ".join(table.column_names)
    w.execute(f"INSERT INTO crime_clearance ({cols}) SELECT {cols} FROM cc_rows")
    w.execute("INSERT INTO agency (_record_id, agency_code, name, county) VALUES "
              "('a:1', 'Goodtown', 'Goodtown PD', 'alameda'), ('a:2', 'Gappy', 'Gappy PD', 'kern'), "
              "('a:3', 'Zeroville', 'Zeroville PD', 'inyo'), ('a:4', 'Sloppy', 'Sloppy PD', 'kings')")
    yield w
    w.close()


def test_each_rule_finds_its_problem_and_nothing_else(wh):
    got = {(r["agency"], r["year"], r["rule"], r["offense"]): r for r in findings(wh).to_pyarrow().to_pylist()}
    assert ("Gappy", 2021, "missing_year", None) in got
    assert ("Zeroville", 2021, "zero_after_nonzero", None) in got
    assert got[("Sloppy", 2021, "clearances_exceed_offenses", "violent")]["value"] == 12
    comp = got[("Sloppy", 2021, "components_not_summing", "violent by offense")]
    assert (comp["value"], comp["expected"]) == (15, 10)
    assert got[("Jumpy", 2021, "implausible_jump", "property")]["expected"] == 100
    assert ("Jumpy", 2020, "unmatched_agency", None) in got
    assert got[("Minus", 2020, "negative_count", "property")]["value"] == -3
    assert not [k for k in got if k[0] == "Goodtown"]


def test_filters_and_summary(wh):
    only = findings(wh, year=2021, agency="Sloppy").to_pyarrow()
    assert set(only.column("rule").to_pylist()) == {"clearances_exceed_offenses", "components_not_summing"}
    summary = summary_by_agency(findings(wh).to_pyarrow()).to_pylist()
    assert {"agency": "Sloppy", "county": "kings", "rule": "components_not_summing", "findings": 1} in summary
