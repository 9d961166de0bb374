"""Grant composition: from a user, a dataset, a purpose and a time, the access decision the gate applies.

The control plane says which grants apply (:func:`justicelab.control.valid_grants`); this module composes
them, field by field and row by row:

* per field the most permissive applicable grant wins, never above its agreement's maximum level for the
  dataset (``GrantInfo.effective_level``); a grant's field list (already cut to what its agreement still
  covers) limits the fields it gives;
* a grant with a row rule gives its level only on the rows its rule admits. Grants with different row rules
  therefore give different levels on different rows, so the result is a list of **parts**, each an
  :class:`AccessDecision` for one row region. The regions are disjoint (each is a conjunction of rules
  and negated rules, :class:`Not`), so every row falls in exactly one part and gets exactly the levels
  that the grants admitting it give. A field is never shown on a row at a higher level than a grant
  whose rule admits that row allows; parts are merged when they give the same levels;
* default deny: a row no grant admits, and a field no admitting grant covers, is ``none``.

System columns the standard does not declare get a level derived from the fields' levels in the part
(documented in ``docs/gate.md``): ``_source`` is shown whenever rows are; ``person_id`` is shown as
recorded only when some direct identifier of the dataset is ``identified`` in the part (a grant that
shows who a person is may show the platform's id of that person), else pseudonymised; ``_record_id``,
``_batch_id`` and ``_source_row`` are shown as recorded only when every field of the dataset's record
key is ``identified``, else ``_record_id`` is pseudonymised and the lineage columns dropped. At
``deidentified`` the record key's own fields are left out: ``_record_id``'s pseudonym already identifies
the record for the grantee, and a second per-record pseudonym would only double the gate's hashing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from justicelab.control import (
    GrantCheck,
    GrantInfo,
    Level,
    Principal,
    RowRule,
    consented_persons,
    find_principal,
    valid_grants,
)
from justicelab.control.errors import ControlError
from justicelab.control.models import User
from justicelab.control.periods import as_utc, utcnow
from justicelab.errors import AccessDenied
from justicelab.gate.decision import NO_GRANT, AccessDecision, AllOf, AnyOf, Compare, FieldAccess, Not, PersonIn
from justicelab.gate.decision import RowPredicate as Predicate
from justicelab.gate.deidentify import PERSON_ID
from justicelab.standard import PrivacyRole, ResolvedEntity, Standard, load_standard

SOURCE, RECORD_ID, LINEAGE = "_source", "_record_id", ("_batch_id", "_source_row")


@dataclass(frozen=True)
class Composition:
    """What ``user`` may see of ``dataset`` for ``purpose`` at ``at``: one decision per disjoint row region.

    ``parts`` holds every region some grant admits (including those only given ``aggregate``);
    :attr:`readable` those whose rows may be read. ``check`` is the control plane's answer it was built
    from (applicable grants, and every refused grant with its reasons).
    """

    user: str
    dataset: str
    purpose: str
    at: dt.datetime
    grantee: str
    check: GrantCheck | None
    parts: tuple[AccessDecision, ...]
    problem: str | None = None  # a refusal before any grant is looked at (unknown user, unregistered dataset)
    notes: tuple[str, ...] = ()  # grants whose row rule admits no row at all now (e.g. nobody consents)

    @property
    def readable(self) -> tuple[AccessDecision, ...]:
        """The parts whose rows may be read (some field at ``deidentified`` or above)."""
        return tuple(p for p in self.parts if p.level >= Level.deidentified)

    @property
    def level(self) -> Level:
        """The highest level any field has on any row."""
        return max((p.level for p in self.parts), default=Level.none)

    @property
    def grants(self) -> tuple[int, ...]:
        """The ids of the grants the composition used."""
        return tuple(g.id for g in self.check.applicable) if self.check else ()

    @property
    def min_cell_size(self) -> int | None:
        return max((p.min_cell_size for p in self.parts if p.min_cell_size), default=None)

    def denial(self) -> AccessDenied | None:
        """Why no row may be read (None when some may): the user's or dataset's problem, every refused
        grant's reasons, or the aggregate-only terms."""
        if self.readable:
            return None
        who = f"{self.user} may not read rows of {self.dataset} for purpose {self.purpose!r}"
        if self.problem:
            return AccessDenied(f"{who}: {self.problem}", dataset=self.dataset, level=Level.none.value,
                                reasons=(self.problem,))
        if self.check is not None and not self.check.applicable:
            why = self.check.denial() or NO_GRANT
            reasons = tuple(f"grant #{r.grant.id}: {', '.join(r.reasons)}" for r in self.check.refused) or (why,)
            return AccessDenied(f"{who}: {why}", dataset=self.dataset, level=Level.none.value, reasons=reasons)
        for part in self.parts:
            if part.level is Level.aggregate:
                try:
                    part.require_rows()
                except AccessDenied as exc:
                    return AccessDenied("; ".join((str(exc), *self.notes)), dataset=exc.dataset, level=exc.level,
                                        reasons=(*exc.reasons, *self.notes))
        why = "; ".join(self.notes) or "the applicable grants give no field at deidentified or above"
        return AccessDenied(f"{who}: {why}", dataset=self.dataset, level=self.level.value,
                            reasons=self.notes or (why,))

    def require_rows(self) -> None:
        """Raise the :meth:`denial` when no row may be read."""
        denied = self.denial()
        if denied is not None:
            raise denied

    def as_dict(self) -> dict[str, Any]:
        """A plain description (JSON-ready): ``access check``, the audit ledger's fingerprint, the API."""
        return {
            "user": self.user, "dataset": self.dataset, "purpose": self.purpose, "at": self.at.isoformat(),
            "grantee": self.grantee, "level": self.level.value, "grants": list(self.grants),
            "min_cell_size": self.min_cell_size, "parts": [p.as_dict() for p in self.parts],
            "refused": [{"grant": r.grant.id, "principal": r.grant.principal, "level": r.grant.level.value,
                         "reasons": list(r.reasons)} for r in (self.check.refused if self.check else ())],
            "notes": list(self.notes), "denial": str(self.denial()) if self.denial() else None,
        }


def grantee_of(username: str) -> str:
    """The identity pseudonyms are keyed by: each user their own, so two users' extracts never join."""
    return f"user:{username}"


def compose(session: Session, user: User | str, dataset: str, purpose: str, at: dt.datetime | None = None, *,
            standard: Standard | None = None) -> Composition:
    """The composition of every grant through which ``user`` may read ``dataset`` for ``purpose`` at ``at``.

    Never raises for a refusal: an unknown user, an unregistered dataset, no applicable grant, all end
    up in :meth:`Composition.denial`.
    """
    standard = standard or load_standard()
    at = as_utc(at) if at else utcnow()
    entity = standard.entity(dataset)
    name = user.username if isinstance(user, User) else user
    person: User | Principal | None = user if isinstance(user, User) else find_principal(session, name)
    if person is None:
        return Composition(name, dataset, purpose, at, grantee_of(name), None, (),
                           f"no user {name!r} (users are never deleted; this name was never added)")
    try:
        check = valid_grants(session, person, dataset, purpose, at, standard=standard)
    except ControlError as exc:  # the dataset is not registered: nobody has a grant on it
        return Composition(name, dataset, purpose, at, grantee_of(name), None, (),
                           f"no grant can cover it: {exc}")
    rules = _rule_predicates(session, check.applicable, at)
    parts = compose_parts(entity, check, rules, purpose, grantee_of(name))
    notes = tuple(_nobody(g, at) for g in check.applicable
                  if (k := rule_key(g.row_rule)) is not None and admits_nothing(rules[k]))
    return Composition(name, dataset, purpose, at, grantee_of(name), check, parts, notes=notes)


def rule_key(rule: RowRule | None) -> str | None:
    """A row rule's identity (grants with equal rules admit the same rows)."""
    return None if rule is None else json.dumps(rule.as_dict(), sort_keys=True, default=str)


def _rule_predicates(session: Session, grants: Iterable[GrantInfo], at: dt.datetime) -> dict[str, Predicate]:
    """Each distinct row rule of ``grants`` as a row predicate (consent: the persons consenting at ``at``)."""
    out: dict[str, Predicate] = {}
    for g in grants:
        key = rule_key(g.row_rule)
        if key is None or key in out or g.row_rule is None:
            continue
        out[key] = rule_predicate(g.row_rule, lambda program, scope: consented_persons(session, program, scope, at),
                                  f"grant #{g.id}")
    return out


def rule_predicate(rule: RowRule, consenting: Callable[[str, str], Iterable[str]], reason: str) -> Predicate:
    """A grant's row rule as a row predicate; ``consenting(program, scope)`` gives the consenting persons."""
    parts: list[Predicate] = []
    if rule.consent is not None:
        c = rule.consent
        parts.append(PersonIn(frozenset(consenting(c.program, c.scope.value)),
                              f"{reason}: current {c.program} consent covering {c.scope.value}"))
    if rule.field_in is not None:
        parts.append(Compare(rule.field_in.field, "in", tuple(rule.field_in.values), reason))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _nobody(grant: GrantInfo, at: dt.datetime) -> str:
    """Why a grant whose row rule admits nothing gives nothing."""
    consent = grant.row_rule.consent if grant.row_rule else None
    if consent is None:
        return f"grant #{grant.id} gives only rows its row rule admits, and none can qualify"
    return (f"grant #{grant.id} gives rows only of persons with a current {consent.program} consent covering "
            f"{consent.scope.value}, and nobody has one at {at:%Y-%m-%d %H:%M} UTC")


def admits_nothing(predicate: Predicate) -> bool:
    """Whether a rule's predicate keeps no row whatever the data (a consent nobody has given)."""
    if isinstance(predicate, PersonIn):
        return not predicate.person_ids
    if isinstance(predicate, AllOf):
        return any(admits_nothing(p) for p in predicate.parts)
    return False


Vector = tuple[Level, ...]


@dataclass
class _Region:
    rows: Predicate | None  # None: every row
    admitted: set[str | None] = field(default_factory=set)  # rule keys some row of the region satisfies


def _and(a: Predicate | None, b: Predicate) -> Predicate:
    if a is None:
        return b
    return AllOf((*a.parts, b)) if isinstance(a, AllOf) else AllOf((a, b))


def _or(a: Predicate | None, b: Predicate | None) -> Predicate | None:
    if a is None or b is None:
        return None
    return AnyOf((*(a.parts if isinstance(a, AnyOf) else (a,)), b))


def _vector(names: Sequence[str], grants: Iterable[GrantInfo]) -> Vector:
    """Per field, the most permissive level the grants give (each capped by its agreement)."""
    best = dict.fromkeys(names, Level.none)
    for g in grants:
        level = g.effective_level
        for f in g.fields:
            if f in best and level > best[f]:
                best[f] = level
    return tuple(best[n] for n in names)


def _max(a: Vector, b: Vector) -> Vector:
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def regions(names: Sequence[str], grants: Sequence[GrantInfo],
            predicates: dict[str, Predicate]) -> list[tuple[Vector, _Region]]:
    """Split the rows by the grants' row rules into disjoint regions with their per-field levels.

    Start from the grants without a rule (on every row); for each distinct rule, split every region
    whose levels the rule's grants would raise into the rows the rule admits (levels raised) and the
    rows it does not (levels kept). Regions with equal levels merge, so there are at most as many as
    distinct level vectors, however many rules there are.
    """
    by_rule: dict[str | None, list[GrantInfo]] = {}
    for g in grants:
        by_rule.setdefault(rule_key(g.row_rule), []).append(g)
    current: dict[Vector, _Region] = {_vector(names, by_rule.get(None, ())): _Region(None, {None})}
    for key in sorted(k for k in by_rule if k is not None):
        raise_to = _vector(names, by_rule[key])
        admit = predicates[key]
        if admits_nothing(admit):  # no row is in the rule's region: its grants give nothing anywhere
            continue
        split: dict[Vector, _Region] = {}
        for vec, region in current.items():
            raised = _max(vec, raise_to)
            if raised == vec:  # the rule's grants add nothing here: no need to split
                _merge(split, vec, region.rows, region.admitted | {key})
                continue
            _merge(split, raised, _and(region.rows, admit), region.admitted | {key})
            _merge(split, vec, _and(region.rows, Not(admit)), region.admitted)
        current = split
    return list(current.items())


def _merge(into: dict[Vector, _Region], vec: Vector, rows: Predicate | None, admitted: set[str | None]) -> None:
    if vec in into:
        into[vec].rows = _or(into[vec].rows, rows)
        into[vec].admitted |= admitted
    else:
        into[vec] = _Region(rows, set(admitted))


def _describe_grant(g: GrantInfo) -> str:
    text = f"grant #{g.id} ({g.principal}, agreement {g.agreement.code})"
    if g.level > g.effective_level:
        text += (f", granted {g.level.value} but agreement {g.agreement.code} allows at most "
                 f"{g.agreement.max_level.value} for {g.dataset}")
    return text


def compose_parts(entity: ResolvedEntity, check: GrantCheck, predicates: dict[str, Predicate], purpose: str,
                  grantee: str) -> tuple[AccessDecision, ...]:
    """The decisions for each row region of ``check``'s applicable grants (see :func:`regions`)."""
    names = entity.field_names()
    grants = check.applicable
    if not grants:
        return ()
    parts = []
    for vec, region in regions(names, grants, predicates):
        if max(vec, default=Level.none) is Level.none:
            continue  # rows no grant gives anything on: not part of any answer
        admitting = [g for g in grants if rule_key(g.row_rule) in region.admitted]
        levels = dict(zip(names, vec, strict=True))
        accesses = [FieldAccess(n, levels[n], _field_reason(n, levels[n], admitting, grants, check))
                    for n in names]
        accesses = _system_columns(entity, levels, accesses)
        used = [g for g in admitting if any(f in g.fields for f in names)]
        parts.append(AccessDecision(
            entity.name, purpose, grantee, tuple(accesses), rows=region.rows,
            min_cell_size=max((g.agreement.minimum_cell_size for g in used), default=None),
            agreement=", ".join(sorted({g.agreement.code for g in used})) or None))
    parts.sort(key=lambda p: (-p.level.rank, p.rows.describe() if p.rows else ""))
    return tuple(parts)


def _field_reason(name: str, level: Level, admitting: Sequence[GrantInfo], grants: Sequence[GrantInfo],
                  check: GrantCheck) -> str:
    if level is not Level.none:
        givers = [g for g in admitting if name in g.fields and g.effective_level == level]
        return "; ".join(_describe_grant(g) for g in givers)
    elsewhere = [g for g in grants if name in g.fields and g not in admitting]
    refused = [r for r in check.refused if name in r.grant.fields]
    why = NO_GRANT
    if elsewhere:
        why += " on these rows (" + "; ".join(f"grant #{g.id} only on rows it admits" for g in elsewhere) + ")"
    if refused:
        why += " (" + "; ".join(f"grant #{r.grant.id}: {', '.join(r.reasons)}" for r in refused) + ")"
    return why


def _system_columns(entity: ResolvedEntity, levels: dict[str, Level],
                    accesses: list[FieldAccess]) -> list[FieldAccess]:
    """Levels for the columns the standard does not declare, from the fields' levels (see the module doc)."""
    top = max(levels.values(), default=Level.none)
    if top < Level.deidentified:
        return accesses
    direct = [f.name for f in entity.fields if f.privacy_role is PrivacyRole.direct_identifier]
    key = list(entity.default_key)
    key_identified = bool(key) and all(levels.get(k) is Level.identified for k in key)
    person = next((d for d in direct if levels.get(d) is Level.identified), None)
    record_level = Level.identified if key_identified else Level.deidentified
    record_why = (f"record key {', '.join(key)} identified" if key_identified
                  else "rows are shown: the record appears as a per-grantee pseudonym")
    out = []
    for a in accesses:
        if a.field in key and a.level is Level.deidentified:
            a = FieldAccess(a.field, Level.none, f"record key at deidentified ({a.reason}): the record's "
                            "pseudonym is given once, as _record_id")
        out.append(a)
    out.append(FieldAccess(RECORD_ID, record_level, record_why))
    out.append(FieldAccess(SOURCE, top, "rows are shown: the source extract each came from"))
    for lineage in LINEAGE:
        out.append(FieldAccess(lineage, Level.identified if key_identified else Level.none,
                               "record key identified" if key_identified else
                               "points at one line of a delivered file: only with the record key identified"))
    if entity.person_bearing:
        out.append(FieldAccess(PERSON_ID, Level.identified if person else Level.deidentified,
                               f"{person} is identified: the person index id as recorded" if person else
                               "no direct identifier is identified: the person appears as a per-grantee "
                               "pseudonym"))
    return out
