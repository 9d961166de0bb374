"""Which columns a measurement treats as quasi-identifiers and sensitive attributes, and at which level.

Syntax (``--qi`` and ``--sensitive``, comma-separated items): ``[LABEL=]NAME[:LEVEL]``.

* ``NAME`` is a column; or a unique column that starts with ``NAME_`` (``race`` is ``race_ethnicity``);
  or ``year``, ``quarter``, ``month`` or ``day``: the record's event date at that level of the ``date``
  hierarchy (``month`` reads "2018-05", so year and month together are the calendar month).
* ``LEVEL`` is a level of the column's hierarchy in the standard (``age:band_5``, ``county:region``,
  ``date_of_death:quarter``), or ``HIERARCHY.LEVEL`` for a column the standard does not know.
  Without a level the value is taken as recorded.
* ``LABEL`` names the result column (default: ``NAME`` as typed).
* A sensitive attribute may end in ``:ordered`` or ``:categorical`` to choose t-closeness's ground distance
  (default: ordered for numbers, categorical otherwise).

On a dataset read through the gate, a column the reader sees generalised (a de-identified date as its month)
is taken as shown, or at a coarser level computed exactly from its labels (the month's year); a finer level,
or a column withheld from the reader, is refused saying so.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from justicelab.errors import StandardError
from justicelab.ingest.sql import ident
from justicelab.privacy.risk.dataset import Dataset, coarsening_source, not_readable, shown_as, user_columns
from justicelab.privacy.risk.measures import RiskError
from justicelab.standard import FieldType, PrivacyRole
from justicelab.warehouse import Generaliser

DATE_PARTS = ("year", "quarter", "month", "day")
DISTANCES = ("ordered", "categorical")
_ITEM = re.compile(r"^(?:(?P<label>[A-Za-z_][A-Za-z0-9_]*)=)?(?P<name>[^:=\s]+)(?::(?P<level>[^:=\s]+))?$")


@dataclass(frozen=True)
class Attribute:
    """One quasi-identifier or sensitive attribute: a column of the dataset, possibly generalised."""

    label: str
    column: str
    hierarchy: str | None = None
    level: str | None = None
    distance: str | None = None  # sensitive only: "ordered", "categorical" or None (by type)
    #: The column already holds the labels of ``level`` (the gate generalised it for this reader).
    as_shown: bool = False
    #: SQL of the value the level's labels are computed from, when not the column (coarsening gate labels).
    source: str | None = None

    def sql(self, generaliser: Generaliser) -> str:
        """The attribute's value as DuckDB SQL over the dataset's columns."""
        if self.hierarchy is None or self.level is None or self.as_shown:
            return ident(self.column)
        return generaliser.sql(self.source or ident(self.column), self.hierarchy, self.level)

    def describe(self) -> str:
        """``label = column at hierarchy.level`` for reports."""
        at = f" at {self.hierarchy}.{self.level}" if self.level else ""
        return f"{self.label} = {self.column}{at}" if (self.label != self.column or at) else self.label


def _split(text: str, what: str) -> list[tuple[str | None, str, str | None]]:
    items = []
    for raw in [t.strip() for t in text.split(",")]:
        if not raw:
            continue
        m = _ITEM.match(raw)
        if not m:
            raise RiskError(f"{what} item {raw!r} is not [LABEL=]NAME[:LEVEL] (e.g. age:band_5, race, year)")
        items.append((m["label"], m["name"], m["level"]))
    return items


def _column(dataset: Dataset, name: str) -> str | None:
    columns = user_columns(dataset)
    if name in columns:
        return name
    prefixed = [c for c in columns if c.startswith(name + "_")]
    return prefixed[0] if len(prefixed) == 1 else None


def _hierarchy_of(dataset: Dataset, column: str, generaliser: Generaliser) -> str | None:
    if dataset.entity and column in dataset.entity.field_names():
        found = dataset.entity.field(column).hierarchy
        if found:
            return found
    standard = generaliser.standard
    named = {f.hierarchy for e in standard.entities.values() for f in e.fields if f.name == column and f.hierarchy}
    if len(named) == 1:
        return named.pop()
    return column if column in standard.hierarchies else None


def event_date(dataset: Dataset, date_field: str | None = None) -> str:
    """The column ``year``/``month``/... are read from: ``date_field``, else the one event date."""
    columns = user_columns(dataset)
    if date_field:
        if date_field not in columns:
            raise RiskError(not_readable(dataset, date_field)
                            or f"{dataset.name} has no column {date_field!r}; it has: {', '.join(columns)}")
        return date_field
    candidates: list[str] = []
    if dataset.entity:
        candidates = [f.name for f in dataset.entity.fields
                      if f.type in (FieldType.date, FieldType.timestamp) and f.hierarchy == "date" and f.required
                      and f.privacy_role is PrivacyRole.quasi_identifier and f.name in columns]
    if not candidates:
        candidates = [c for c in columns if dataset.columns[c].upper().startswith(("DATE", "TIMESTAMP"))]
    if not candidates and dataset.entity:
        hidden = [f.name for f in dataset.entity.fields if f.hierarchy == "date" and f.required
                  and f.privacy_role is PrivacyRole.quasi_identifier and not_readable(dataset, f.name)]
        if len(hidden) == 1:
            raise RiskError(f"year, month, quarter and day are read from the event date, but "
                            f"{not_readable(dataset, hidden[0])}")
    if len(candidates) != 1:
        found = f"it has {len(candidates)} date columns ({', '.join(candidates)})" if candidates else "it has none"
        raise RiskError(f"{dataset.name}: year, month, quarter and day are read from the event date, but {found}; "
                        "name one with --date-field, or write e.g. year=COLUMN:year")
    return candidates[0]


def _resolve(dataset: Dataset, generaliser: Generaliser, label: str | None, name: str, level: str | None,
             date_field: str | None, what: str) -> Attribute:
    column = _column(dataset, name)
    if column is None and name in DATE_PARTS and level is None:
        return _as_shown(dataset, generaliser, Attribute(label or name, event_date(dataset, date_field), "date", name),
                         name, what)
    if column is None:
        hidden = not_readable(dataset, name)
        raise RiskError(f"{what} {name}: {hidden}" if hidden else
                        f"{dataset.name} has no column {name!r} ({what}); it has: {', '.join(user_columns(dataset))}"
                        f" (and {', '.join(DATE_PARTS)} of the event date)")
    if level is None:
        return _as_shown(dataset, generaliser, Attribute(label or name, column), name, what)
    hierarchy = _hierarchy_of(dataset, column, generaliser)
    if "." in level:
        hierarchy, level = level.split(".", 1)
    if hierarchy is None:
        raise RiskError(f"{what} {name}: column {column} has no hierarchy in the standard; write "
                        f"{name}:HIERARCHY.LEVEL with one of: {', '.join(generaliser.standard.hierarchies)}")
    try:
        index = generaliser.level_index(hierarchy, level)
    except StandardError as exc:
        raise RiskError(f"{what} {name}: {exc}") from None
    names = generaliser.levels(hierarchy)
    return _as_shown(dataset, generaliser,
                     Attribute(label or name, column, hierarchy, names[index] if index < len(names) else level),
                     name, what)


def _as_shown(dataset: Dataset, generaliser: Generaliser, attr: Attribute, name: str, what: str) -> Attribute:
    """``attr`` on a column the gate generalised for this reader: as shown, or coarser if its labels give it."""
    shown = shown_as(dataset, attr.column)
    if shown is None:
        return attr
    hierarchy, level = shown
    if attr.level is None or (attr.hierarchy, attr.level) == shown:
        return dataclasses.replace(attr, hierarchy=hierarchy, level=level, as_shown=True)
    source = None
    if attr.hierarchy == hierarchy and generaliser.level_index(hierarchy, attr.level) > generaliser.level_index(
            hierarchy, level):
        source = coarsening_source(generaliser, hierarchy, level, attr.level, ident(attr.column))
    if source is None:
        assert dataset.gate is not None
        raise RiskError(f"{what} {name}: {attr.column} of {dataset.name} is readable by {dataset.gate.user} only "
                        f"generalised to {hierarchy}.{level} (de-identified), so it cannot be shown at "
                        f"{attr.hierarchy}.{attr.level}; name it without a level or at a coarser level of {hierarchy}")
    return dataclasses.replace(attr, source=source)


def quasi_identifiers(text: str, dataset: Dataset, generaliser: Generaliser,
                      date_field: str | None = None) -> list[Attribute]:
    """Parse and resolve ``--qi``."""
    out = [_resolve(dataset, generaliser, label, name, level, date_field, "quasi-identifier")
           for label, name, level in _split(text, "--qi")]
    if not out:
        raise RiskError("name at least one quasi-identifier with --qi (e.g. --qi county,year,age:band_5,sex)")
    return out


def sensitive_attributes(text: str | None, dataset: Dataset, generaliser: Generaliser,
                         date_field: str | None = None) -> list[Attribute]:
    """Parse and resolve ``--sensitive`` (``:ordered`` / ``:categorical`` choose the t-closeness distance)."""
    out = []
    for label, name, level in _split(text or "", "--sensitive"):
        distance = level if level in DISTANCES else None
        a = _resolve(dataset, generaliser, label, name, None if distance else level, date_field, "sensitive attribute")
        out.append(dataclasses.replace(a, distance=distance))
    return out
