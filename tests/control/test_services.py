"""The control plane's rules on SQLite (the same scenarios run on PostgreSQL in tests/integration)."""

from __future__ import annotations

import pytest

from justicelab.control import ControlError, NotPermitted, open_control
from justicelab.control.accounts import add_user
from tests.control import scenarios


def test_the_first_user_must_be_an_admin_and_later_ones_need_an_acting_admin(db):
    with db.session() as s, pytest.raises(ControlError, match="the first user must be an admin"):
        add_user(s, None, "ann", roles=["analyst"], departments=["health"])
    with db.session() as s:
        add_user(s, None, "root", roles=["admin"])
    with db.session() as s, pytest.raises(NotPermitted, match="needs an acting admin"):
        add_user(s, None, "eve", roles=["admin"])


def test_only_stewards_of_the_owner_grant_and_only_within_the_agreement(seeded):
    scenarios.permission_rules(seeded)


def test_valid_grants_by_user_role_and_department_and_why_others_do_not_apply(seeded):
    scenarios.grant_decisions(seeded)


def test_access_request_workflow(seeded, tmp_path):
    scenarios.request_workflow(seeded, tmp_path)


def test_consent_is_current_until_revoked_or_expired(seeded):
    scenarios.consent_rules(seeded)


def test_every_change_is_in_the_ledger_and_the_chain_holds(seeded, tmp_path):
    scenarios.grant_decisions(seeded)
    scenarios.request_workflow(seeded, tmp_path)
    scenarios.consent_rules(seeded)
    scenarios.ledger_records_everything(seeded)


def test_sqlite_refuses_to_update_or_delete_the_ledger(seeded):
    scenarios.ledger_is_append_only(seeded)


def test_two_processes_appending_never_fork_the_chain(seeded, tmp_path):
    scenarios.concurrent_appends(str(tmp_path / "control.sqlite"))


def test_a_control_url_of_an_unsupported_database_is_refused_not_made_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ControlError, match="the mysql scheme is not supported"):
        open_control("mysql://x/y", tmp_path)
    assert list(tmp_path.iterdir()) == []
