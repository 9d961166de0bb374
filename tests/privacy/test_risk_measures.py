"""k-anonymity, l-diversity and t-closeness in DuckDB agree with pycanon (the oracle) and with published values."""

from __future__ import annotations

import math
import warnings

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pycanon import anonymity

from justicelab.privacy.risk import (
    RiskError,
    class_summary,
    diversity,
    entropy_l_diversity,
    k_anonymity,
    l_diversity,
    sensitive_measure,
    t_closeness,
)


def _con(df: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("d", df)
    return con


def _same_entropy_l(ours: float, pycanon_l: int) -> bool:
    """pycanon truncates exp(entropy) to an integer, so exp(ln 2) computed as 1.9999999999999998 reports 1."""
    return pycanon_l == int(ours) or (abs(ours - round(ours)) < 1e-9 and pycanon_l == round(ours) - 1)


def _agree(df: pd.DataFrame, qi: list[str], sensitive: list[str]) -> None:
    con = _con(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert k_anonymity(con, "d", qi) == anonymity.k_anonymity(df, qi)
        assert l_diversity(con, "d", qi, sensitive) == anonymity.l_diversity(df, qi, sensitive)
        assert _same_entropy_l(entropy_l_diversity(con, "d", qi, sensitive),
                               anonymity.entropy_l_diversity(df, qi, sensitive))
        assert t_closeness(con, "d", qi, sensitive) == pytest.approx(anonymity.t_closeness(df, qi, sensitive),
                                                                     abs=1e-9)
        for sa in sensitive:
            assert t_closeness(con, "d", qi, [sa]) == pytest.approx(anonymity.t_closeness(df, qi, [sa]), abs=1e-9)


def test_published_t_closeness_example():
    """Li, Li and Venkatasubramanian (ICDE 2007), section 4: salaries 3k..11k; the class {3k, 4k, 5k} is at
    ordered distance 0.375 from the whole table and {6k, 8k, 11k} at 0.167; as categories {3k, 4k, 5k} is
    at 2/3."""
    salary = [3, 4, 5, 6, 8, 11, 7, 9, 10]
    three = pd.DataFrame({"zip": ["A"] * 3 + ["B"] * 3 + ["C"] * 3, "salary": salary})
    m = sensitive_measure(_con(three), "d", ["zip"], "salary")
    assert m.distance == "ordered" and m.t_closeness == pytest.approx(0.375)
    assert sensitive_measure(_con(three), "d", ["zip"], "salary", ordered=False).t_closeness == pytest.approx(2 / 3)
    # With {3k, 4k, 5k} merged into {7k, 9k, 10k} (distance 1/12), {6k, 8k, 11k} is the farthest class.
    two = pd.DataFrame({"zip": ["A"] * 3 + ["B"] * 3 + ["A"] * 3, "salary": salary})
    assert t_closeness(_con(two), "d", ["zip"], ["salary"]) == pytest.approx(1 / 6)


def test_class_summary_counts_classes_uniques_and_sizes():
    df = pd.DataFrame({"a": list("xxxyyz"), "b": ["1", "1", "2", "1", "1", "1"]})
    s = class_summary(_con(df), "d", ["a", "b"])
    assert (s.records, s.classes, s.k, s.unique_records) == (6, 4, 1, 2)
    assert s.sizes == ((1, 2), (2, 2)) and s.sample_uniqueness == pytest.approx(2 / 6)
    assert s.records_below(2) == 2


def test_a_missing_quasi_identifier_groups_with_the_other_missing_ones():
    df = pd.DataFrame({"a": ["x", None, None, "x"], "s": ["p", "q", "q", "p"]})
    con = _con(df)
    assert k_anonymity(con, "d", ["a"]) == 2
    assert l_diversity(con, "d", ["a"], ["s"]) == 1
    # A missing sensitive value is a value of its own.
    df2 = pd.DataFrame({"a": ["x", "x", "y", "y"], "s": ["p", None, "p", "p"]})
    assert l_diversity(_con(df2), "d", ["a"], ["s"]) == 1
    assert sensitive_measure(_con(df2), "d", ["a"], "s").distinct_values == 2


def test_column_names_cannot_clash_with_the_sql_it_generates():
    names = ["c", "n", "r", "v", "q", "a", "b", "x", "k", "cv", "m", "select"]
    df = pd.DataFrame({n: [str(i % (j + 2)) for i in range(24)] for j, n in enumerate(names)})
    df["s"] = [i % 5 for i in range(24)]
    _agree(df, names[:6], ["s"])
    _agree(df, ["select", "cv", "m"], ["s", "v"])


def test_ordinal_strings_can_be_measured_with_ordered_distance():
    df = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4,
                       "sev": ["1-low", "1-low", "2-mid", "2-mid", "3-high", "3-high", "3-high", "3-high"]})
    con = _con(df)
    ordered = diversity(con, "d", ["g"], ["sev"], ordered=["sev"])[0]
    equal = diversity(con, "d", ["g"], ["sev"])[0]
    assert (ordered.distance, equal.distance) == ("ordered", "equal")
    # Class a holds {low, low, mid, mid} vs whole {2 low, 2 mid, 4 high}: cumulative gaps 1/4 and 1/2 over 2 steps.
    assert ordered.t_closeness == pytest.approx((0.25 + 0.5) / 2)
    assert equal.t_closeness == pytest.approx(0.5)


def test_empty_tables_and_missing_attributes_are_refused():
    con = _con(pd.DataFrame({"a": pd.Series([], dtype=str), "s": pd.Series([], dtype=str)}))
    with pytest.raises(RiskError, match="no records"):
        k_anonymity(con, "d", ["a"])
    with pytest.raises(RiskError, match="at least one quasi-identifier"):
        k_anonymity(con, "d", [])
    with pytest.raises(RiskError, match="at least one sensitive attribute"):
        t_closeness(con, "d", ["a"], [])


def test_a_sensitive_attribute_with_one_value_is_zero_distance_from_the_table():
    df = pd.DataFrame({"a": list("xxy"), "s": [7, 7, 7]})
    assert t_closeness(_con(df), "d", ["a"], ["s"]) == 0.0


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 60))
    qi_alphabets = [draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True)) for _ in range(3)]
    rows = {f"q{i}": draw(st.lists(st.sampled_from(alpha), min_size=n, max_size=n))
            for i, alpha in enumerate(qi_alphabets)}
    rows["cat"] = draw(st.lists(st.sampled_from(["natural", "suicide", "homicide", "accident", "other"]),
                                min_size=n, max_size=n))
    rows["num"] = draw(st.lists(st.integers(-5, 40), min_size=n, max_size=n))
    rows["real"] = draw(st.lists(st.sampled_from([0.5, 1.25, 2.0, 10.0, 99.9]), min_size=n, max_size=n))
    return pd.DataFrame(rows)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables(), n_qi=st.integers(1, 3))
def test_measures_agree_with_pycanon_on_generated_tables(df, n_qi):
    assume(df.cat.nunique() > 1 and df.num.nunique() > 1 and df.real.nunique() > 1)
    qi = [f"q{i}" for i in range(n_qi)]
    _agree(df, qi, ["cat", "num"])
    _agree(df, qi, ["real"])


def test_measures_agree_with_pycanon_on_a_larger_table():
    import numpy as np

    rng = np.random.default_rng(7)
    n = 3_000
    df = pd.DataFrame({
        "county": rng.choice([f"c{i}" for i in range(12)], n),
        "age": (rng.integers(18, 80, n) // 10 * 10).astype(str),
        "sex": rng.choice(["M", "F"], n),
        "manner": rng.choice(["natural", "suicide", "homicide", "accident"], n, p=[0.6, 0.2, 0.1, 0.1]),
        "days": rng.integers(0, 400, n),
    })
    _agree(df, ["county", "age", "sex"], ["manner"])
    _agree(df, ["county", "age"], ["days"])
    assert not math.isnan(entropy_l_diversity(_con(df), "d", ["county"], ["manner"]))
