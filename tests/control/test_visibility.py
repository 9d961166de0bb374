"""Listing control-plane records: departments see their own consents, requests, tokens and ledger entries."""

from __future__ import annotations

import datetime as dt

import pytest

from justicelab.control import NotPermitted, audit
from justicelab.control.access_requests import list_requests, request_access
from justicelab.control.accounts import create_token, get_user, list_tokens
from justicelab.control.consent import list_consents, record_consent, revoke_consent
from justicelab.control.grants import add_grant
from justicelab.control.visibility import visible_consents, visible_entries, visible_requests, visible_tokens


def test_a_part2_consent_is_seen_by_the_department_that_recorded_it_and_admins_only(seeded):
    with seeded.session() as s:
        record_consent(s, get_user(s, "bob"), "PER-1", program="mdt", scope="part2",
                       expires=dt.date.today() + dt.timedelta(days=30))
    with seeded.session() as s:
        every = list_consents(s)
        assert [c.person_id for c in visible_consents(s, get_user(s, "alice"), every)] == ["PER-1"]  # bob's colleague
        assert [c.person_id for c in visible_consents(s, get_user(s, "root"), every)] == ["PER-1"]
        assert visible_consents(s, get_user(s, "pat"), every) == []  # a police steward
        with pytest.raises(NotPermitted, match="rita may not list consent records"):
            visible_consents(s, get_user(s, "rita"), every)


def test_only_the_departments_sharing_records_of_a_class_record_or_revoke_consent_to_it(seeded):
    with seeded.session() as s:
        with pytest.raises(NotPermitted, match="pat may not record consent covering part2: only members of a "
                                               "department that shares part2 records"):
            record_consent(s, get_user(s, "pat"), "PER-1", program="mdt", scope="part2")
        record_consent(s, get_user(s, "alice"), "PER-1", program="mdt", scope="part2")
    with seeded.session() as s:  # health's MDT member sees a consent health's steward recorded
        assert [c.recorded_by for c in visible_consents(s, get_user(s, "bob"), list_consents(s))] == ["alice"]
        for person in ("PER-1", "PER-2"):  # whether a person consented is not revealed by the refusal
            with pytest.raises(NotPermitted, match="pat may not revoke consent covering part2"):
                revoke_consent(s, get_user(s, "pat"), person, program="mdt", scope="part2")
        with pytest.raises(NotPermitted, match="share no records a consent covers"):
            revoke_consent(s, get_user(s, "pat"), "PER-1", program="mdt")  # police owns no dataset here
        assert revoke_consent(s, get_user(s, "bob"), "PER-1", program="mdt")[0].revoked_by == "bob"


def test_requests_are_seen_by_their_requester_and_the_owning_stewards(seeded):
    with seeded.session() as s:
        request_access(s, get_user(s, "bob"), dataset="ed_visit", level="deidentified", purpose="MDT case review")
        request_access(s, get_user(s, "rita"), dataset="booking", level="deidentified", purpose="MDT case review")
    with seeded.session() as s:
        every = list_requests(s)

        def seen(user: str) -> list[str]:
            mine = visible_requests(get_user(s, user), every)
            return sorted(f"{r.requester.username}:{r.dataset.name}" for r in mine)
        assert seen("bob") == ["bob:ed_visit"]
        assert seen("alice") == ["bob:ed_visit"]  # health's steward: requests on ed_visit
        assert seen("sam") == ["rita:booking"]
        assert seen("pat") == []
        assert seen("root") == ["bob:ed_visit", "rita:booking"]


def test_tokens_are_seen_by_their_owner_and_admins(seeded):
    with seeded.session() as s:
        create_token(s, get_user(s, "bob"), "bob", None)
        create_token(s, get_user(s, "alice"), "alice", None)
    with seeded.session() as s:
        every = list_tokens(s)
        assert [t.user.username for t in visible_tokens(get_user(s, "bob"), every)] == ["bob"]
        assert len(visible_tokens(get_user(s, "root"), every)) == 2


def test_a_steward_reads_only_the_ledger_entries_of_their_department(seeded):
    with seeded.session() as s:
        record_consent(s, get_user(s, "bob"), "PER-1", program="mdt", scope="part2")
        add_grant(s, get_user(s, "sam"), dataset="booking", principal="user:rita", level="deidentified",
                  agreement="dsa")
    with seeded.session() as s:
        every = audit.entries(s)

        def actions(user: str) -> set[str]:
            return {e.action for e in visible_entries(s, get_user(s, user), every)}
        assert "consent.record" in actions("alice") and "consent.record" not in actions("sam")
        assert "grant.add" in actions("sam") and "grant.add" not in actions("alice")
        assert "grant.add" in actions("pat")  # the grant is to rita, one of police's members
        assert len(visible_entries(s, get_user(s, "root"), every)) == len(every)
        with pytest.raises(NotPermitted, match="bob may not read the audit ledger"):
            visible_entries(s, get_user(s, "bob"), every)
