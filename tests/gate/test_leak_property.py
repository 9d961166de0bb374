"""No leak, whatever the grants: random departments, users, roles, agreements, grants, consent and reads.

Hypothesis draws a control plane (users with roles and departments, some disabled; agreements with a
maximum level, covered fields, purposes and terms; grants by user, role or department with levels, field
lists, row rules, purposes, expiries, some revoked; consents, some revoked) and reads by random users for
random purposes at random times. An independent oracle, written here from the raw rows and the drawn
specification only (never from the gate's composition), says for every row and every column the level a
valid grant allows. Every returned value must be exactly what that level shows: the recorded value only
where an identified grant covers the field and admits the row, the keyed pseudonym, the hierarchy label
or the kept value at deidentified, nothing below. Rows come back exactly when some field is readable on
them. Every read, allowed or denied, leaves exactly one ledger entry.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from justicelab.control import Level, entries, open_control
from justicelab.control.accounts import add_department, add_user, disable_user, get_user
from justicelab.control.agreements import add_agreement
from justicelab.control.consent import record_consent, revoke_consent
from justicelab.control.datasets import add_dataset
from justicelab.control.grants import add_grant, revoke_grant
from justicelab.control.periods import utcnow
from justicelab.errors import AccessDenied
from justicelab.gate import grantee_key, read, reference_pseudonym
from justicelab.standard import PrivacyRole
from justicelab.warehouse import Warehouse
from tests.gate.access import agreement
from tests.gate.sample import CITATION, EXPECTED_LABEL, ROWS, SECRET, STANDARD, generaliser, load_citations

FIELDS = CITATION.field_names()
DIRECT = {f.name for f in CITATION.fields if f.privacy_role is PrivacyRole.direct_identifier}
PERSON_KEYS = {"person_id", "source_person_id"}
RECORD_KEY = set(CITATION.default_key)  # citation_number
DROPPED_FREE_TEXT = {"city", "location"}  # quasi-identifiers without a hierarchy or code list
ROLES = ["analyst", "researcher", "mdt_member", "steward"]
DEPARTMENTS = ["police", "health"]
PURPOSES = ["research", "MDT case review"]
USERS = ["u0", "u1", "u2"]
TODAY = utcnow().date()
START = TODAY - dt.timedelta(days=400)
LONG, SHORT = TODAY + dt.timedelta(days=400), TODAY + dt.timedelta(days=30)
AT = {"now": 0, "in 60 days": 60, "in 100 days": 100}
LEVEL_OF = {"aggregate": Level.aggregate, "deidentified": Level.deidentified, "identified": Level.identified}


@dataclass(frozen=True)
class AgreementSpec:
    max_level: Level
    fields: tuple[str, ...] | None  # None: all
    purposes: tuple[str, ...]
    end: dt.date


@dataclass(frozen=True)
class GrantSpec:
    principal: str
    agreement: int
    level: Level
    fields: tuple[str, ...] | None
    consent: bool
    offense_levels: tuple[str, ...] | None
    purpose: str | None
    short: bool  # expires 80 days from now (if the agreement lasts that long)
    revoked: bool

    def expires(self, agreements: list[AgreementSpec]) -> dt.date:
        end = agreements[self.agreement].end
        return min(end, TODAY + dt.timedelta(days=80)) if self.short else end


@dataclass(frozen=True)
class UserSpec:
    roles: tuple[str, ...]
    department: str
    disabled: bool


levels = st.sampled_from([Level.identified, Level.deidentified, Level.aggregate])  # shrinks towards identified
field_lists = st.one_of(st.none(), st.lists(st.sampled_from(FIELDS), min_size=1, max_size=8, unique=True).map(tuple))
users = st.builds(UserSpec, st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True).map(tuple),
                  st.sampled_from(DEPARTMENTS), st.sampled_from([False] * 5 + [True]))
agreements = st.builds(AgreementSpec, levels, field_lists,
                       st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=2, unique=True).map(tuple),
                       st.sampled_from([LONG, LONG, SHORT]))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    people = [draw(users) for _ in USERS]
    pacts = draw(st.lists(agreements, min_size=1, max_size=2))
    grants = []
    for _ in range(draw(st.integers(1, 5))):
        a = draw(st.integers(0, len(pacts) - 1))
        pact = pacts[a]
        allowed = [lv for lv in (Level.identified, Level.deidentified, Level.aggregate) if lv <= pact.max_level]
        covered = pact.fields or tuple(FIELDS)
        fields = draw(st.one_of(st.none(), st.lists(st.sampled_from(covered), min_size=1, max_size=6,
                                                    unique=True).map(tuple)))
        anyone = st.sampled_from([f"user:{u}" for u in USERS] * 2 + [f"role:{r}" for r in ROLES]
                                 + [f"department:{d}" for d in DEPARTMENTS])
        # often the same grantee as the grant before: layered grants (rules over a base level) compose
        principal = draw(st.one_of(st.just(grants[-1].principal), anyone) if grants else anyone)
        grants.append(GrantSpec(
            principal, a, draw(st.sampled_from(allowed)), fields, draw(st.booleans()),
            draw(st.one_of(st.none(), st.lists(st.sampled_from(["misdemeanor", "infraction", "felony"]),
                                               min_size=1, max_size=2, unique=True).map(tuple))),
            draw(st.one_of(st.none(), st.sampled_from(pact.purposes))), draw(st.booleans()),
            draw(st.sampled_from([False] * 5 + [True]))))
    if draw(st.booleans()):  # a base grant to everyone in a department, raised on some rows for one user
        top = pacts[0].max_level
        base = min(Level.deidentified, top)
        grants.append(GrantSpec(f"department:{people[0].department}", 0, base, None, False, None, None, False, False))
        grants.append(GrantSpec("user:u0", 0, top, draw(field_lists.filter(
            lambda f: f is None or pacts[0].fields is None or set(f) <= set(pacts[0].fields))),
            draw(st.booleans()), draw(st.sampled_from([None, ("misdemeanor",), ("felony", "infraction")])),
            None, False, False))
    persons = sorted({r["person_id"] for r in ROWS if r["person_id"]})
    consents = draw(st.lists(st.tuples(st.sampled_from(persons), st.booleans(), st.sampled_from([None, 50])),
                             max_size=4, unique_by=lambda c: c[0]))
    # reads mostly by real users for agreed purposes now, so that most are allowed and return rows
    reads = draw(st.lists(st.tuples(st.sampled_from([*USERS, *USERS, *USERS, "zed"]),
                                    st.sampled_from([*PURPOSES, *PURPOSES, *PURPOSES, "marketing"]),
                                    st.sampled_from(["now", "now", "now", "in 60 days", "in 100 days"])),
                          min_size=2, max_size=5))
    reads += [r for g in (*grants[:2], *grants[-1:]) if (r := _aimed_read(g, people, pacts)) is not None]
    # sometimes agreement a0 is amended after the grants to a lower maximum: grants above it are capped
    amend = draw(st.one_of(st.none(), st.sampled_from([lv for lv in (Level.deidentified, Level.aggregate)
                                                       if lv < pacts[0].max_level] or [None])))
    return {"users": people, "agreements": pacts, "grants": grants, "consents": consents, "reads": reads,
            "amend": amend}


def _aimed_read(g: GrantSpec, people: list[UserSpec], pacts: list[AgreementSpec]) -> tuple[str, str, str] | None:
    """A read by someone the grant is addressed to, for a purpose it covers, now: most of these are allowed."""
    kind, name = g.principal.split(":")
    members = [u for u, p in zip(USERS, people, strict=True) if (kind == "user" and u == name)
               or (kind == "role" and name in p.roles) or (kind == "department" and name == p.department)]
    if not members:
        return None
    return members[0], g.purpose or pacts[g.agreement].purposes[0], "now"


# -- building the control plane from the specification ------------------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A migrated control database with root, the two departments and the citation dataset."""
    folder = tmp_path_factory.mktemp("leak_template")
    db = open_control(str(folder / "control.sqlite"))
    with db.session() as s:
        root = add_user(s, None, "root", roles=["admin"])
        for d in DEPARTMENTS:
            add_department(s, root, d, d.title())
        add_dataset(s, root, "citation", "police")
    db.close()
    return folder / "control.sqlite"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    wh = Warehouse.open(str(tmp_path_factory.mktemp("leak_wh") / "wh.duckdb"))
    load_citations(wh)
    yield wh
    wh.close()


def build(db: Any, folder: Path, spec: dict[str, Any]) -> None:
    with db.session() as s:
        root = get_user(s, "root")
        for name, u in zip(USERS, spec["users"], strict=True):
            add_user(s, root, name, roles=u.roles, departments=[u.department])
        for i, a in enumerate(spec["agreements"]):
            covered: Any = "all" if a.fields is None else list(a.fields)
            add_agreement(s, root, agreement(folder, f"a{i}", maximum_level=a.max_level.value, end=a.end,
                                             purposes=list(a.purposes),
                                             datasets=[{"dataset": "citation", "fields": covered}]))
        for g in spec["grants"]:
            rule: dict[str, Any] = {}
            if g.consent:
                rule["consent"] = {"program": "mdt", "scope": "cori"}
            if g.offense_levels:
                rule["field_in"] = {"field": "offense_level", "values": list(g.offense_levels)}
            row = add_grant(s, root, dataset="citation", principal=g.principal, level=g.level,
                            agreement=f"a{g.agreement}",
                            fields=list(g.fields) if g.fields else None, row_rule=rule or None, purpose=g.purpose,
                            expires=g.expires(spec["agreements"]))
            if g.revoked:
                s.flush()
                revoke_grant(s, root, row.id, "drawn")
        if spec["amend"] is not None:
            a = spec["agreements"][0]
            add_agreement(s, root, agreement(folder, "a0", maximum_level=spec["amend"].value, end=a.end,
                                             purposes=list(a.purposes), datasets=[
                                                 {"dataset": "citation", "fields": "all" if a.fields is None
                                                  else list(a.fields)}]), replace=True)
        for person, revoked, days in spec["consents"]:
            record_consent(s, root, person, program="mdt", scope="cori",
                           expires=TODAY + dt.timedelta(days=days) if days else None)
            if revoked:
                revoke_consent(s, root, person, program="mdt")
        for name, u in zip(USERS, spec["users"], strict=True):
            if u.disabled:
                disable_user(s, root, name, "drawn")


# -- the oracle: what a valid grant allows, from the specification alone -------------------------------------

def cap(spec: dict[str, Any], index: int) -> Level:
    """The agreement's maximum level as it stands at read time (after any amendment)."""
    top = spec["agreements"][index].max_level
    return spec["amend"] if index == 0 and spec["amend"] is not None else top


def consenting(spec: dict[str, Any], day: dt.date) -> set[str]:
    return {p for p, revoked, days in spec["consents"]
            if not revoked and (days is None or TODAY + dt.timedelta(days=days) >= day)}


def valid(g: GrantSpec, spec: dict[str, Any], user: str, purpose: str, day: dt.date) -> bool:
    if user not in USERS:
        return False
    u = spec["users"][USERS.index(user)]
    a = spec["agreements"][g.agreement]
    kind, name = g.principal.split(":")
    member = (kind == "user" and name == user) or (kind == "role" and name in u.roles) or (
        kind == "department" and name == u.department)
    fold = str.casefold
    return (member and not u.disabled and not g.revoked and day <= g.expires(spec["agreements"]) and day <= a.end
            and fold(purpose) in {fold(p) for p in a.purposes} and (g.purpose is None or g.purpose == purpose))


def admits(g: GrantSpec, row: dict[str, Any], consent: set[str]) -> bool:
    if g.consent and row["person_id"] not in consent:
        return False
    return not g.offense_levels or row["offense_level"] in g.offense_levels


def allowed_levels(spec: dict[str, Any], user: str, purpose: str, day: dt.date,
                   row: dict[str, Any]) -> dict[str, Level]:
    """Each column's level on ``row``: the best valid grant admitting the row and covering the field."""
    consent = consenting(spec, day)
    out = dict.fromkeys(FIELDS, Level.none)
    for g in spec["grants"]:
        if not (valid(g, spec, user, purpose, day) and admits(g, row, consent)):
            continue
        a = spec["agreements"][g.agreement]
        level = min(g.level, cap(spec, g.agreement))
        for f in g.fields or a.fields or FIELDS:
            if a.fields is None or f in a.fields:
                out[f] = max(out[f], level)
    visible = max(out.values()) >= Level.deidentified
    key_identified = all(out[k] is Level.identified for k in RECORD_KEY)
    person_identified = any(out[d] is Level.identified for d in DIRECT)
    record = Level.identified if key_identified else Level.deidentified
    out.update({"_record_id": record if visible else Level.none,
                "_source": Level.deidentified if visible else Level.none,
                "_batch_id": Level.identified if visible and key_identified else Level.none,
                "_source_row": Level.identified if visible and key_identified else Level.none,
                "person_id": (Level.identified if person_identified else Level.deidentified) if visible
                else Level.none})
    if not key_identified:
        for k in RECORD_KEY:  # one record pseudonym, as _record_id
            out[k] = min(out[k], Level.aggregate)
    return out


def text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def expected(column: str, level: Level, raw: Any, user: str) -> str | None:
    """What a column shows at ``level`` (as text): the oracle for one cell."""
    if raw is None or level < Level.deidentified:
        return None
    if level is Level.identified:
        return text(raw)
    if column in PERSON_KEYS or column == "_record_id":
        return reference_pseudonym(grantee_key(SECRET, f"user:{user}"), column, str(raw))
    if column in EXPECTED_LABEL:
        return EXPECTED_LABEL[column](raw)
    if column in DIRECT or column in DROPPED_FREE_TEXT or column in ("_batch_id", "_source_row"):
        return None
    return text(raw)


# -- the property --------------------------------------------------------------------------------------------

counter = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(spec=scenarios())
def test_no_value_above_a_valid_grant_and_one_entry_per_read(spec, template, warehouse, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"leak{next(counter)}")
    shutil.copy(template, folder / "control.sqlite")
    db = open_control(str(folder / "control.sqlite"))
    try:
        build(db, folder, spec)
        for user, purpose, when in spec["reads"]:
            at = utcnow() + dt.timedelta(days=AT[when], seconds=1)
            check_one_read(db, warehouse, folder, spec, user, purpose, at)
    finally:
        db.close()


def check_one_read(db: Any, warehouse: Warehouse, folder: Path, spec: dict[str, Any], user: str, purpose: str,
                   at: dt.datetime) -> None:
    with db.session() as s:
        before = len(entries(s))
    levels = {r["_record_id"]: allowed_levels(spec, user, purpose, at.date(), r) for r in ROWS}
    # a row is visible when some field is readable on it; a record key readable only at deidentified is shown
    # as _record_id's pseudonym (its own field is left out), so _record_id's level says it
    visible = {rid for rid, lv in levels.items() if lv["_record_id"] >= Level.deidentified}
    may_read = user in USERS and any(
        valid(g, spec, user, purpose, at.date()) and min(g.level, cap(spec, g.agreement)) >= Level.deidentified
        for g in spec["grants"])
    try:
        result = read(warehouse, db, folder, user, "citation", purpose, at=at, standard=STANDARD,
                      generaliser=generaliser(), secret=SECRET)
    except AccessDenied as exc:
        assert not visible, (user, purpose, str(exc))
        assert not may_read or "nobody has one" in str(exc), str(exc)
        result = None
    with db.session() as s:
        new = entries(s)[before:]
    assert len(new) == 1, [e.action for e in new]
    assert new[0].actor == user and new[0].target == "citation"
    if result is None:
        assert new[0].action == "read.denied"
        return
    assert may_read and new[0].action == "read"
    assert json.loads(new[0].details)["row_count"] == result.row_count
    key = grantee_key(SECRET, f"user:{user}")
    by_pseudonym = {reference_pseudonym(key, "_record_id", rid): rid for rid in levels}
    got: dict[str, dict[str, Any]] = {}
    for row in result.table.to_pylist():
        rid = row["_record_id"] if row["_record_id"] in levels else by_pseudonym[row["_record_id"]]
        got[rid] = row
    assert set(got) == visible
    for rid, row in got.items():
        raw = next(r for r in ROWS if r["_record_id"] == rid)
        for column, level in levels[rid].items():
            shown = text(row.get(column))
            want = expected(column, level, raw[column], user)
            assert shown == want, (rid, column, level.value, shown, want)
