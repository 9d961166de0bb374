"""Indicators defined once in the standard, computed by one engine on any warehouse backend.

Public surface: :func:`compute` (an Ibis table expression), :func:`compute_arrow` (executed to Arrow),
:class:`Request`, :class:`IndicatorError`; :func:`compute_gated` -> :class:`GatedAnswer`, the aggregate read
path (through the gate's grants, small cells suppressed, recorded in the audit ledger).
"""

from justicelab.indicators.engine import (
    IndicatorError,
    Request,
    band_labels,
    build,
    compute,
    compute_arrow,
    execute,
    population_base,
    trend,
)
from justicelab.indicators.gated import GatedAnswer, compute_gated

__all__ = [
    "GatedAnswer",
    "IndicatorError",
    "Request",
    "band_labels",
    "build",
    "compute",
    "compute_arrow",
    "compute_gated",
    "execute",
    "population_base",
    "trend",
]
