"""Access levels, ordered: what a grant allows a principal to see of a dataset or field."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """``none`` < ``aggregate`` < ``deidentified`` < ``identified`` (compare with :func:`rank`)."""

    none = "none"
    aggregate = "aggregate"
    deidentified = "deidentified"
    identified = "identified"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank


_ORDER = [Level.none, Level.aggregate, Level.deidentified, Level.identified]
_RANK = {level: i for i, level in enumerate(_ORDER)}  # a dict lookup: the gate compares levels per field per grant
