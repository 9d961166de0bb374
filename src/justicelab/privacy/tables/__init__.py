"""Disclosure control for tables: primary and optimal complementary cell suppression, checked by an attacker.

Public surface:

* :class:`CountTable` (``from_arrow``), :func:`read_table` (CSV/Parquet), :func:`contributor_table`
  (magnitudes with contributors): a table with its margins and explicit additive relations; :data:`TOTAL`
  is the total code of a dimension.
* :class:`Primary` and the rules :func:`threshold_rule`, :func:`nk_rule`, :func:`p_percent_rule`,
  :func:`frequency_rule`: which cells are sensitive and how much protection each needs.
* :func:`suppress` -> :class:`SuppressionResult`: complementary suppression as a MILP (HiGHS, cut generation;
  ``method="exact"``) or, for large three-way tables, the modular method (``method="modular"``: sub-table
  MILPs and flow witnesses), verified by :func:`audit`, which runs the independent LP attacker (:func:`attack`,
  :func:`verify`).
* Query-time helpers: :func:`round_to_base`, :func:`flag_unstable`.
"""

from justicelab.privacy.tables.attacker import Intervals, attack, verify
from justicelab.privacy.tables.complementary import SolveStats
from justicelab.privacy.tables.contributors import contributor_table
from justicelab.privacy.tables.query import flag_unstable, round_to_base
from justicelab.privacy.tables.reader import read_table
from justicelab.privacy.tables.rules import Primary, frequency_rule, nk_rule, p_percent_rule, threshold_rule
from justicelab.privacy.tables.suppress import Audit, Cost, Method, SuppressionResult, audit, suppress
from justicelab.privacy.tables.table import TOTAL, CountTable, Dimension, SuppressionError

__all__ = [
    "TOTAL",
    "Audit",
    "Cost",
    "CountTable",
    "Dimension",
    "Intervals",
    "Method",
    "Primary",
    "SolveStats",
    "SuppressionError",
    "SuppressionResult",
    "attack",
    "audit",
    "contributor_table",
    "flag_unstable",
    "frequency_rule",
    "nk_rule",
    "p_percent_rule",
    "read_table",
    "round_to_base",
    "suppress",
    "threshold_rule",
    "verify",
]
