"""Disclosure risk of DOJ's real deaths-in-custody file (2005-2018 release) as published.

The issue's claim: almost every record is unique on county, year, month, age, sex and race. Measured here:
9,653 of the release's 9,910 records (97.4%) are unique on them; 10-year age bands, regions and years still
leave many classes below 11.
"""

from __future__ import annotations

import pytest

from justicelab.privacy.risk import assess, open_table
from justicelab.sources.openjustice import load_agencies, load_custody_deaths, load_population
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser, Warehouse

STANDARD = load_standard()
RELEASE_2019 = "_source = 'openjustice_dic_2005_2018'"


@pytest.fixture(scope="module")
def real_wh(tmp_path_factory, openjustice_dir):
    wh = Warehouse.open(str(tmp_path_factory.mktemp("real_risk") / "wh.duckdb"))
    for load in (load_agencies, load_custody_deaths, load_population):
        load(wh, openjustice_dir)
    yield wh
    wh.close()


def measure(wh: Warehouse, qi: str, sensitive: str | None = None, where: str = RELEASE_2019):
    with open_table(wh, "custody_death", STANDARD) as ds:
        return assess(ds, qi, sensitive, generaliser=Generaliser.for_warehouse(STANDARD, wh), where=where, top=5)


def test_almost_every_death_is_unique_on_county_year_month_age_sex_and_race(real_wh):
    r = measure(real_wh, "county,year,month,age,sex,race", "manner_of_death")
    print(f"\n2005-2018 release: {r.records} records, {r.classes.unique_records} unique "
          f"({r.classes.sample_uniqueness:.4f}), k={r.classes.k}, classes={r.classes.classes}")
    assert r.records == 9_910
    assert r.classes.sample_uniqueness > 0.95
    assert r.classes.k == 1 and r.prosecutor.highest == 1.0
    assert r.prosecutor.share_at_risk > 0.99  # every class is smaller than 11
    assert r.diversity[0].l_diversity == 1  # a unique record gives its manner of death away
    assert r.journalist is None and "not by month" in r.population.reason


def test_coarser_categories_reduce_but_do_not_remove_the_risk(real_wh):
    published = measure(real_wh, "county,year,month,age,sex,race")
    coarse = measure(real_wh, "county:region,year,age:band_10,sex,race")
    print(f"\nregion, year, 10-year band, sex, race: uniqueness {coarse.classes.sample_uniqueness:.4f}, "
          f"records in classes < 11: {coarse.prosecutor.share_at_risk:.4f}")
    assert coarse.classes.sample_uniqueness < published.classes.sample_uniqueness / 4
    assert 0 < coarse.prosecutor.share_at_risk < published.prosecutor.share_at_risk


def test_journalist_risk_against_county_populations(real_wh):
    r = measure(real_wh, "county,year", "manner_of_death")
    assert r.journalist is not None, r.population.reason
    assert r.population.source.startswith("warehouse population table (")
    # The deaths whose county DOJ left empty: one class a year, 2007-2018.
    assert r.journalist.classes_without_population == 12
    # Residents of a county in a year number thousands: a journalist's risk is far below the prosecutor's.
    assert r.journalist.marketer < r.marketer_sample / 10
