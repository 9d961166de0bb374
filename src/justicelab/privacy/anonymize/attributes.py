"""A policy resolved against its dataset: each quasi-identifier with the levels the search may choose.

A quasi-identifier's levels are those of its hierarchy in the standard, from the finest the policy
allows up to ``max_level``; a column without a hierarchy has two: ``recorded`` and ``suppressed``. Every
level is a Generaliser label, so a release can only hold clean published categories. Information loss
is measured per level: by interval width for numbers and dates (a 10-year band of ages 0-89 loses 9/89),
by the share of categories merged otherwise (a region of 6 of 58 counties loses 5/57).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from justicelab.errors import StandardError
from justicelab.ingest.sql import ident, literal
from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.privacy.anonymize.jurisdiction import Merge, county_populations, plan_merge
from justicelab.privacy.anonymize.policy import Loc, Policy, Targets
from justicelab.privacy.risk import Attribute, Dataset, RiskError, quasi_identifiers, sensitive_attributes
from justicelab.privacy.risk.dataset import not_readable
from justicelab.standard import PrivacyRole
from justicelab.warehouse import SYSTEM_COLUMNS, Generaliser
from justicelab.warehouse.generalise import SUPPRESSED

RECORDED = "recorded"
MERGED_LEVEL = "county"


@dataclass(frozen=True)
class QuasiIdentifier:
    """One quasi-identifier of the release and the levels the search may choose, finest first."""

    label: str
    column: str
    hierarchy: str | None
    levels: tuple[str, ...]
    weight: float = 1.0
    interval: bool = False  # loss by interval width (bands over numbers, dates) instead of merged categories
    merged: frozenset[str] = frozenset()  # counties released as their region at the county level
    index: int = 0  # its place in the policy's list

    def describe(self, level: str) -> str:
        """``age at band_10`` for reports; the county level says which counties it merges."""
        at = level if self.hierarchy or level == SUPPRESSED else "as recorded"
        note = f" ({len(self.merged)} small counties as their region)" if self.merged and level == MERGED_LEVEL else ""
        return f"{self.label} = {self.column} at {at}{note}"

    def label_sql(self, generaliser: Generaliser, level: str, x: str) -> str:
        """The released label of the value ``x`` (SQL) at ``level``; NULL when suppressed."""
        if level == SUPPRESSED:
            return "CAST(NULL AS VARCHAR)"
        if self.hierarchy is None:
            return f"CAST({x} AS VARCHAR)"
        label = generaliser.sql(x, self.hierarchy, level)
        if self.merged and level == MERGED_LEVEL:
            names = generaliser.levels(self.hierarchy)
            parent = generaliser.sql(x, self.hierarchy, names[names.index(level) + 1])
            small = ", ".join(literal(c) for c in sorted(self.merged))
            return f"(CASE WHEN {label} IN ({small}) THEN {parent} ELSE {label} END)"
        return label

    def bounds_sql(self, generaliser: Generaliser, level: str, x: str) -> tuple[str, str]:
        """For an interval attribute: the lowest and highest value the label at ``level`` stands for (dates as
        day numbers), as DOUBLE SQL."""
        assert self.hierarchy is not None
        h = generaliser.hierarchy(self.hierarchy)
        spec = h.levels[generaliser.level_index(self.hierarchy, level)]
        if h.kind == "date":
            d = f"CAST({x} AS DATE)"
            part = spec.truncate_to or "day"
            if part == "day":
                lo = hi = d
            else:
                start = f"CAST(date_trunc('{part}', {d}) AS DATE)"
                step = {"month": "1 MONTH", "quarter": "3 MONTH", "year": "1 YEAR"}[part]
                lo, hi = start, f"CAST({start} + INTERVAL {step} - INTERVAL 1 DAY AS DATE)"
            return (f"CAST(date_diff('day', DATE '1970-01-01', {lo}) AS DOUBLE)",
                    f"CAST(date_diff('day', DATE '1970-01-01', {hi}) AS DOUBLE)")
        value = f"CAST({x} AS DOUBLE)"
        if spec.width is None or generaliser.level_index(self.hierarchy, level) == 0:
            return value, value
        lo = f"(floor({value} / {spec.width}) * {spec.width})"
        return lo, f"({lo} + {spec.width - 1})"

    def finest_bounds_sql(self, generaliser: Generaliser, x: str) -> tuple[str, str]:
        """The value itself as an interval (its hierarchy's first level): the domain is measured on it."""
        assert self.hierarchy is not None
        return self.bounds_sql(generaliser, generaliser.levels(self.hierarchy)[0], x)


@dataclass(frozen=True)
class Plan:
    """Everything the engine needs from a policy once it fits its dataset."""

    policy: Policy
    qi: tuple[QuasiIdentifier, ...]
    sensitive: tuple[Attribute, ...]
    keep: tuple[str, ...]
    dropped: tuple[str, ...]
    targets: Targets
    metric: str
    where: str | None
    merge: Merge | None = None
    recoding: str = "global"

    @property
    def output_columns(self) -> list[str]:
        return [q.label for q in self.qi] + [s.label for s in self.sensitive] + list(self.keep)


def _user_columns(dataset: Dataset) -> list[str]:
    return [c for c in dataset.columns if c not in SYSTEM_COLUMNS]


def _role(dataset: Dataset, column: str) -> PrivacyRole | None:
    if dataset.entity and column in dataset.entity.field_names():
        return dataset.entity.field(column).privacy_role
    return None


def _hierarchy_for(dataset: Dataset, column: str, generaliser: Generaliser) -> str | None:
    """The column's hierarchy: its field's in the dataset's entity, else the one every same-named field has."""
    if dataset.entity and column in dataset.entity.field_names():
        return dataset.entity.field(column).hierarchy
    standard = generaliser.standard
    found = {f.hierarchy for e in standard.entities.values() for f in e.fields if f.name == column and f.hierarchy}
    return found.pop() if len(found) == 1 else None


def _is_constant(generaliser: Generaliser, hierarchy: str, index: int) -> bool:
    """A top level that is one category for every value (``state``): suppressing beyond it changes nothing."""
    h = generaliser.hierarchy(hierarchy)
    return h.kind == "lookup" and index > 0 and h.levels[index].lookup is None


class _Problems:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))

    def raise_any(self) -> None:
        if self.items:
            raise self.policy.error(self.items)


def _quasi_identifier(policy: Policy, i: int, dataset: Dataset, generaliser: Generaliser,
                      problems: _Problems) -> QuasiIdentifier | None:
    rule = policy.document.quasi_identifiers[i]
    loc: Loc = ("quasi_identifiers", i)
    try:
        (attr,) = quasi_identifiers(rule.attribute, dataset, generaliser, policy.document.date_field)
    except (RiskError, ValueError) as exc:
        problems.add((*loc, "attribute"), str(exc) if isinstance(exc, RiskError) else
                     f"name one attribute, [LABEL=]NAME[:LEVEL], not {rule.attribute!r}")
        return None
    if attr.level == SUPPRESSED:
        problems.add((*loc, "attribute"), f"{attr.label} would always be blank: leave it out of the release "
                     "(drop) instead of listing it as a quasi-identifier")
        return None
    if attr.source is not None:  # the search generalises recorded values, not the gate's labels
        problems.add((*loc, "attribute"), f"{attr.column} is shown to this reader only as {attr.hierarchy} labels "
                     f"coarser than recorded: name it without a level (released as shown, or suppressed)")
        return None
    # A column the gate generalised holds labels, not recorded values: released as shown, or suppressed.
    hierarchy = None if attr.as_shown else attr.hierarchy or _hierarchy_for(dataset, attr.column, generaliser)
    if hierarchy is None:
        names: list[str] = [RECORDED]
        first = 0
    else:
        names = generaliser.levels(hierarchy)
        first = names.index(attr.level) if attr.level in names else 0
    top = len(names) - 1 if hierarchy and _is_constant(generaliser, hierarchy, len(names) - 1) else len(names)
    allowed = [*names, SUPPRESSED]
    if rule.max_level is not None:
        if rule.max_level not in allowed[first:]:
            choices = ", ".join(allowed[first:])
            shown = (f" ({attr.column} is shown to this reader as {attr.hierarchy}.{attr.level} labels, released as "
                     "shown or suppressed)" if attr.as_shown else "")
            problems.add((*loc, "max_level"), f"{rule.max_level!r} is not a level of {attr.label} at or above "
                         f"{allowed[first]}; choose one of: {choices}{shown}")
            return None
        top = allowed.index(rule.max_level)
    interval = False
    if hierarchy is not None:
        kind = generaliser.hierarchy(hierarchy).kind
        interval = kind == "date" or (kind == "bands" and not generaliser.is_prefix(hierarchy))
    return QuasiIdentifier(attr.label, attr.column, hierarchy, tuple(allowed[first:top + 1]), rule.weight, interval,
                           index=i)


def _merge(policy: Policy, qis: list[QuasiIdentifier], dataset: Dataset, generaliser: Generaliser,
           populations: Mapping[str, int] | None, problems: _Problems) -> Merge | None:
    rule = policy.document.jurisdiction
    if rule is None:
        return None
    matches = [i for i, q in enumerate(qis) if rule.attribute in (q.label, q.column)]
    if not matches:
        if len(qis) == len(policy.document.quasi_identifiers):  # else a quasi-identifier's own error says it
            problems.add(("jurisdiction", "attribute"), f"{rule.attribute!r} is not one of the quasi-identifiers "
                         f"({', '.join(q.label for q in qis)})")
        return None
    q = qis[matches[0]]
    names = generaliser.levels(q.hierarchy) if q.hierarchy else []
    if MERGED_LEVEL not in names[:-1]:
        problems.add(("jurisdiction", "attribute"), f"{q.label} has no {MERGED_LEVEL} level with a region above "
                     f"it (its hierarchy: {q.hierarchy or 'none'})")
        return None
    if q.levels[0] in names and names.index(q.levels[0]) < names.index(MERGED_LEVEL):
        problems.add(("jurisdiction", "attribute"), f"{q.label} starts at {q.levels[0]}, finer than the "
                     f"{MERGED_LEVEL} the rule merges: write {q.column}:{MERGED_LEVEL}")
        return None
    year: int | None = rule.population_year
    if populations is None:
        if dataset.warehouse is None:
            problems.add(("jurisdiction",), "the rule needs the population table of a workspace warehouse")
            return None
        try:
            year, populations = county_populations(dataset.warehouse, rule.population_year)
        except AnonymizeError as exc:
            problems.add(("jurisdiction", "population_year" if rule.population_year else "min_population"),
                         str(exc))
            return None
        source = "warehouse population table"
    else:
        source = "populations given"
    merge = plan_merge(generaliser.standard, populations, rule.min_population, year, source)
    qis[matches[0]] = dataclasses.replace(q, merged=merge.counties)
    return merge


def resolve(policy: Policy, dataset: Dataset, generaliser: Generaliser,
            populations: Mapping[str, int] | None = None) -> Plan:
    """Check ``policy`` against ``dataset`` (columns, hierarchies, levels, privacy roles) and resolve it."""
    doc = policy.document
    problems = _Problems(policy)
    expected = dataset.entity.name if dataset.entity else dataset.name.rsplit(".", 1)[0]
    if doc.dataset != expected:
        problems.add(("dataset",), f"the policy is for {doc.dataset!r} but the data is {expected!r}")
    qis = [q for i in range(len(doc.quasi_identifiers))
           if (q := _quasi_identifier(policy, i, dataset, generaliser, problems)) is not None]
    sensitive: list[Attribute] = []
    places: list[Loc] = []
    for i, text in enumerate(doc.sensitive):
        try:
            found = sensitive_attributes(text, dataset, generaliser, doc.date_field)
        except RiskError as exc:
            problems.add(("sensitive", i), str(exc))
            continue
        sensitive += found
        places += [("sensitive", i)] * len(found)
    columns = _user_columns(dataset)
    seen_labels: dict[str, str] = {}
    seen_columns: dict[str, str] = {}
    named = ([("quasi-identifier", q.label, q.column, ("quasi_identifiers", q.index)) for q in qis]
             + [("sensitive attribute", s.label, s.column, loc) for s, loc in zip(sensitive, places, strict=True)])
    for where, label, column, loc in named:
        role = _role(dataset, column)
        if role is PrivacyRole.direct_identifier:
            problems.add(loc, f"{column} is a direct identifier in the standard: it is never released")
        if label in seen_labels:
            problems.add(loc, f"{label} is named twice ({seen_labels[label]} and {where})")
        if column in seen_columns:
            problems.add(loc, f"{column} is read twice ({seen_columns[column]} and {where}); list it once, "
                         "with the finest level the release may show")
        seen_labels[label] = where
        seen_columns[column] = where
    for i, column in enumerate(doc.keep):
        role = _role(dataset, column)
        if column not in columns:
            problems.add(("keep", i), not_readable(dataset, column) or f"{dataset.name} has no column {column!r}")
        elif column in seen_columns:
            problems.add(("keep", i), f"{column} is already released as a {seen_columns[column]}")
        elif role in (PrivacyRole.direct_identifier, PrivacyRole.quasi_identifier):
            problems.add(("keep", i), f"{column} is a {role.value.replace('_', '-')} in the standard: a "
                         "quasi-identifier is listed under quasi_identifiers so that k counts it, a direct "
                         "identifier is never released")
        elif column in seen_labels:
            problems.add(("keep", i), f"{column} is already the name of a {seen_labels[column]}")
    for i, column in enumerate(doc.drop):
        if column not in columns and not not_readable(dataset, column):  # withheld: already not released
            problems.add(("drop", i), f"{dataset.name} has no column {column!r}")
        elif column in doc.keep or column in seen_columns:
            problems.add(("drop", i), f"{column} is released by this policy and cannot also be dropped")
    if doc.targets.l is not None and not sensitive:
        problems.add(("targets", "l"), "l-diversity needs at least one sensitive attribute")
    if doc.targets.t is not None and not sensitive:
        problems.add(("targets", "t"), "t-closeness needs at least one sensitive attribute")
    if doc.recoding == "local" and (doc.targets.t is not None or (
            doc.targets.l is not None and doc.targets.l_kind == "entropy")):
        problems.add(("recoding",), "local recoding meets k and distinct l; use recoding: global for t-closeness "
                     "or entropy l-diversity")
    merge = _merge(policy, qis, dataset, generaliser, populations, problems)
    problems.raise_any()
    released = {q.column for q in qis} | {s.column for s in sensitive} | set(doc.keep)
    return Plan(policy, tuple(qis), tuple(sensitive), tuple(doc.keep),
                tuple(c for c in columns if c not in released), doc.targets, doc.metric, doc.where, merge,
                doc.recoding)


def check_levels(generaliser: Generaliser, qis: Sequence[QuasiIdentifier]) -> None:
    """Every level of every quasi-identifier can be computed (lookups present): fail before any work."""
    for q in qis:
        for level in q.levels:
            try:
                q.label_sql(generaliser, level, ident(q.column))
            except StandardError as exc:
                raise AnonymizeError(f"quasi-identifier {q.label}: {exc}") from None
