"""A whole assessment of a warehouse table or a file: the --qi syntax, the attacker models, clear errors."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.privacy.risk import RiskError, assess, open_file, open_table
from justicelab.standard import load_standard
from justicelab.synth import generate_state
from justicelab.warehouse import Generaliser, Warehouse

STANDARD = load_standard()


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    root = tmp_path_factory.mktemp("state")
    m = generate_state(root / "files", agencies=58, years=2, first_year=2021, incidents=4_000, seed=3)
    wh = Warehouse.open(str(root / "wh.duckdb"))
    for s in m.sources:
        ingest_file(wh, m.path(s.path), load_mapping(m.path(s.mapping)))
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def arrests(state) -> pd.DataFrame:
    return state.raw.execute("SELECT * FROM arrest").df()


def run(wh: Warehouse, qi: str, sensitive: str | None = None, **kw):
    with open_table(wh, "arrest", STANDARD) as ds:
        return assess(ds, qi, sensitive, generaliser=Generaliser.for_warehouse(STANDARD, wh), **kw)


def _band5(age: float) -> str | None:
    return None if pd.isna(age) else f"{int(age) // 5 * 5}-{int(age) // 5 * 5 + 4}"


def test_measures_match_an_independent_pandas_computation(state, arrests):
    r = run(state, "county,year,month,age:band_5,sex,race", "offense_category", top=3)
    df = pd.DataFrame({
        "county": arrests.county, "year": arrests.arrest_date.dt.year.astype(str),
        "month": arrests.arrest_date.dt.strftime("%Y-%m"), "age": arrests.age.map(_band5),
        "sex": arrests.sex, "race": arrests.race_ethnicity, "offense": arrests.offense_category,
    })
    sizes = df.groupby(list(df.columns[:6]), dropna=False).size()
    assert r.records == len(df) and r.classes.classes == len(sizes) and r.classes.k == sizes.min()
    assert r.classes.sample_uniqueness == pytest.approx((sizes == 1).sum() / len(df))
    assert r.prosecutor.average == pytest.approx(len(sizes) / len(df))
    assert r.prosecutor.records_at_risk == sizes[sizes < 11].sum()
    distinct = df.groupby(list(df.columns[:6]), dropna=False).offense.nunique(dropna=False)
    assert r.diversity[0].l_diversity == distinct.min()
    assert [a.describe() for a in r.qi] == [
        "county", "year = arrest_date at date.year", "month = arrest_date at date.month", "age = age at age.band_5",
        "sex", "race = race_ethnicity"]
    assert len(r.top) == 3 and r.top[0]["prosecutor_risk"] == 1.0 and r.top[0]["age"].count("-") == 1
    assert set(r.top[0]) >= {"record", "county", "month", "offense_category", "class_size"}


def test_generalising_lowers_the_risk(state):
    fine = run(state, "county,month,age,sex,race", top=0)
    coarse = run(state, "county:region,year,age:band_10,sex", top=0)
    assert coarse.classes.classes < fine.classes.classes
    assert coarse.classes.sample_uniqueness < fine.classes.sample_uniqueness
    assert coarse.prosecutor.share_at_risk < fine.prosecutor.share_at_risk


def test_journalist_risk_from_the_warehouse_population(state, arrests):
    r = run(state, "county,year,sex,race", top=1)
    assert r.journalist is not None, r.population.reason
    pop = state.raw.execute("""
        SELECT county, CAST(year AS VARCHAR) AS year, sex, race_ethnicity AS race, sum(population) AS big_f
        FROM population WHERE geography_type = 'county' AND sex IS NOT NULL AND race_ethnicity IS NOT NULL
        GROUP BY ALL""").df()
    f = pd.DataFrame({"county": arrests.county, "year": arrests.arrest_date.dt.year.astype(str), "sex": arrests.sex,
                      "race": arrests.race_ethnicity}).value_counts().rename("f").reset_index()
    joined = f.merge(pop, on=["county", "year", "sex", "race"], how="left")
    # Races and sexes the population does not count (race unknown or other, sex U) have no figure: such a
    # class counts as its own population.
    missing = joined[joined.big_f.isna()]
    assert r.journalist.classes_without_population == len(missing) > 0
    assert (missing.race.isin(["unknown", "other"]) | missing.sex.eq("U")).all()
    joined["big_f"] = joined[["big_f", "f"]].max(axis=1)
    assert r.journalist.journalist.highest == pytest.approx((1 / joined.big_f).max())
    assert r.journalist.marketer == pytest.approx((joined.f / joined.big_f).sum() / joined.f.sum())
    assert r.top[0]["journalist_risk"] == pytest.approx(1 / r.top[0]["population_class_size"])
    assert {m["measure"] for m in r.measures()} >= {"journalist risk: highest", "marketer risk (population)"}


def test_age_bands_map_to_population_age_groups_where_the_labels_match(state):
    r = run(state, "county,year,age:band_5,sex", top=0)
    assert r.journalist is not None
    # The population's age groups are 0-9, 10-17, 18-19, 20-24, ...: 5-year bands under 20 have no figure.
    assert r.journalist.classes_without_population > 0
    assert "had no population figure" in next(m["meaning"] for m in r.measures()
                                              if m["measure"] == "journalist risk: highest")


def test_journalist_risk_explains_what_cannot_be_mapped(state):
    r = run(state, "county,year,month,offense_category", top=0)
    assert r.journalist is None
    assert "residents are counted by year, not by month" in r.population.reason
    assert "no breakdown by offense_category" in r.population.reason
    assert "add year to --qi" in run(state, "county,sex", top=0).population.reason
    row = next(m for m in r.measures() if m["measure"] == "journalist risk")
    assert row["value"] is None and row["meaning"].startswith("not computed: ")


def test_an_explicit_population_file(state, tmp_path):
    path = tmp_path / "pop.csv"
    counties = [r[0] for r in state.execute("SELECT DISTINCT county FROM arrest WHERE county IS NOT NULL")]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["county", "sex", "population"])
        for i, c in enumerate(counties):
            for s in ("M", "F", "U"):
                w.writerow([c, s, 1_000 + i])
    r = run(state, "county,sex", population=path, top=0)
    assert r.journalist is not None and r.population.source == "file pop.csv"
    assert r.journalist.journalist.highest == pytest.approx(1 / 1_000)
    bad = tmp_path / "bad.csv"
    bad.write_text("county,people\nalameda,3\n")
    with pytest.raises(RiskError, match=r"missing sex, population \(or count\) \(it has: county, people\)"):
        run(state, "county,sex", population=bad)


def test_every_record_risk_to_a_file_and_a_where_filter(state, tmp_path):
    out = tmp_path / "risk.parquet"
    r = run(state, "county,age", where="sex = 'F'", records_out=out, top=0)
    written = pd.read_parquet(out)
    assert len(written) == r.records == state.count("arrest", "sex = 'F'")
    assert written.prosecutor_risk.max() == pytest.approx(r.prosecutor.highest)
    assert (1 / written.class_size).mean() == pytest.approx(r.prosecutor.average)


def test_a_file_measures_the_same_as_the_warehouse_table(state, arrests, tmp_path):
    path = tmp_path / "arrests.csv"
    arrests.to_csv(path, index=False)
    with open_file(path, STANDARD, entity="arrest") as ds:
        from_file = assess(ds, "county,year,age:band_10,race", "offense_level", generaliser=Generaliser(STANDARD))
    from_table = run(state, "county,year,age:band_10,race", "offense_level")
    assert from_file.classes == from_table.classes and from_file.diversity == from_table.diversity
    with open_file(path, STANDARD) as ds:  # without --entity the standard's field names still give hierarchies
        plain = assess(ds, "county,year=arrest_date:year,age:band_10,race", "offense_level",
                       generaliser=Generaliser(STANDARD))
    assert plain.classes == from_table.classes


def test_errors_name_the_choices(state, tmp_path):
    with pytest.raises(RiskError, match=r"unknown dataset 'arrests': the warehouse has .*arrest.*population"):
        open_table(state, "arrests", STANDARD)
    with pytest.raises(RiskError, match=r"arrest has no column 'colour' \(quasi-identifier\); it has: "
                                        r"source_person_id, .*, arrest_disposition \(and year, quarter, month, day"):
        run(state, "county,colour")
    with pytest.raises(RiskError, match=r"quasi-identifier age: hierarchy age has no level 'band_7'; choose one of: "
                                        r"years, band_5, band_10, suppressed"):
        run(state, "age:band_7")
    with pytest.raises(RiskError, match=r"column offense_code has no hierarchy in the standard; write "
                                        r"offense_code:HIERARCHY.LEVEL with one of: age, date"):
        run(state, "offense_code:short")
    with pytest.raises(RiskError, match="county named twice"):
        run(state, "county", "county")
    with pytest.raises(RiskError, match="item 'age::x' is not"):
        run(state, "age::x")
    with pytest.raises(RiskError, match="cannot read the attributes asked for"):
        run(state, "county", where="no_such_column = 1")
    two_dates = tmp_path / "two.csv"
    two_dates.write_text("a,b,c\n2021-01-02,2021-03-04,x\n", encoding="utf-8")
    with open_file(two_dates, STANDARD) as ds, pytest.raises(RiskError, match=r"has 2 date columns \(a, b\); name "
                                                                              "one with --date-field"):
        assess(ds, "year,c", generaliser=Generaliser(STANDARD))
    with open_file(two_dates, STANDARD) as ds:
        r = assess(ds, "year,c", generaliser=Generaliser(STANDARD), date_field="b", top=1)
        assert r.top[0]["year"] == "2021" and r.top[0]["record"] == "1"
    with pytest.raises(RiskError, match=r"cannot read a \.xlsx file"):
        open_file(tmp_path / "x.xlsx", STANDARD)


def test_dates_in_the_year_before_and_after_group_apart(tmp_path):
    path = tmp_path / "deaths.csv"
    rows = [("1", dt.date(2017, 12, 31), "alameda"), ("2", dt.date(2018, 1, 1), "alameda"),
            ("3", dt.date(2018, 1, 20), "marin")]
    path.write_text("death_id,date_of_death,county\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    with open_file(path, STANDARD, entity="custody_death") as ds:
        by_month = assess(ds, "county:region,month", generaliser=Generaliser(STANDARD), top=3)
        by_year = assess(ds, "county:region,quarter", generaliser=Generaliser(STANDARD), top=3)
    assert by_month.classes.sizes == ((1, 1), (2, 1)) and by_year.classes.k == 1
    assert {r["record"] for r in by_month.top} == {"1", "2", "3"}
    assert sorted(r["month"] for r in by_month.top) == ["2017-12", "2018-01", "2018-01"]
