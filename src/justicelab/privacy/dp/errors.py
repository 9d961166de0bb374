"""Errors of differentially private releases: a request that cannot be answered, or a budget that would be exceeded."""

from __future__ import annotations

from justicelab.errors import JusticelabError


class DPError(JusticelabError):
    """A DP request that cannot be answered as asked (unknown dataset, a dimension with no public domain...)."""


class BudgetExceeded(DPError):
    """The query would spend more privacy-loss budget than the dataset has left; nothing was spent."""

    exit_code = 3
