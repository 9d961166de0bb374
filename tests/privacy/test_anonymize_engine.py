"""The anonymiser on a warehouse table: the release files and report, the small-jurisdiction rule with the
population table, an order that says nothing about the source, and clear errors when no node will do."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from justicelab.privacy.anonymize import AnonymizeError, PolicyError, anonymize, parse_policy
from justicelab.privacy.risk import class_summary, open_table
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser, Warehouse, ensure_entity_table

STANDARD = load_standard()
REGION = {c.code: c.attributes["region"] for c in STANDARD.codelists["county"].codes}
# Residents in 2018 and 2019: alpine and amador are small, sierra is small only in 2019.
POPULATION = {"alameda": (1_660_000, 1_670_000), "fresno": (994_000, 999_000), "alpine": (1_150, 1_130),
              "amador": (38_000, 39_000), "sierra": (120_000, 3_000), "los_angeles": (10_100_000, 10_050_000)}
COUNTIES = list(POPULATION)


def build_deaths(wh: Warehouse, rows: int = 900, seed: int = 3) -> pd.DataFrame:
    """A custody_death table (in date order, as a source file would be) and county populations for 2018-2019."""
    rng = np.random.default_rng(seed)
    start = dt.date(2017, 1, 1)
    df = pd.DataFrame({
        "death_id": [f"d{i:04d}" for i in range(rows)],
        "date_of_death": sorted(start + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, rows)),
        "county": rng.choice(COUNTIES, rows, p=[0.3, 0.2, 0.05, 0.05, 0.05, 0.35]),
        "age": rng.integers(18, 80, rows),
        "sex": rng.choice(["M", "F"], rows, p=[0.85, 0.15]),
        "race_ethnicity": rng.choice(["white", "black", "hispanic", "asian"], rows),
        "manner_of_death": rng.choice(["natural", "suicide", "accidental", "homicide"], rows),
        "means_of_death": rng.choice(["drug_overdose", "hanging_strangulation", "other"], rows),
    })
    ensure_entity_table(wh, STANDARD.entity("custody_death"))
    wh.raw.register("deaths_df", df)
    wh.execute(f"INSERT INTO custody_death ({', '.join(df.columns)}) SELECT * FROM deaths_df")
    ensure_entity_table(wh, STANDARD.entity("population"))
    for county, figures in POPULATION.items():
        for year, residents in zip((2018, 2019), figures, strict=True):
            wh.execute("INSERT INTO population (geography_type, geography_code, county, year, reference_date, "
                       f"estimate_type, population, vintage) VALUES ('county', '{county}', '{county}', {year}, "
                       f"DATE '{year}-01-01', 'estimate', {residents}, '2020')")
    return df


POLICY = """dataset: custody_death
tier: public
quasi_identifiers:
  - {attribute: county, max_level: region}
  - {attribute: "date_of_death:month", max_level: year}
  - age:band_5
  - sex
sensitive: [manner_of_death]
targets: {k: 5, l: 2, max_suppression: 0.05}
jurisdiction: {attribute: county, min_population: 100000}
keep: [means_of_death]
drop: [death_id]
"""


@pytest.fixture(scope="module")
def deaths(tmp_path_factory):
    wh = Warehouse.open(str(tmp_path_factory.mktemp("anon") / "wh.duckdb"))
    df = build_deaths(wh)
    yield wh, df
    wh.close()


def run(wh: Warehouse, text: str, out: Path | None = None, **kw):
    with open_table(wh, "custody_death", STANDARD) as ds:
        return anonymize(ds, parse_policy(text), generaliser=Generaliser.for_warehouse(STANDARD, wh), out=out, **kw)


def test_the_release_its_files_and_its_report(deaths, tmp_path):
    wh, df = deaths
    result = run(wh, POLICY, tmp_path)
    names = sorted(p.name for p in result.files)
    assert names == ["custody_death.anonymization.json", "custody_death.csv", "custody_death.parquet"]
    release = pd.read_parquet(tmp_path / "custody_death.parquet")
    from_csv = pd.read_csv(tmp_path / "custody_death.csv", dtype=str, keep_default_na=False)
    assert len(release) == len(from_csv) == len(df) - result.suppressed
    assert list(release.columns) == ["county", "date_of_death", "age", "sex", "manner_of_death", "means_of_death"]
    report = json.loads((tmp_path / "custody_death.anonymization.json").read_text())
    assert report["levels"] == result.levels and report["records"] == len(df)
    assert {"death_id", "race_ethnicity", "last_name", "agency_code"} <= set(report["columns"]["dropped"])
    assert report["columns"]["released"] == list(release.columns)
    assert report["achieved"]["k"] >= 5 and report["achieved"]["sensitive"]["manner_of_death"]["l_diversity"] >= 2
    assert report["suppressed"] <= math.floor(0.05 * len(df))
    assert report["search"]["evaluated"] + report["search"]["tagged_failing"] + report["search"]["bounded_out"] \
        == report["search"]["lattice_size"]
    # Kept and sensitive columns are released as recorded.
    kept = df.set_index("death_id")
    assert set(release["means_of_death"]) <= set(kept["means_of_death"])
    assert release.groupby(["county", "date_of_death", "age", "sex"], dropna=False).size().min() >= 5


def test_small_counties_are_released_as_their_region_by_the_population_table(deaths):
    wh, _ = deaths
    forced = POLICY.replace("{attribute: county, max_level: region}", "{attribute: county, max_level: county}")
    result = run(wh, forced, table=True)
    assert result.levels["county"] == "county"
    merge = result.plan.merge
    assert merge is not None and merge.year == 2019  # the latest year of the population table by default
    assert merge.small == {"alpine": 1_130, "amador": 39_000, "sierra": 3_000}
    assert "marin" in merge.unknown and "alameda" not in merge.unknown  # no figure: merged too
    assert result.table is not None
    shown = set(result.table.column("county").to_pylist())
    assert shown <= {"alameda", "fresno", "los_angeles", REGION["alpine"], REGION["sierra"]}
    assert {"alpine", "amador", "sierra"}.isdisjoint(shown)
    assert REGION["alpine"] in shown  # alpine and amador share their region's label
    # With 2018's figures sierra (120,000 then) is large enough to be shown.
    earlier = run(wh, forced.replace("min_population: 100000}", "min_population: 100000, population_year: 2018}"),
                  table=True)
    assert earlier.plan.merge is not None and "sierra" not in earlier.plan.merge.small
    assert earlier.table is not None and "sierra" in set(earlier.table.column("county").to_pylist())


def test_a_population_year_the_table_lacks_is_named_at_its_line(deaths):
    wh, _ = deaths
    with pytest.raises(PolicyError, match=r"policy:12: jurisdiction.population_year: .*no county figures for 1990"):
        run(wh, POLICY.replace("min_population: 100000}", "min_population: 100000,\n  population_year: 1990}")
            .replace("jurisdiction: {", "jurisdiction:\n  {"))


def test_rows_are_ordered_by_their_released_values_not_by_the_source(deaths, tmp_path):
    wh, _ = deaths
    monthly = (POLICY.replace("max_level: year}", "max_level: month}")
               .replace("age:band_5", "{attribute: age, max_level: suppressed}"))
    result = run(wh, monthly.replace("k: 5, l: 2, max_suppression: 0.05", "k: 2, max_suppression: 0.3"), table=True)
    assert result.levels["date_of_death"] == "month"
    assert result.table is not None
    rows = result.table.to_pylist()
    keys = [tuple("" if r[c] is None else str(r[c]) for c in ("county", "date_of_death", "age", "sex",
                                                             "manner_of_death", "means_of_death")) for r in rows]
    assert keys == sorted(keys)
    # The source is in date order; within a released month the release's order is not the source's.
    months = [r["date_of_death"] for r in rows]
    assert months != sorted(months)


def test_the_release_is_measured_again_by_privacy_risk(deaths, tmp_path):
    wh, _ = deaths
    result = run(wh, POLICY, tmp_path)
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{tmp_path / 'custody_death.parquet'}')")
    summary = class_summary(con, "r", ["county", "date_of_death", "age", "sex"])
    assert summary.k == result.achieved["k"] and summary.classes == result.achieved["classes"]
    assert result.achieved["records_in_classes_below_11"] == summary.records_below(11)


def test_no_node_meeting_the_targets_is_a_clear_error(deaths):
    wh, _ = deaths
    impossible = POLICY.replace("k: 5, l: 2, max_suppression: 0.05", "k: 400, l: 2, max_suppression: 0.0")
    with pytest.raises(AnonymizeError, match=r"no generalisation allowed by the policy meets k=400, distinct l=2 "
                                              r"with at most 0 of 900 records suppressed.*max_level"):
        run(wh, impossible)


def test_a_where_the_data_cannot_answer_names_its_line(deaths):
    wh, _ = deaths
    with pytest.raises(PolicyError, match=r"policy:3: where: DuckDB cannot read the records asked for"):
        run(wh, POLICY.replace("tier: public\n", "tier: public\nwhere: no_such_column > 1\n"))
    with pytest.raises(AnonymizeError, match="no records to anonymise where 1 = 0"):
        run(wh, POLICY.replace("tier: public\n", "tier: public\nwhere: 1 = 0\n"))


def test_discernibility_and_weights_change_the_choice_but_not_the_guarantee(deaths):
    wh, _ = deaths
    by_ncp = run(wh, POLICY)
    by_dm = run(wh, POLICY + "metric: discernibility\n")
    for r in (by_ncp, by_dm):
        assert r.achieved["k"] >= 5 and r.suppressed <= 45
    assert by_dm.chosen.discernibility <= by_ncp.chosen.discernibility
    assert by_ncp.chosen.ncp <= by_dm.chosen.ncp
    # Weighing the date 20 times the others keeps it by quarter, at the cost of sex.
    weighed = run(wh, POLICY.replace('max_level: year}', 'max_level: year, weight: 20}'))
    assert (by_ncp.levels["date_of_death"], by_ncp.levels["sex"]) == ("year", "recorded")
    assert (weighed.levels["date_of_death"], weighed.levels["sex"]) == ("quarter", "suppressed")


def test_local_recoding_keeps_finer_labels_where_the_data_allows_and_merges_small_counties(deaths):
    wh, df = deaths
    local = run(wh, POLICY + "recoding: local\n", table=True)
    global_ = run(wh, POLICY)
    assert local.search is None and local.local is not None and local.suppressed == 0
    assert local.achieved["k"] >= 5 and local.achieved["sensitive"]["manner_of_death"]["l_diversity"] >= 2
    assert local.chosen.ncp < global_.chosen.ncp
    assert local.table is not None and local.table.num_rows == len(df)
    counties = set(local.table.column("county").to_pylist())
    assert {"alpine", "amador", "sierra"}.isdisjoint(counties)  # never shown alone, at any level
    shares = local.level_shares["date_of_death"]
    assert set(shares) <= {"month", "quarter", "year"} and sum(shares.values()) == pytest.approx(1.0)
    report = local.as_dict()
    assert report["search"]["recoding"] == "local" and report["search"]["splits"] == local.local.splits
    assert report["quasi_identifiers"][1]["share_by_level"] == shares


def test_local_recoding_refuses_t_closeness_at_the_policys_line(deaths):
    wh, _ = deaths
    with pytest.raises(PolicyError, match=r"policy:\d+: recoding: local recoding meets k and distinct l"):
        run(wh, POLICY.replace("k: 5, l: 2,", "k: 5, l: 2, t: 0.5,") + "recoding: local\n")
