"""Differential privacy: noisy counts and sums over public group domains, consistent non-negative integers,
and a privacy-loss budget per dataset recorded in an append-only ledger. Built on OpenDP.

Public surface: :func:`dp_counts` (one release, spending budget) and :class:`DPRelease`, with :class:`GatedRows`
to count the rows a user may read through the gate; the budget functions
:func:`budget`, :func:`set_budget`, :func:`ledger_entries` and :class:`Budget`; the building blocks
:func:`resolve_dimensions`, :func:`plan_noise`, :func:`least_squares`, :func:`round_consistent`; and the errors
:class:`DPError`, :class:`BudgetExceeded`.
"""

from justicelab.privacy.dp.domains import Dimension, parse_domain_options, resolve_dimensions
from justicelab.privacy.dp.errors import BudgetExceeded, DPError
from justicelab.privacy.dp.gated import GatedRows
from justicelab.privacy.dp.ledger import (
    BUDGETS,
    DEFAULT_DELTA,
    DEFAULT_EPSILON,
    LEDGER,
    Budget,
    budget,
    ledger_entries,
    set_budget,
)
from justicelab.privacy.dp.mechanisms import MECHANISMS, Mechanism, NoisePlan, plan_noise
from justicelab.privacy.dp.postprocess import least_squares, levels_for, round_consistent
from justicelab.privacy.dp.query import Contribution
from justicelab.privacy.dp.release import DPRelease, LevelAccuracy, dp_counts

__all__ = [
    "BUDGETS",
    "DEFAULT_DELTA",
    "DEFAULT_EPSILON",
    "LEDGER",
    "MECHANISMS",
    "Budget",
    "BudgetExceeded",
    "Contribution",
    "DPError",
    "DPRelease",
    "Dimension",
    "GatedRows",
    "LevelAccuracy",
    "Mechanism",
    "NoisePlan",
    "budget",
    "dp_counts",
    "least_squares",
    "ledger_entries",
    "levels_for",
    "parse_domain_options",
    "plan_noise",
    "resolve_dimensions",
    "round_consistent",
    "set_budget",
]
