"""What every OpenJustice adapter shares: county names to codes, and how an adapter reports back."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from justicelab.ingest import BatchResult
from justicelab.ingest.sql import literal
from justicelab.standard import load_standard

DEPARTMENT = "state_doj"


@dataclass(frozen=True)
class Unmatched:
    """A name in a source file that could not be matched to the directory: reported, never dropped."""

    file: str
    row: int | None
    column: str
    value: str
    reason: str


@dataclass
class AdapterResult:
    """The batches an adapter loaded and the names it could not match."""

    batches: list[BatchResult] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    def extend(self, other: AdapterResult) -> None:
        self.batches.extend(other.batches)
        self.unmatched.extend(other.unmatched)


def _fold(name: str) -> str:
    """Case, punctuation and a trailing 'County' do not matter when matching county names."""
    name = re.sub(r"\s+county$", "", name.strip(), flags=re.IGNORECASE)
    return re.sub(r"[^a-z]", "", name.lower())


@functools.cache
def county_codes() -> dict[str, str]:
    """Folded county name -> the standard's county code ('Los Angeles County', 'LOS ANGELES' -> los_angeles)."""
    out: dict[str, str] = {}
    for code in load_standard().codelist("county").codes:
        out[_fold(code.label)] = code.code
        out[_fold(code.code.replace("_", " "))] = code.code
    return out


def county_code(name: str | None) -> str | None:
    if not name:
        return None
    return county_codes().get(_fold(name))


def county_code_sql(expr: str) -> str:
    """SQL that maps a county name column to its code (NULL when it is not a California county)."""
    pairs = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in sorted(county_codes().items()))
    folded = f"regexp_replace(lower(regexp_replace(trim({expr}), '(?i)\\s+county$', '')), '[^a-z]', '', 'g')"
    return f"MAP {{{pairs}}}[{folded}]"


def require(folder: Path, name: str) -> Path:
    """A file the adapter needs, or a clear error naming the folder and the file."""
    from justicelab.errors import SourceFileError

    path = folder / name
    if not path.is_file():
        raise SourceFileError(f"{folder}: expected the OpenJustice file {name}")
    return path
