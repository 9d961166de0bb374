"""DP counts and the budget ledger on a PostgreSQL warehouse (the same Ibis queries, a locked ledger)."""

from __future__ import annotations

import pytest

from justicelab.privacy.dp import BudgetExceeded, budget, dp_counts, ledger_entries, set_budget
from justicelab.warehouse import Warehouse
from tests.privacy.test_dp_release import add_deaths


def test_release_and_ledger_on_postgres(pg_url):
    with Warehouse.open(pg_url) as wh:
        add_deaths(wh, {("alameda", 2016): 12, ("kern", 2017): 5, (None, 2016): 1})
        set_budget(wh, "custody_death", epsilon=1.0, delta=1e-6, who="lead")
        release = dp_counts(wh, "custody_death", ["county", "year"], epsilon=0.6, domains={"year": "2016..2017"},
                            who="ana")
        assert release.cells.shape == (59, 2) and (release.cells >= 0).all()
        assert release.cells.sum() == release.total
        with pytest.raises(BudgetExceeded):
            dp_counts(wh, "custody_death", ["county"], epsilon=0.5)
        gauss = dp_counts(wh, "custody_death", ["sex"], epsilon=0.3, mechanism="gaussian", delta=1e-7)
        entries = ledger_entries(wh, "custody_death")
        assert [(e["spent_by"], e["mechanism"]) for e in entries] == [("ana", "laplace"), (entries[1]["spent_by"],
                                                                                           "gaussian")]
        assert budget(wh, "custody_death").remaining_epsilon == pytest.approx(1.0 - release.epsilon - gauss.epsilon)
