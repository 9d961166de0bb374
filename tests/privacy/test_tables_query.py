"""Dominance rules on magnitude tables, and the query-time helpers (rounding, unstable rates)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from justicelab.errors import JusticelabError, SourceFileError
from justicelab.privacy.tables import (
    TOTAL,
    attack,
    contributor_table,
    flag_unstable,
    frequency_rule,
    nk_rule,
    p_percent_rule,
    round_to_base,
    suppress,
)

CONTRIBUTIONS = pa.table({
    "county": ["a"] * 6 + ["b"] * 6,
    "kind": ["x", "x", "x", "y", "y", "y", "x", "x", "y", "y", "y", "y"],
    "who": ["A", "B", "C", "A", "D", "E", "F", "G", "H", "I", "J", "K"],
    "amount": [90.0, 5, 5, 30, 30, 40, 50, 50, 20, 25, 30, 35],
})


def at(t, *key) -> int:
    coords = tuple(d.code_index()[k] for d, k in zip(t.dimensions, key, strict=True))
    return int(np.ravel_multi_index(coords, t.shape))


def test_contributors_are_merged_per_cell_including_margins():
    t = contributor_table(duckdb.sql("SELECT * FROM CONTRIBUTIONS"), ["county", "kind"], "amount", "who",
                          totals=["county", "kind"])
    assert t.values[at(t, "a", "x")] == 100 and t.values[at(t, TOTAL, TOTAL)] == 410
    assert t.top[at(t, "a", TOTAL)].tolist() == [120, 40]  # A gave 90 + 30 to county a
    assert t.contributors[at(t, "b", "x")] == 2 and t.contributors[at(t, TOTAL, TOTAL)] == 11
    assert np.allclose(t.relation_matrix() @ t.values, 0)


def test_dominance_rules_and_their_protection_levels():
    t = contributor_table(CONTRIBUTIONS, ["county", "kind"], "amount", "who", totals=["county", "kind"])
    nk = nk_rule(t, n=1, k=75)
    assert np.flatnonzero(nk.sensitive).tolist() == [at(t, "a", "x")]
    assert nk.upper[at(t, "a", "x")] == pytest.approx(100 / 75 * 90 - 100)  # 20: then A holds 75%
    p = p_percent_rule(t, p=10)
    assert sorted(np.flatnonzero(p.sensitive).tolist()) == sorted([at(t, "a", "x"), at(t, "b", "x")])
    assert p.upper[at(t, "a", "x")] == pytest.approx(0.1 * 90 - (100 - 90 - 5))  # 4
    assert p.upper[at(t, "b", "x")] == pytest.approx(5)  # two contributors: each knows the other exactly
    few = frequency_rule(t, min_contributors=3)
    assert np.flatnonzero(few.sensitive).tolist() == [at(t, "b", "x")]
    both = nk | p
    assert both.sensitive.sum() == 2 and both.upper[at(t, "a", "x")] == pytest.approx(20)


def test_magnitude_table_suppressed_by_value_is_protected():
    t = contributor_table(CONTRIBUTIONS, ["county", "kind"], "amount", "who", totals=["county", "kind"])
    rule = nk_rule(t, n=1, k=75) | p_percent_rule(t, p=10)
    result = suppress(t, primary=rule, cost="value")
    iv = attack(result.published_values(), t.relations())
    for c in np.flatnonzero(rule.sensitive):
        assert iv.high[c] >= t.values[c] + rule.upper[c] - 1e-6
        assert iv.low[c] <= t.values[c] - rule.lower[c] + 1e-6
    assert result.summary()["unsafe_cells"] == 0


def test_contribution_errors_name_the_row():
    bad = CONTRIBUTIONS.set_column(3, "amount", pa.array([90.0, 5, -5, 30, 30, 40, 50, 50, 20, 25, 30, 35]))
    with pytest.raises(SourceFileError, match=r"firms, row 3, column amount: -5.0 is negative"):
        contributor_table(bad, ["county", "kind"], "amount", "who", source="firms")
    with pytest.raises(JusticelabError, match=r"largest contributions"):
        nk_rule(contributor_table(CONTRIBUTIONS, ["county"], "amount", "who", top=1), n=2, k=80)


COUNTS = pa.table({"county": list("abcdefgh"), "n": pa.array([0, 1, 2, 3, 7, 12, 13, None], pa.int64())})


@pytest.mark.parametrize(("mode", "expected"), [
    ("nearest", [0, 0, 0, 5, 5, 10, 15, None]),
    ("up", [0, 5, 5, 5, 10, 15, 15, None]),
    ("down", [0, 0, 0, 0, 5, 10, 10, None]),
])
def test_round_to_base_on_arrow_and_on_duckdb(mode, expected):
    rounded = round_to_base(COUNTS, ["n"], 5, mode=mode)
    assert rounded.column("n").to_pylist() == expected and rounded.column_names == ["county", "n"]
    relation = round_to_base(duckdb.sql("SELECT * FROM COUNTS"), ["n"], 5, mode=mode)
    assert isinstance(relation, duckdb.DuckDBPyRelation)
    assert [r[1] for r in relation.order("county").fetchall()] == expected
    with pytest.raises(JusticelabError, match="no column m"):
        round_to_base(COUNTS, ["m"], 5)


def test_flag_unstable_rates():
    data = pa.table({"county": list("abcde"), "deaths": pa.array([5, 19, 20, None, 0], pa.int64()),
                     "population": [1000, 200_000, 100_000, 5000, 1000]})
    out = flag_unstable(data, "deaths", denominator="population").to_pylist()
    assert [r["rate"] for r in out] == [500.0, 9.5, 20.0, None, 0.0]
    assert [r["unstable"] for r in out] == [True, True, False, True, True]
    assert [r["unstable_reason"] for r in out] == ["fewer than 20 events", "fewer than 20 events", None,
                                                   "numerator suppressed", "fewer than 20 events"]
    assert [r["rse_pct"] for r in out] == [44.7, 22.9, 22.4, None, None]
    stricter = flag_unstable(data, "deaths", min_events=5).to_pylist()
    assert [r["unstable"] for r in stricter] == [False, False, False, True, True]


def test_rates_match_doj_county_summary(openjustice_dir):
    """DOJ's own county summary publishes deaths per 100,000: the helper reproduces every one of them."""
    path = openjustice_dir / "ca_doj_county_deaths_in_custody_summary_2005-2014_02-17-2016.csv"
    rel = duckdb.sql(f"SELECT all_deaths, population, all_deaths_per_100000 FROM read_csv('{path}')")
    out = flag_unstable(rel, "all_deaths", denominator="population").fetchall()
    assert len(out) == 4130
    got = np.array([(round(r[3], 2), r[2]) for r in out if r[3] is not None])
    assert len(got) > 4000 and np.allclose(got[:, 0], got[:, 1])
    assert sum(1 for r in out if r[4]) > 2000  # most county-race-year rates rest on fewer than 20 deaths
