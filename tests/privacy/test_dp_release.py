"""DP counts on synthetic tables: public group domains, consistent non-negative integers, contribution bounds,
and the per-dataset budget ledger (every release recorded, over-budget queries refused without spending)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from justicelab.linkage.store import PERSON_INDEX, append_rows, ensure_link_tables
from justicelab.privacy.dp import (
    DEFAULT_EPSILON,
    BudgetExceeded,
    DPError,
    budget,
    dp_counts,
    least_squares,
    ledger_entries,
    levels_for,
    round_consistent,
    set_budget,
)
from justicelab.privacy.dp.domains import resolve_dimensions
from justicelab.privacy.dp.postprocess import project
from justicelab.privacy.dp.query import SumSpec, true_table
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse, ensure_entity_table, entity_schema

STANDARD = load_standard()
COUNTIES = STANDARD.codelist("county").values()


def add_deaths(wh: Warehouse, groups: Mapping[tuple[str | None, int], int], *, start: int = 0,
               ages: Iterable[int | None] | None = None, table: str = "custody_death") -> list[str]:
    """Append ``n`` synthetic deaths per (county, year) to a standard table; returns their record ids."""
    entity = STANDARD.entity(table)
    ensure_entity_table(wh, entity)
    schema = entity_schema(entity).to_pyarrow()
    age_iter = iter(ages) if ages is not None else None
    rows = []
    for (county, year), n in groups.items():
        for _ in range(n):
            i = start + len(rows)
            rows.append({"_record_id": f"synth:{i}", "_source": "synth", "_batch_id": 1, "_source_row": i,
                         "death_id": f"D{i}", "date_of_death": dt.date(year, 1 + i % 12, 1 + i % 28),
                         "county": county, "sex": "M" if i % 3 else "F",
                         "age": next(age_iter) if age_iter else 20 + i % 60})
    wh.insert_arrow(table, pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema))
    return [r["_record_id"] for r in rows]


@pytest.fixture
def deaths(warehouse: Warehouse) -> Warehouse:
    add_deaths(warehouse, {("alameda", 2016): 30, ("alameda", 2017): 25, ("fresno", 2016): 12,
                           ("los_angeles", 2017): 60, (None, 2016): 3})
    set_budget(warehouse, "custody_death", epsilon=100.0, delta=1e-4, who="test")
    return warehouse


def _check_consistent(release) -> None:
    """Whole, non-negative cells; every margin row and the total row are the sums of the cell rows."""
    rows = release.rows().to_pylist()
    names = [d.name for d in release.dimensions]
    cells = [r for r in rows if r["level"] == "cell"]
    assert all(isinstance(r["count"], int) and r["count"] >= 0 for r in rows)
    (total,) = [r["count"] for r in rows if r["level"] == "total"]
    assert sum(r["count"] for r in cells) == total == release.total
    for n in names if len(names) >= 2 else []:
        for r in (r for r in rows if r["level"] == n):
            assert r["count"] == sum(c["count"] for c in cells if c[n] == r[n])


def test_release_is_whole_non_negative_and_adds_up_to_its_totals(deaths):
    release = dp_counts(deaths, "custody_death", ["county", "year"], epsilon=0.5, domains={"year": "2015..2018"},
                        who="ana")
    _check_consistent(release)
    assert release.cells.shape == (len(COUNTIES) + 1, 4)
    rows = release.rows()
    assert rows.num_rows == release.cells.size + release.cells.shape[0] + 4 + 1
    assert rows.column_names == ["level", "county", "year", "count"]
    assert release.epsilon <= 0.5 and release.epsilon == pytest.approx(0.5, rel=1e-6)
    assert [a.level for a in release.accuracy] == ["total", "county", "year", "cell"]


def test_every_group_of_the_public_domain_is_released_whatever_the_data_holds(warehouse):
    add_deaths(warehouse, {("alameda", 2016): 5})
    set_budget(warehouse, "custody_death", epsilon=100.0, delta=0.0, who="test")
    first = dp_counts(warehouse, "custody_death", ["county", "year"], epsilon=1.0, domains={"year": "2016..2017"})
    add_deaths(warehouse, {("inyo", 2017): 4}, start=100)
    second = dp_counts(warehouse, "custody_death", ["county", "year"], epsilon=1.0, domains={"year": "2016..2017"})
    keys = [[(r["level"], r["county"], r["year"]) for r in rel.rows().to_pylist()] for rel in (first, second)]
    assert keys[0] == keys[1]
    assert {(c, y) for _, c, y in keys[0] if _ == "cell"} == {(c, y) for c in [*COUNTIES, None] for y in (2016, 2017)}
    empty = [i for i, c in enumerate([*COUNTIES, None]) if c != "alameda"]
    noisy_empty = first.measurements["cell"][empty]
    assert (noisy_empty != 0).any()  # the empty groups are measured with noise like the others, not left out


def test_a_dimension_without_a_public_domain_is_refused_and_nothing_is_spent(deaths):
    before = budget(deaths, "custody_death")
    with pytest.raises(DPError, match=r"--domain year=2005\.\.2018.*never taken from the data"):
        dp_counts(deaths, "custody_death", ["county", "year"], epsilon=1.0)
    with pytest.raises(DPError, match=r"agency_name.*no public list"):
        dp_counts(deaths, "custody_death", ["agency_name"], epsilon=1.0)
    with pytest.raises(DPError, match="has no dimension 'precinct'"):
        dp_counts(deaths, "custody_death", ["precinct"], epsilon=1.0)
    with pytest.raises(DPError, match="not in the code list county"):
        dp_counts(deaths, "custody_death", ["county"], epsilon=1.0, domains={"county": "alameda|atlantis"})
    with pytest.raises(DPError, match="aggregate table"):
        dp_counts(deaths, "crime_clearance", ["county"], epsilon=1.0)
    with pytest.raises(DPError, match=r"needs clamping bounds"):
        dp_counts(deaths, "custody_death", ["county"], epsilon=1.0, sum_column="age")
    assert budget(deaths, "custody_death") == before and len(ledger_entries(deaths)) == 0


def test_dimensions_read_the_standard_and_indicators():
    entity = STANDARD.entity("custody_death")
    race, sex, year = resolve_dimensions(STANDARD, entity, ["race", "sex", "year"], {"year": "2005..2018"})
    assert sex.values[-1] is None and sex.origin.startswith("the standard's code list sex")
    assert race.column == "race_ethnicity" and race.values[:-1] == tuple(STANDARD.codelist("race_ethnicity").values())
    assert race.has_missing and year.values == tuple(range(2005, 2019)) and not year.has_missing
    (age,) = resolve_dimensions(STANDARD, entity, ["age"])
    assert age.values[:-1] == tuple(range(0, 121))
    arrest = STANDARD.entity("arrest")
    (band,) = resolve_dimensions(STANDARD, arrest, ["age_group"])
    assert band.kind == "bands_of" and band.values[0] == "0-17" and band.values[-2] == "70+"


def test_the_ledger_records_every_release_and_refuses_one_over_budget_without_spending(warehouse):
    add_deaths(warehouse, {("alameda", 2016): 10, ("fresno", 2017): 4})
    assert budget(warehouse, "custody_death").epsilon == DEFAULT_EPSILON
    set_budget(warehouse, "custody_death", epsilon=1.0, delta=1e-6, who="lead")
    for who in ("ana", "ben"):
        dp_counts(warehouse, "custody_death", ["county"], epsilon=0.4, who=who)
    entries = ledger_entries(warehouse, "custody_death")
    assert [e["spent_by"] for e in entries] == ["ana", "ben"] and [e["entry_id"] for e in entries] == [1, 2]
    assert all(0.4 * (1 - 1e-9) <= e["epsilon"] <= 0.4 and e["mechanism"] == "laplace" for e in entries)
    assert entries[-1]["remaining_epsilon"] == pytest.approx(0.2)
    assert "count of custody_death; by county" in entries[0]["query"]
    with pytest.raises(BudgetExceeded, match=r"only epsilon 0\.2 left.*Nothing was spent"):
        dp_counts(warehouse, "custody_death", ["county"], epsilon=0.4, who="cy")
    assert len(ledger_entries(warehouse, "custody_death")) == 2
    last = dp_counts(warehouse, "custody_death", ["county"], epsilon=0.2, who="cy")  # exactly what is left
    assert last.budget_after.remaining_epsilon == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(BudgetExceeded):
        dp_counts(warehouse, "custody_death", [], epsilon=0.01)
    with pytest.raises(DPError, match="below what is spent"):
        set_budget(warehouse, "custody_death", epsilon=0.5, delta=1e-6, who="lead")
    assert budget(warehouse, "other_dataset").spent_epsilon == 0.0


def test_the_spent_loss_is_what_privacy_theory_gives_for_the_calibrated_scales(deaths):
    lap = dp_counts(deaths, "custody_death", ["county", "sex"], epsilon=0.8, max_records_per_person=2)
    scales = [a.noise_scale for a in lap.accuracy]
    assert lap.epsilon == pytest.approx(sum(2 / s for s in scales), rel=1e-9)  # sum of sensitivity/scale
    gauss = dp_counts(deaths, "custody_death", ["county", "sex"], epsilon=0.8, mechanism="gaussian", delta=1e-6)
    rho = sum(1 / (2 * a.noise_scale ** 2) for a in gauss.accuracy)
    assert gauss.rho == pytest.approx(rho, rel=1e-6)
    assert gauss.epsilon <= 0.8 and gauss.delta == 1e-6
    assert gauss.epsilon <= rho + 2 * math.sqrt(rho * math.log(1 / 1e-6))  # the classic zCDP conversion bounds it
    entry = ledger_entries(deaths, "custody_death")[-1]
    assert (entry["mechanism"], entry["delta"], entry["rho"]) == ("gaussian", 1e-6, pytest.approx(rho, rel=1e-6))
    _check_consistent(gauss)


def test_contributions_are_clamped_per_person_in_sql(warehouse):
    ids = add_deaths(warehouse, {("alameda", 2016): 6, ("fresno", 2016): 2})
    ensure_link_tables(warehouse)
    people = ["P1"] * 5 + ["P2", "P3", None]  # P1 has five records; the last record could not be linked
    append_rows(warehouse, PERSON_INDEX, [{"record_id": r, "person_id": p, "source": "synth", "entity": "custody_death",
                                           "run_id": 1, "linkable": p is not None} for r, p in zip(ids, people,
                                                                                                   strict=True)])
    entity = STANDARD.entity("custody_death")
    dims = resolve_dimensions(STANDARD, entity, ["county"])
    idx = {c: i for i, c in enumerate(dims[0].values)}
    for bound, alameda in ((1, 2), (2, 3), (5, 6)):
        truth, contribution = true_table(warehouse, entity, dims, bound=bound)
        assert contribution.enforced and "person index" in contribution.describe()
        assert (truth[idx["alameda"]], truth[idx["fresno"]], truth.sum()) == (alameda, 2, alameda + 2)
    summed, _ = true_table(warehouse, entity, dims, bound=1, value=SumSpec("age", 0, 30))
    assert (summed[idx["alameda"]], summed[idx["fresno"]]) == (20 + 25, 26 + 27)  # P1 keeps synth:0 only
    release = dp_counts(warehouse, "custody_death", ["county"], epsilon=1.0, max_records_per_person=3)
    assert "enforced" in release.contribution.describe()
    assert [a.noise_scale for a in release.accuracy] == pytest.approx([6.0, 6.0])  # sensitivity 3, half each


def test_sums_clamp_each_value_and_release_consistent_whole_numbers(warehouse):
    add_deaths(warehouse, {("alameda", 2016): 3, ("fresno", 2016): 2}, ages=[10, 50, 200, None, 30])
    entity = STANDARD.entity("custody_death")
    dims = resolve_dimensions(STANDARD, entity, ["county"])
    idx = {c: i for i, c in enumerate(dims[0].values)}
    truth, contribution = true_table(warehouse, entity, dims, bound=1, value=SumSpec("age", 0, 120))
    assert (truth[idx["alameda"]], truth[idx["fresno"]]) == (10 + 50 + 120, 0 + 30)
    assert not contribution.enforced and "declared" in contribution.describe()
    set_budget(warehouse, "custody_death", epsilon=10.0, delta=0.0, who="t")
    release = dp_counts(warehouse, "custody_death", ["county"], epsilon=2.0, sum_column="age", clamp=(0, 120))
    assert release.statistic.startswith("sum of age") and release.rows().column_names[-1] == "sum"
    assert ledger_entries(warehouse)[-1]["sensitivity"] == 120
    assert release.cells.min() >= 0 and release.cells.sum() == release.total


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple),
       data=st.data())
def test_reconciliation_is_consistent_non_negative_and_exact_on_exact_input(shape, data):
    """For random group structures: noiseless measurements come back exactly; noisy ones become whole,
    non-negative cells whose total is the rounded least-squares total."""
    size = int(np.prod(shape))
    truth = np.array(data.draw(st.lists(st.integers(0, 40), min_size=size, max_size=size)),
                     dtype=np.int64).reshape(shape)
    levels = levels_for(len(shape))
    variances = [data.draw(st.floats(0.5, 50.0)) for _ in levels]
    exact = round_consistent(least_squares(shape, levels, [project(truth, lv) for lv in levels], variances))
    assert np.array_equal(exact, truth)
    noisy = [project(truth, lv) + np.array(data.draw(st.lists(st.integers(-30, 30), min_size=int(np.size(
        project(truth, lv))), max_size=int(np.size(project(truth, lv)))))).reshape(np.shape(project(truth, lv)))
        for lv in levels]
    estimate = least_squares(shape, levels, noisy, variances)
    cells = round_consistent(estimate)
    assert cells.dtype == np.int64 and cells.shape == shape and (cells >= 0).all()
    assert cells.sum() == max(0, math.floor(float(estimate.sum()) + 0.5))
    signed = round_consistent(estimate, nonnegative=False)
    assert signed.sum() == math.floor(float(estimate.sum()) + 0.5)
    assert np.abs(signed - estimate).max() < len(shape) + 1  # each top-down step moves a cell by under one


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(present=st.lists(st.sampled_from(COUNTIES[:8]), max_size=4, unique=True),
       years=st.integers(2010, 2013).flatmap(lambda lo: st.tuples(st.just(lo), st.integers(lo, lo + 2))))
def test_the_group_set_never_depends_on_which_groups_hold_records(present, years):
    wh = Warehouse.open(":memory:")
    try:
        if present:
            add_deaths(wh, {(c, years[0]): 2 for c in present})
        else:
            ensure_entity_table(wh, STANDARD.entity("custody_death"))
        release = dp_counts(wh, "custody_death", ["county", "year"], epsilon=1.0,
                            domains={"year": f"{years[0]}..{years[1]}"})
        cells = [(r["county"], r["year"]) for r in release.rows().to_pylist() if r["level"] == "cell"]
        assert cells == [(c, y) for c in [*COUNTIES, None] for y in range(years[0], years[1] + 1)]
        _check_consistent(release)
    finally:
        wh.close()
