"""DP counts of the real deaths in custody (DOJ OpenJustice, 2005-2018 release), against exact counts from SQL."""

from __future__ import annotations

import numpy as np
import pytest

from justicelab.privacy.dp import BudgetExceeded, budget, dp_counts, ledger_entries
from justicelab.sources.openjustice import load_custody_deaths
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse

# Bounds on |published - exact| that a correct release exceeds with probability far below 1e-6: the noise on
# the total and on each year's margin has a standard error of about 5 to 8 at these budgets.
TOTAL_TOLERANCE = 120


@pytest.fixture(scope="module")
def real_wh(tmp_path_factory, openjustice_dir):
    wh = Warehouse.open(str(tmp_path_factory.mktemp("dp_real") / "wh.duckdb"))
    load_custody_deaths(wh, openjustice_dir)
    yield wh
    wh.close()


def exact(wh: Warehouse, sql_where: str = "") -> dict[int, int]:
    rows = wh.execute("SELECT year(date_of_death), count(*) FROM custody_death "
                      f"WHERE year(date_of_death) BETWEEN 2005 AND 2018 {sql_where} GROUP BY 1")
    return {int(y): int(n) for y, n in rows}


def test_county_by_year_release_of_the_real_deaths_in_custody(real_wh):
    by_year = exact(real_wh)
    assert sum(by_year.values()) > 9000  # DOJ's 2005-2018 release
    release = dp_counts(real_wh, "custody_death", ["county", "year"], epsilon=1.0,
                        domains={"year": "2005..2018"}, who="test")
    counties = load_standard().codelist("county").values()
    assert release.cells.shape == (len(counties) + 1, 14)  # 58 counties and 'not recorded', every year
    assert (release.cells >= 0).all() and release.cells.sum() == release.total
    assert abs(release.total - sum(by_year.values())) < TOTAL_TOLERANCE
    years = release.margin("year")
    assert all(abs(int(years[i]) - by_year[2005 + i]) < TOTAL_TOLERANCE for i in range(14))
    assert release.epsilon <= 1.0 and ledger_entries(real_wh, "custody_death")[-1]["epsilon"] == release.epsilon
    # The published county margins (sums of cells) agree with the exact ones within the noise.
    exact_county = dict(real_wh.execute("SELECT county, count(*) FROM custody_death "
                                        "WHERE year(date_of_death) BETWEEN 2005 AND 2018 GROUP BY 1"))
    published = release.margin("county")
    errors = [int(published[i]) - exact_county.get(c, 0) for i, c in enumerate([*counties, None])]
    assert np.median(np.abs(errors)) < 15


def test_a_gaussian_release_by_race_and_year_then_the_budget_runs_out(real_wh):
    release = dp_counts(real_wh, "custody_death", ["race", "year"], epsilon=1.5, mechanism="gaussian",
                        delta=1e-7, domains={"year": "2005..2018"})
    by_year = exact(real_wh)
    assert abs(release.total - sum(by_year.values())) < TOTAL_TOLERANCE
    assert (release.cells >= 0).all() and release.rho is not None and release.delta == 1e-7
    left = budget(real_wh, "custody_death")
    with pytest.raises(BudgetExceeded, match="custody_death has only epsilon"):
        dp_counts(real_wh, "custody_death", ["county"], epsilon=left.remaining_epsilon + 0.25)
    assert budget(real_wh, "custody_death") == left
    assert ledger_entries(real_wh, "custody_death")[-1]["mechanism"] == "gaussian"
