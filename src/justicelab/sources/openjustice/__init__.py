"""California DOJ OpenJustice and Department of Finance files, loaded into the standard tables.

Public surface: :func:`load_all` (every file in a folder, in dependency order), the single-file
loaders, :func:`download` (fetch the files; the only network access in justicelab), and the
population helpers :func:`preferred_population` and :func:`population_vintages`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from justicelab.ingest import Progress
from justicelab.sources.openjustice.agencies import load_agencies
from justicelab.sources.openjustice.common import AdapterResult, Unmatched
from justicelab.sources.openjustice.crimes import load_crimes_clearances
from justicelab.sources.openjustice.custody import load_custody_deaths, load_custody_summary
from justicelab.sources.openjustice.download import download
from justicelab.sources.openjustice.personnel import load_personnel
from justicelab.sources.openjustice.population import load_population, population_vintages, preferred_population
from justicelab.warehouse import Warehouse

Loader = Callable[..., AdapterResult]

# The directory comes first: deaths in custody are matched to it.
LOADERS: tuple[tuple[str, Loader], ...] = (
    ("agency directory", load_agencies),
    ("crimes and clearances", load_crimes_clearances),
    ("deaths in custody", load_custody_deaths),
    ("county deaths-in-custody summary", load_custody_summary),
    ("law enforcement personnel", load_personnel),
    ("population", load_population),
)


def load_all(warehouse: Warehouse, folder: Path, *,
             on_step: Callable[[str], Progress | None] | None = None) -> AdapterResult:
    """Load every OpenJustice file in ``folder``; each file is its own atomic batch (a repeat is a no-op)."""
    result = AdapterResult()
    for label, loader in LOADERS:
        result.extend(loader(warehouse, folder, progress=on_step(label) if on_step else None))
    return result


__all__ = [
    "LOADERS",
    "AdapterResult",
    "Unmatched",
    "download",
    "load_agencies",
    "load_all",
    "load_crimes_clearances",
    "load_custody_deaths",
    "load_custody_summary",
    "load_personnel",
    "load_population",
    "population_vintages",
    "preferred_population",
]
