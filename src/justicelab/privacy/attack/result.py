"""What a linkage attack found, in a form a report, a CLI and a release ledger can all use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from justicelab.privacy.attack.spec import QuasiIdentifier, Truth
from justicelab.privacy.attack.tables import Side

#: Match-set size buckets: (lowest, highest or None, label).
SIZE_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 4, "4"), (5, 5, "5"), (6, 10, "6-10"),
    (11, 20, "11-20"), (21, 50, "21-50"), (51, 100, "51-100"), (101, None, "101+"))


def _share(part: int | None, whole: int | None) -> float | None:
    return None if part is None or not whole else part / whole


@dataclass(frozen=True)
class Claim:
    """An external record that matched exactly one released record: the attacker's re-identification claim."""

    external_row: int
    release_row: int
    #: The name the external record gives (what the attacker now attaches to the released record).
    name: str | None
    external_truth: str | None
    release_truth: str | None
    #: True/False when both truth values are known, else None.
    correct: bool | None
    #: The released record's quasi-identifier labels, by release column.
    values: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"external_row": self.external_row, "release_row": self.release_row, "name": self.name,
                "external_truth": self.external_truth, "release_truth": self.release_truth,
                "correct": self.correct, **{f"release.{k}": v for k, v in self.values.items()}}


@dataclass(frozen=True)
class AttackResult:
    """Counts of a linkage attack of an external file against a release (see ``docs/privacy-attack.md``)."""

    release: Side
    external: Side
    quasi_identifiers: tuple[QuasiIdentifier, ...]
    truth: Truth | None
    #: External records compatible with at least one released record.
    matched: int
    #: External records compatible with exactly one released record (re-identification claims).
    unique: int
    #: Claims whose released record is the true one (None without a truth column); likewise below.
    correct: int | None
    incorrect: int | None
    #: Claims where a truth value is missing on one side.
    unverified: int | None
    #: External records whose true record is in the release at all.
    external_in_release: int | None
    #: External records whose true record is among the released records they match.
    true_match_compatible: int | None
    #: Distinct released records claimed uniquely and correctly.
    reidentified_records: int | None
    #: (bucket label, external records) for every bucket of :data:`SIZE_BUCKETS`.
    sizes: tuple[tuple[str, int], ...]
    claims: tuple[Claim, ...] = ()
    #: Signs the two files are coded differently (no external value meets any released label of a column).
    warnings: tuple[str, ...] = ()

    @property
    def external_records(self) -> int:
        return self.external.rows

    @property
    def release_records(self) -> int:
        return self.release.rows

    @property
    def precision(self) -> float | None:
        """Share of claims that are correct."""
        return _share(self.correct, self.unique)

    @property
    def reidentified_share(self) -> float | None:
        """Share of released records re-identified uniquely and correctly: the headline figure."""
        return _share(self.reidentified_records, self.release_records)

    def measures(self) -> list[dict[str, Any]]:
        """One row per figure, with what it means."""
        rows: list[tuple[str, Any, str]] = [
            ("released records", self.release_records, "rows of the release"),
            ("external records", self.external_records, "rows of the external file"),
            ("matched", self.matched, "external records matching at least one released record"),
            ("unique matches", self.unique, "external records matching exactly one released record (claims)"),
            ("unique share of external", _share(self.unique, self.external_records),
             "unique matches / external records"),
        ]
        if self.truth is not None:
            rows += [
                ("correct", self.correct, "claims naming the true record"),
                ("incorrect", self.incorrect, "claims naming another record"),
                ("unverified", self.unverified, "claims with no truth value on one side"),
                ("precision", self.precision, "correct / unique matches"),
                ("re-identified records", self.reidentified_records,
                 "distinct released records claimed uniquely and correctly"),
                ("re-identified share", self.reidentified_share, "re-identified records / released records"),
                ("external in release", self.external_in_release, "external records whose true record is released"),
                ("true record matched", self.true_match_compatible,
                 "external records whose true record is among their matches"),
            ]
        return [{"measure": m, "value": v, "meaning": t} for m, v, t in rows]

    def size_rows(self) -> list[dict[str, Any]]:
        """The distribution of match-set sizes over the external records."""
        return [{"match_set_size": label, "external_records": n} for label, n in self.sizes]

    def claim_rows(self) -> list[dict[str, Any]]:
        """One row per re-identification claim (filled when the attack ran with ``show``)."""
        return [c.as_dict() for c in self.claims]

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: what a release ledger records about the attack."""
        return {
            "release": self.release.as_dict(),
            "external": self.external.as_dict(),
            "quasi_identifiers": [q.as_dict() for q in self.quasi_identifiers],
            "truth": self.truth.as_dict() if self.truth else None,
            "measures": {r["measure"].replace(" ", "_").replace("-", "_"): r["value"] for r in self.measures()},
            "match_set_sizes": {label: n for label, n in self.sizes},
            "claims": self.claim_rows(),
            "warnings": list(self.warnings),
        }
