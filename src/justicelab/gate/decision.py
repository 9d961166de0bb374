"""What one grantee may see of one dataset for one purpose, field by field, and which rows: an access decision.

The grant composition (control plane -> gate) produces it; :func:`justicelab.gate.restrict` applies it.
It is immutable and explains itself: every field's level carries the reason (which grant or agreement
gave it, or why it was denied), every row rule its reason too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from justicelab.control.levels import Level
from justicelab.errors import AccessDenied, GateError

Scalar = str | int | float | bool | dt.date | dt.datetime
CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]
_OPS: tuple[str, ...] = CompareOp.__args__  # type: ignore[attr-defined]
NO_GRANT = "no grant covers this field"


@dataclass(frozen=True)
class FieldAccess:
    """One field's level, and why: e.g. ``FieldAccess("dob", Level.deidentified, "grant 12 (agreement dsa-2017)")``."""

    field: str
    level: Level
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _level(self.level, f"field {self.field}"))


@dataclass(frozen=True)
class Compare:
    """A row rule on a field's recorded value: ``field op value`` (``in``/``not in`` take a tuple)."""

    field: str
    op: CompareOp
    value: Scalar | tuple[Scalar, ...] | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise GateError(f"row rule on {self.field}: unknown operator {self.op!r}; use one of {', '.join(_OPS)}")
        if self.op in ("in", "not in"):
            if not isinstance(self.value, tuple | list | set | frozenset):
                raise GateError(f"row rule {self.field} {self.op}: needs a list of values, got {self.value!r}")
            object.__setattr__(self, "value", tuple(self.value))
        elif self.op in ("is null", "is not null"):
            if self.value is not None:
                raise GateError(f"row rule {self.field} {self.op}: takes no value, got {self.value!r}")
        elif self.value is None or isinstance(self.value, tuple | list | set | frozenset):
            raise GateError(f"row rule {self.field} {self.op}: needs one value, got {self.value!r}")

    def describe(self) -> str:
        if self.op in ("is null", "is not null"):
            text = f"{self.field} {self.op}"
        elif isinstance(self.value, tuple):
            text = f"{self.field} {self.op} ({', '.join(map(str, self.value))})"
        else:
            text = f"{self.field} {self.op} {self.value}"
        return f"{text} [{self.reason}]" if self.reason else text


@dataclass(frozen=True)
class PersonIn:
    """Only rows of these persons (e.g. those with a current consent): filtered on the real ``person_id``."""

    person_ids: frozenset[str]
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "person_ids", frozenset(self.person_ids))

    def describe(self) -> str:
        text = f"person_id in a set of {len(self.person_ids)} persons"
        return f"{text} [{self.reason}]" if self.reason else text


@dataclass(frozen=True)
class AllOf:
    """Every part holds (an empty AllOf keeps every row)."""

    parts: tuple[RowPredicate, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

    def describe(self) -> str:
        return "(" + " AND ".join(p.describe() for p in self.parts) + ")" if self.parts else "all rows"


@dataclass(frozen=True)
class AnyOf:
    """At least one part holds (an empty AnyOf keeps no row)."""

    parts: tuple[RowPredicate, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

    def describe(self) -> str:
        return "(" + " OR ".join(p.describe() for p in self.parts) + ")" if self.parts else "no rows"


@dataclass(frozen=True)
class Not:
    """The part does not hold. Every predicate is two-valued (a rule on a missing value keeps no row), so the
    rows a predicate keeps and the rows its ``Not`` keeps split the table exactly: the grant composition uses
    it to give each row region its own levels."""

    part: RowPredicate

    def describe(self) -> str:
        return f"NOT {self.part.describe()}"


RowPredicate = Compare | PersonIn | AllOf | AnyOf | Not


def predicate_fields(predicate: RowPredicate) -> set[str]:
    """The fields a row predicate reads (``person_id`` for a :class:`PersonIn`)."""
    if isinstance(predicate, Compare):
        return {predicate.field}
    if isinstance(predicate, PersonIn):
        return {"person_id"}
    if isinstance(predicate, Not):
        return predicate_fields(predicate.part)
    return set().union(*(predicate_fields(p) for p in predicate.parts)) if predicate.parts else set()


@dataclass(frozen=True)
class AccessDecision:
    """What ``grantee`` may see of ``dataset`` for ``purpose``: a level per field and an optional row restriction.

    A field absent from ``fields`` is denied (``none``): the gate denies by default. ``grantee`` is the
    identity pseudonyms are keyed by (e.g. ``user:alice``). ``min_cell_size`` is the agreement's minimum
    cell size for any aggregate; ``agreement`` names the agreement for messages.
    """

    dataset: str
    purpose: str
    grantee: str
    fields: tuple[FieldAccess, ...]
    rows: RowPredicate | None = None
    min_cell_size: int | None = None
    agreement: str | None = None
    _by_field: dict[str, FieldAccess] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        object.__setattr__(self, "fields", fields)
        names = [f.field for f in fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise GateError(f"access decision for {self.dataset}: fields listed twice: {', '.join(dupes)}")
        if not self.grantee:
            raise GateError(f"access decision for {self.dataset}: no grantee identity")
        if self.min_cell_size is not None and self.min_cell_size < 1:
            raise GateError(f"access decision for {self.dataset}: minimum cell size {self.min_cell_size} < 1")
        object.__setattr__(self, "_by_field", {f.field: f for f in fields})

    @classmethod
    def of(cls, dataset: str, purpose: str, grantee: str, levels: dict[str, Level | str], reason: str,
           **kwargs: Any) -> AccessDecision:
        """A decision giving each field of ``levels`` its level, all for the same ``reason`` (tests, tools)."""
        return cls(dataset, purpose, grantee, tuple(FieldAccess(f, _level(lv, f), reason) for f, lv in levels.items()),
                   **kwargs)

    @property
    def level(self) -> Level:
        """The dataset's level: the highest of its fields' levels (``none`` with no field)."""
        return max((f.level for f in self.fields), default=Level.none)

    def access(self, name: str) -> FieldAccess:
        """The access to field ``name`` (``none``, 'no grant covers this field', when the decision omits it)."""
        return self._by_field.get(name) or FieldAccess(name, Level.none, NO_GRANT)

    def fields_at(self, *levels: Level) -> list[str]:
        """The fields whose level is one of ``levels``, in decision order."""
        return [f.field for f in self.fields if f.level in levels]

    def require_rows(self) -> None:
        """Raise :class:`AccessDenied` unless some field may be read row by row (``deidentified`` or above)."""
        if self.level >= Level.deidentified:
            return
        reasons = _unique(f"{f.field}: {f.reason}" if f.level is Level.none else f.reason for f in self.fields)
        who = f"{self.grantee} may not read rows of {self.dataset} for purpose {self.purpose!r}"
        if self.level is Level.aggregate:
            cell = (f"cells under {self.min_cell_size} are suppressed"
                    + (f", as agreement {self.agreement} requires" if self.agreement else ""))
            if self.min_cell_size is None:
                cell = "with the standard's disclosure control"
            granted = "; ".join(_unique(f.reason for f in self.fields if f.level is Level.aggregate))
            raise AccessDenied(
                f"{who}: the grant allows aggregate counts only ({granted}). Counts are available through the "
                f"indicator engine (`justicelab indicators compute`); {cell}.",
                dataset=self.dataset, level=Level.aggregate.value, reasons=tuple(reasons))
        why = "; ".join(_unique(f.reason for f in self.fields)) or NO_GRANT.replace("field", "dataset")
        raise AccessDenied(f"{who}: {why}", dataset=self.dataset, level=Level.none.value, reasons=tuple(reasons))

    def as_dict(self) -> dict[str, Any]:
        """A plain description (JSON-ready) for ``access check``, the audit ledger and the API."""
        return {
            "dataset": self.dataset,
            "purpose": self.purpose,
            "grantee": self.grantee,
            "level": self.level.value,
            "fields": [{"field": f.field, "level": f.level.value, "reason": f.reason} for f in self.fields],
            "rows": self.rows.describe() if self.rows is not None else "all rows",
            "min_cell_size": self.min_cell_size,
            "agreement": self.agreement,
        }


def _level(value: Level | str, where: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise GateError(f"{where}: unknown level {value!r}; use one of {', '.join(lv.value for lv in Level)}") from None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
