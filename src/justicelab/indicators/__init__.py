"""Indicators defined once in the standard, computed by one engine on any warehouse backend.

Public surface: :func:`compute` (an Ibis table expression), :func:`compute_arrow` (executed to Arrow),
:class:`Request`, :class:`IndicatorError`.
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

__all__ = [
    "IndicatorError",
    "Request",
    "band_labels",
    "build",
    "compute",
    "compute_arrow",
    "execute",
    "population_base",
    "trend",
]
