"""Reference tables that travel with the standard (not code lists: many-to-many facts about values)."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "data" / "reference"


@cache
def given_name_variants() -> tuple[tuple[str, str], ...]:
    """(given name, variant) pairs in ASCII upper case: the nicknames and short forms a given name is
    commonly recorded as (ROBERT -> BOB). The synthetic city draws nicknames from it and the person
    index treats a name and its variants as the same given name."""
    with (REFERENCE_DIR / "given_name_variants.csv").open(encoding="utf-8", newline="") as fh:
        return tuple((row["name"], row["nickname"]) for row in csv.DictReader(fh))
