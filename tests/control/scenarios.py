"""Control-plane scenarios run on SQLite (tests/control) and on the real PostgreSQL (tests/integration)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from justicelab.control import ControlDB, ControlError, Level, NotPermitted, audit, open_control, valid_grants
from justicelab.control.access_requests import approve_request, decline_request, request_access
from justicelab.control.accounts import add_department, add_user, disable_user, enable_user, get_user
from justicelab.control.agreements import add_agreement
from justicelab.control.consent import consented_persons, has_consent, record_consent, revoke_consent
from justicelab.control.datasets import add_dataset
from justicelab.control.grants import add_grant, revoke_grant
from justicelab.control.periods import utcnow

TODAY = utcnow().date()
START = TODAY - dt.timedelta(days=400)
END = TODAY + dt.timedelta(days=400)


def agreement_body(**overrides: Any) -> dict[str, Any]:
    """A valid agreement between health and the sheriff, in force from 400 days ago to 400 days ahead."""
    body: dict[str, Any] = {
        "id": "dsa",
        "title": "Health and sheriff MDT agreement",
        "parties": ["health", "sheriff"],
        "purposes": ["MDT case review", "program evaluation"],
        "datasets": [
            {"dataset": "ed_visit", "fields": ["source_person_id", "last_name", "date_of_birth", "arrival_datetime",
                                               "chief_complaint", "substance_use_related"]},
            {"dataset": "booking", "maximum_level": "deidentified"},
        ],
        "maximum_level": "identified",
        "minimum_cell_size": 11,
        "retention": "7y",
        "onward_sharing": False,
        "legal_basis": "HIPAA 164.506; 42 CFR Part 2 with written consent",
        "start": START,
        "end": END,
    }
    body.update(overrides)
    return body


def write_agreement(folder: Path, name: str = "dsa", **overrides: Any) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(agreement_body(**overrides), sort_keys=False), encoding="utf-8")
    return path


def seed(db: ControlDB, folder: Path) -> None:
    """root (admin); health: alice (steward), bob (mdt_member), ann (analyst); sheriff: sam (steward);
    police: pat (steward), rita (researcher);
    datasets ed_visit (health) and booking (sheriff); agreement dsa."""
    with db.session() as s:
        root = add_user(s, None, "root", roles=["admin"])
        for code in ("health", "sheriff", "police"):
            add_department(s, root, code, code.title())
        add_user(s, root, "alice", roles=["steward"], departments=["health"])
        add_user(s, root, "bob", roles=["mdt_member"], departments=["health"])
        add_user(s, root, "ann", roles=["analyst"], departments=["health"])
        add_user(s, root, "sam", roles=["steward"], departments=["sheriff"])
        add_user(s, root, "pat", roles=["steward"], departments=["police"])
        add_user(s, root, "rita", roles=["researcher"], departments=["police"])
        add_dataset(s, root, "ed_visit", "health")
        add_dataset(s, get_user(s, "sam"), "booking", "sheriff")
        add_agreement(s, root, write_agreement(folder))  # it covers health's and the sheriff's data


def permission_rules(db: ControlDB) -> None:
    """Who may grant what: stewards of the owner only, never above the agreement's maximum or outside it."""
    with db.session() as s:
        ann, pat, alice, sam = (get_user(s, u) for u in ("ann", "pat", "alice", "sam"))
        common = {"dataset": "ed_visit", "principal": "role:mdt_member", "level": "deidentified", "agreement": "dsa"}
        with pytest.raises(NotPermitted, match="only a steward of health"):
            add_grant(s, ann, **common)
        with pytest.raises(NotPermitted, match="pat is a steward of police, but ed_visit is owned by health"):
            add_grant(s, pat, **common)
        with pytest.raises(NotPermitted, match="owned by health"):
            add_grant(s, sam, **common)
        with pytest.raises(ControlError, match=r"above agreement dsa's maximum for booking \(deidentified\)"):
            add_grant(s, sam, **{**common, "dataset": "booking", "level": "identified"})
        with pytest.raises(ControlError, match=r"does not cover ed_visit\.address"):
            add_grant(s, alice, **common, fields=["last_name", "address"])
        with pytest.raises(ControlError, match="not field"):
            add_grant(s, alice, **common, fields=["name"])
        with pytest.raises(ControlError, match="not among agreement dsa's purposes"):
            add_grant(s, alice, **common, purpose="marketing")
        with pytest.raises(ControlError, match="outside agreement dsa's term"):
            add_grant(s, alice, **common, expires=END + dt.timedelta(days=1))
        with pytest.raises(ControlError, match="gives nothing"):
            add_grant(s, alice, **{**common, "level": "none"})
        grant = add_grant(s, alice, **common, purpose="mdt CASE  review")
        assert grant.purpose == "MDT case review" and grant.expires == END


def grant_decisions(db: ControlDB) -> None:
    """valid_grants: users get grants directly, through roles and departments; the rest come with reasons."""
    with db.session() as s:
        alice, sam, root = get_user(s, "alice"), get_user(s, "sam"), get_user(s, "root")
        by_role = add_grant(s, alice, dataset="ed_visit", principal="role:mdt_member", level="deidentified",
                            agreement="dsa", expires=TODAY + dt.timedelta(days=30))
        by_user = add_grant(s, alice, dataset="ed_visit", principal="user:bob", level="identified",
                            agreement="dsa", fields=["last_name", "date_of_birth"], purpose="MDT case review",
                            row_rule="consent: {program: mdt, scope: part2}")
        by_dept = add_grant(s, sam, dataset="booking", principal="department:health", level="aggregate",
                            agreement="dsa")
        revoked = add_grant(s, alice, dataset="ed_visit", principal="department:health", level="aggregate",
                            agreement="dsa")
        revoke_grant(s, alice, revoked.id, "superseded")
        ids = {"role": by_role.id, "user": by_user.id, "dept": by_dept.id, "revoked": revoked.id}
        disable_user(s, root, "ann", "left")

    with db.session() as s:
        now = check = valid_grants(s, "bob", "ed_visit", "MDT case review")
        assert {g.id for g in check.applicable} == {ids["role"], ids["user"]}
        mine = next(g for g in check.applicable if g.id == ids["user"])
        assert mine.fields == ("last_name", "date_of_birth") and mine.level is Level.identified
        assert mine.row_rule is not None and mine.row_rule.consent is not None
        assert mine.row_rule.consent.scope == "part2" and mine.agreement.minimum_cell_size == 11
        via_role = next(g for g in check.applicable if g.id == ids["role"])
        assert via_role.principal == "role:mdt_member" and "address" not in via_role.fields
        assert [r.grant.id for r in check.refused] == [ids["revoked"]]
        assert "revoked on" in check.refused[0].reasons[0] and "superseded" in check.refused[0].reasons[0]

        other = valid_grants(s, "bob", "ed_visit", "program evaluation")
        assert [g.id for g in other.applicable] == [ids["role"]]
        refused = {r.grant.id: r.reasons for r in other.refused}
        assert "granted for 'MDT case review'" in refused[ids["user"]][0]

        later = valid_grants(s, "bob", "ed_visit", "MDT case review", now.at + dt.timedelta(days=31))
        refused = {r.grant.id: r.reasons for r in later.refused}
        assert refused[ids["role"]] == (f"expired on {TODAY + dt.timedelta(days=30)}",)
        after = valid_grants(s, "bob", "ed_visit", "MDT case review", now.at + dt.timedelta(days=401))
        assert not after.allowed and f"agreement dsa ended on {END}" in after.denial()

        wrong = valid_grants(s, "bob", "ed_visit", "marketing")
        assert not wrong.allowed and "purpose 'marketing' is not covered by agreement dsa" in wrong.denial()

        dept = valid_grants(s, "alice", "booking", "program evaluation")
        assert [g.id for g in dept.applicable] == [ids["dept"]]
        assert dept.applicable[0].agreement.max_level is Level.deidentified
        assert valid_grants(s, "sam", "ed_visit", "MDT case review").denial().startswith("no grant on ed_visit")
        gone = valid_grants(s, "ann", "booking", "program evaluation")
        assert not gone.allowed and gone.denial().startswith("user ann is disabled")
        with pytest.raises(NotPermitted, match="alice may not enable users"):
            enable_user(s, get_user(s, "alice"), "ann", "back")
        enable_user(s, get_user(s, "root"), "ann", "back from leave")
        assert valid_grants(s, "ann", "booking", "program evaluation").allowed  # her department's grant again
        with pytest.raises(ControlError, match="user ann is not disabled"):
            enable_user(s, get_user(s, "root"), "ann", "twice")


def request_workflow(db: ControlDB, folder: Path) -> None:
    """A user asks; a steward of the owner approves under the inferred agreement or declines with a reason."""
    with db.session() as s:
        bob, alice, sam = get_user(s, "bob"), get_user(s, "alice"), get_user(s, "sam")
        req = request_access(s, bob, dataset="ed_visit", level="identified", purpose="MDT case review",
                             fields=["last_name"])
        with pytest.raises(NotPermitted, match="owned by health"):
            approve_request(s, sam, req.id)
        _, grant = approve_request(s, alice, req.id)
        assert (grant.principal, grant.level, grant.fields, grant.agreement.code) == (
            "user:bob", "identified", ["last_name"], "dsa")
        with pytest.raises(ControlError, match="already approved"):
            decline_request(s, alice, req.id, "no")
        mine = request_access(s, alice, dataset="ed_visit", level="aggregate", purpose="program evaluation")
        with pytest.raises(NotPermitted, match="their own request"):
            approve_request(s, alice, mine.id)
        big = request_access(s, bob, dataset="booking", level="identified", purpose="MDT case review")
        with pytest.raises(ControlError, match="dsa allows at most deidentified"):
            approve_request(s, sam, big.id)
        declined = decline_request(s, sam, big.id, "identified bookings are not shared")
        assert declined.status == "declined"
        with pytest.raises(NotPermitted, match="covers data of sheriff"):  # health's steward, not the sheriff's
            add_agreement(s, alice, write_agreement(folder, "dua", id="dua", purposes=["MDT case review"]))
        add_agreement(s, get_user(s, "root"), write_agreement(folder, "dua", id="dua", purposes=["MDT case review"]))
        again = request_access(s, bob, dataset="ed_visit", level="deidentified", purpose="MDT case review")
        with pytest.raises(ControlError, match=r"several agreements fit request #\d+ \(dsa, dua\)"):
            approve_request(s, alice, again.id)
        assert approve_request(s, alice, again.id, agreement="dua")[1].agreement.code == "dua"
        # approving less than was asked: some of the fields, only the rows of consenting persons
        narrow = request_access(s, bob, dataset="ed_visit", level="identified", purpose="MDT case review",
                                fields=["last_name", "date_of_birth"])
        with pytest.raises(ControlError, match=r"did not ask for chief_complaint"):
            approve_request(s, alice, narrow.id, agreement="dsa", fields=["last_name", "chief_complaint"])
        _, narrowed = approve_request(s, alice, narrow.id, agreement="dsa", fields=["last_name"],
                                      row_rule="consent: {program: mdt, scope: part2}")
        assert narrowed.fields == ["last_name"] and narrowed.row_rule == {"consent": {"program": "mdt",
                                                                                      "scope": "part2"}}
        entry = audit.entries(s, action="request.approve")[-1].details_dict
        assert entry["fields"] == ["last_name"] and entry["row_rule"] == narrowed.row_rule


def consent_rules(db: ControlDB) -> None:
    """Current consent: recorded, not revoked, not expired; mdt members record it, researchers cannot."""
    with db.session() as s:
        bob, rita = get_user(s, "bob"), get_user(s, "rita")
        record_consent(s, bob, "PER-1", program="mdt", scope="part2", expires=TODAY + dt.timedelta(days=10))
        record_consent(s, bob, "PER-2", program="mdt", scope="part2")
        record_consent(s, bob, "PER-3", program="mdt", scope="hipaa")
        with pytest.raises(NotPermitted, match="needs one of the roles"):
            record_consent(s, rita, "PER-4", program="mdt", scope="part2")
        with pytest.raises(ControlError, match="expected a legal class"):
            record_consent(s, bob, "PER-4", program="mdt", scope="everything")
    with db.session() as s:
        now = utcnow()
        assert consented_persons(s, "mdt", "part2") == {"PER-1", "PER-2"}
        assert consented_persons(s, "mdt", "part2", now + dt.timedelta(days=11)) == {"PER-2"}
        assert consented_persons(s, "mdt", "part2", now - dt.timedelta(days=1)) == frozenset()
        revoke_consent(s, get_user(s, "bob"), "PER-2", program="mdt", reason="withdrew")
    with db.session() as s:
        assert consented_persons(s, "mdt", "part2") == {"PER-1"}
        assert not has_consent(s, "PER-2", "mdt", "part2") and has_consent(s, "PER-3", "mdt", "hipaa")


def ledger_records_everything(db: ControlDB) -> None:
    """Every change above left its entry; the chain verifies; failed changes left none."""
    with db.session() as s:
        actions = [e.action for e in audit.entries(s)]
        verdict = audit.verify(s)
    assert verdict.ok and verdict.count == len(actions)
    for expected in ("user.add", "department.add", "dataset.add", "agreement.add", "grant.add", "grant.revoke",
                     "user.disable", "request.add", "request.approve", "request.decline", "consent.record",
                     "consent.revoke"):
        assert expected in actions, expected


def ledger_is_append_only(db: ControlDB) -> None:
    """The database itself refuses UPDATE and DELETE of ledger rows and rewinding its head."""
    from sqlalchemy.exc import DBAPIError

    for sql in ("UPDATE audit_ledger SET actor = 'mallory' WHERE seq = 1", "DELETE FROM audit_ledger WHERE seq = 1",
                "DELETE FROM audit_ledger", "UPDATE audit_head SET seq = seq - 1, hash = 'x'",
                "DELETE FROM audit_head"):
        with pytest.raises(DBAPIError, match=r"append-only|only moves forward"), db.engine.begin() as conn:
            conn.execute(text(sql))
    with db.session() as s:
        assert audit.verify(s).ok


def _append(url: str, who: str, n: int, go: Any) -> None:
    db = open_control(url)
    go.wait(30)
    for i in range(n):
        with db.session() as s:
            audit.record(s, who, "test.append", f"item:{i}", {"i": i})
    db.close()


def concurrent_appends(url: str, n: int = 30) -> None:
    """Two processes appending at once: every entry lands, numbered without gaps, in one unforked chain."""
    db = open_control(url)
    with db.session() as s:
        before = audit.head(s)[0]
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_append, args=(url, who, n, go)) for who in ("p1", "p2")]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with db.session() as s:
        verdict = audit.verify(s)
        mine = audit.entries(s, action="test.append")
    db.close()
    assert verdict.ok and verdict.count == before + 2 * n
    assert sorted(e.actor or "" for e in mine) == ["p1"] * n + ["p2"] * n
