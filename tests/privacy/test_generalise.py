"""Generalisation by the standard's hierarchies: clean labels, Ibis and SQL agree, clear errors."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from justicelab.errors import StandardError
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser, Warehouse, ensure_entity_table

STANDARD = load_standard()

VALUES = pa.table({
    "age": pa.array([0, 4, 5, 25, 29, 30, 34, 99, None], pa.int64()),
    "d": pa.array([dt.date(2021, 3, 14), dt.date(2021, 12, 31), dt.date(1999, 1, 1), dt.date(2000, 6, 1),
                   dt.date(2021, 4, 1), dt.date(2018, 9, 30), dt.date(2005, 10, 2), dt.date(1987, 7, 9), None]),
    "county": pa.array(["alameda", "los_angeles", "inyo", "orange", "sierra", "not_a_county", "imperial",
                        "o'brien", None]),
    "zip": pa.array(["94501", "90210", "95814", "12345", "94000", "9", "00601", "94501", None]),
    "agency": pa.array(["Lodi", "Oakland", "Unknown", "Lodi", "Oakland", "Oakland", "Lodi", "Unknown", None]),
})
COLUMNS = {"age": "age", "date": "d", "county": "county", "zip": "zip", "place": "agency"}
AGENCIES = {"Lodi": "san_joaquin", "Oakland": "alameda"}


def _all_levels(g: Generaliser) -> dict[str, tuple[str, str, str]]:
    return {f"{col}__{level}": (hierarchy, col, level)
            for hierarchy, col in COLUMNS.items() for level in [*g.levels(hierarchy), "suppressed"]}


def _by_ibis(g: Generaliser, con: ibis.BaseBackend, table: str) -> dict[str, list]:
    t = con.table(table)
    exprs = {name: g.expr(t[col], h, lvl) for name, (h, col, lvl) in _all_levels(g).items()}
    return t.select(**exprs).to_pyarrow().to_pydict()


def _by_sql(g: Generaliser, raw, table: str) -> dict[str, list]:
    cols = ", ".join(f'{g.sql(f"{chr(34)}{col}{chr(34)}", h, lvl)} AS "{name}"'
                     for name, (h, col, lvl) in _all_levels(g).items())
    return raw.execute(f'SELECT {cols} FROM "{table}"').fetch_arrow_table().to_pydict()


def _load(warehouse: Warehouse) -> None:
    warehouse.raw.register("values_arrow", VALUES)
    warehouse.raw.execute("CREATE TABLE v AS SELECT * FROM values_arrow")


@pytest.fixture
def gen() -> Generaliser:
    return Generaliser(STANDARD, {"agency.county": AGENCIES})


def test_levels_follow_the_standard(gen):
    assert gen.levels("age") == ["years", "band_5", "band_10"]
    assert gen.levels("date") == ["day", "month", "quarter", "year"]
    assert gen.levels("county") == ["county", "region", "state"]
    assert gen.levels("place") == ["agency", "county", "region", "state"]
    assert gen.level_index("age", "suppressed") == 3 and gen.level_index("age", 2) == 2


def test_labels_are_clean_publishable_categories(warehouse, gen):
    _load(warehouse)
    got = _by_ibis(gen, warehouse.ibis, "v")
    assert got["age__years"][:4] == ["0", "4", "5", "25"]
    assert got["age__band_5"] == ["0-4", "0-4", "5-9", "25-29", "25-29", "30-34", "30-34", "95-99", None]
    assert got["age__band_10"] == ["0-9", "0-9", "0-9", "20-29", "20-29", "30-39", "30-39", "90-99", None]
    assert got["d__day"][0] == "2021-03-14" and got["d__month"][0] == "2021-03"
    assert got["d__quarter"][:4] == ["2021-Q1", "2021-Q4", "1999-Q1", "2000-Q2"]
    assert got["d__year"][:3] == ["2021", "2021", "1999"]
    assert got["county__region"][:5] == ["bay_area", "los_angeles", "southern_san_joaquin_valley", "orange",
                                         "superior_california"]
    # A code the lookup does not know becomes NULL: never published as it was recorded.
    assert got["county__region"][5] is None and got["county__region"][7] is None
    assert got["county__state"] == ["state"] * 8 + [None]
    assert got["zip__zip3"] == ["945", "902", "958", "123", "940", "9", "006", "945", None]
    assert got["agency__county"] == ["san_joaquin", "alameda", None, "san_joaquin", "alameda", "alameda",
                                     "san_joaquin", None, None]
    assert got["agency__region"][:2] == ["northern_san_joaquin_valley", "bay_area"]
    assert got["agency__state"][:3] == ["state", "state", "state"]
    for name in got:
        if name.endswith("__suppressed"):
            assert got[name] == [None] * len(VALUES)


def test_sql_text_gives_the_same_labels_as_ibis(warehouse, gen):
    _load(warehouse)
    assert _by_sql(gen, warehouse.raw, "v") == _by_ibis(gen, warehouse.ibis, "v")


def test_string_dates_and_timestamps_generalise_like_dates(warehouse, gen):
    raw = warehouse.raw
    raw.execute("CREATE TABLE s AS SELECT '2021-03-14' AS txt, TIMESTAMP '2021-03-14 23:10:00' AS ts")
    t = warehouse.ibis.table("s")
    got = t.select(a=gen.expr(t.txt, "date", "quarter"), b=gen.expr(t.ts, "date", "month")).to_pyarrow().to_pylist()
    assert got == [{"a": "2021-Q1", "b": "2021-03"}]
    row = raw.execute(f"SELECT {gen.sql('txt', 'date', 'quarter')}, {gen.sql('ts', 'date', 'day')} FROM s").fetchone()
    assert row == ("2021-Q1", "2021-03-14")


def test_for_warehouse_reads_the_agency_directory(warehouse):
    ensure_entity_table(warehouse, STANDARD.entity("agency"))
    warehouse.execute("INSERT INTO agency (agency_code, name, county) VALUES "
                      "('Lodi', 'Lodi Police Department', 'san_joaquin'), ('Oakland', 'Oakland PD', 'alameda')")
    g = Generaliser.for_warehouse(STANDARD, warehouse)
    _load(warehouse)
    t = warehouse.ibis.table("v")
    assert t.select(c=g.expr(t.agency, "place", "county")).to_pyarrow().column("c").to_pylist()[:3] == [
        "san_joaquin", "alameda", None]


def test_a_lookup_without_its_reference_table_says_what_is_missing(tmp_path):
    g = Generaliser.for_warehouse(STANDARD, Warehouse.open(str(tmp_path / "empty.duckdb")))
    with pytest.raises(StandardError, match=r"place, level county needs the reference table agency"):
        g.sql('"agency"', "place", "county")
    # Levels that do not need the directory still work.
    assert g.sql('"agency"', "place", "state") == "CASE WHEN (\"agency\") IS NULL THEN NULL ELSE 'state' END"


def test_unknown_hierarchy_or_level_names_the_choices(gen):
    t = ibis.table({"age": "int64"}, name="t")
    with pytest.raises(StandardError, match=r"unknown hierarchy 'ages'.*age, date, place, zip, county"):
        gen.levels("ages")
    with pytest.raises(StandardError, match=r"hierarchy age has no level 'band_7'; choose one of: years, band_5, "
                                            r"band_10, suppressed \(or 0-3\)"):
        gen.expr(t.age, "age", "band_7")
    with pytest.raises(StandardError, match=r"hierarchy date has no level 5"):
        gen.sql("d", "date", 5)


@settings(max_examples=60, deadline=None)
@given(ages=st.lists(st.one_of(st.none(), st.integers(0, 120)), min_size=1, max_size=30),
       days=st.lists(st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))), min_size=1,
                     max_size=30))
def test_bands_and_dates_match_their_definition(ages, days):
    g = Generaliser(STANDARD)
    con = ibis.duckdb.connect()
    a = ibis.memtable(pa.table({"age": pa.array(ages, pa.int64())}))
    got = a.select(b5=g.expr(a.age, "age", "band_5"), b10=g.expr(a.age, "age", "band_10"))
    rows = con.execute(got).to_dict("records")
    for age, row in zip(ages, rows, strict=True):
        if age is None:
            assert row["b5"] is None and row["b10"] is None
            continue
        lo5, lo10 = age // 5 * 5, age // 10 * 10
        assert (row["b5"], row["b10"]) == (f"{lo5}-{lo5 + 4}", f"{lo10}-{lo10 + 9}")
    d = ibis.memtable(pa.table({"d": pa.array(days, pa.date32())}))
    rows = con.execute(d.select(m=g.expr(d.d, "date", "month"), q=g.expr(d.d, "date", "quarter"))).to_dict("records")
    for day, row in zip(days, rows, strict=True):
        expected = (None, None) if day is None else (
            f"{day.year}-{day.month:02d}", f"{day.year}-Q{(day.month - 1) // 3 + 1}")
        assert (row["m"], row["q"]) == expected
