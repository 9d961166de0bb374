"""The audit ledger: any single edit, deletion, swap or insertion breaks the chain where it happened, and
`audit verify` names that entry; the database refuses changes; logins and tokens leave entries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from justicelab.control import AuthenticationError, audit, verify_token
from justicelab.control.accounts import (
    MAX_FAILURES,
    authenticate,
    create_token,
    get_user,
    revoke_token,
    set_password,
)
from justicelab.control.chain import GENESIS, Entry, make_entry, verify_chain
from justicelab.control.models import AuditEntry
from tests.cli.test_cli import run
from tests.control.test_cli_walkthrough import bootstrap

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FIELDS = ("seq", "at", "actor", "action", "target", "details", "prev_hash", "hash")


def chain(n: int) -> list[Entry]:
    out: list[Entry] = []
    prev = GENESIS
    for i in range(1, n + 1):
        e = make_entry(i, T0 + dt.timedelta(seconds=i), f"user{i % 3}", "read", f"dataset{i % 2}",
                       {"row_count": i, "fields": ["a", "b"][: i % 3]}, prev)
        out.append(e)
        prev = e.hash
    return out


def _changed(value, data):
    if isinstance(value, int):
        return value + data.draw(st.integers(1, 5)) * data.draw(st.sampled_from([1, -1]))
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(microseconds=data.draw(st.integers(1, 10**9)))
    new = data.draw(st.text(min_size=1, max_size=20))
    return new if new != value else value + "x"


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10), data=st.data())
def test_any_single_tampering_is_detected_at_the_entry_where_it_happened(n, data):
    entries = chain(n)
    head = (n, entries[-1].hash)
    assert verify_chain(entries, head).ok
    kind = data.draw(st.sampled_from(["edit", "delete", "swap", "insert"] if n > 1 else ["edit", "delete", "insert"]))
    i = data.draw(st.integers(0, n - 1))
    tampered = list(entries)
    if kind == "edit":
        field = data.draw(st.sampled_from(FIELDS))
        tampered[i] = dataclasses.replace(entries[i], **{field: _changed(getattr(entries[i], field), data)})
    elif kind == "delete":
        del tampered[i]
    elif kind == "swap":
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        tampered[i], tampered[j] = tampered[j], tampered[i]
        i = min(i, j)
    else:
        i = data.draw(st.integers(0, n))
        prev = entries[i - 1].hash if i else GENESIS
        forged = make_entry(i + 1, T0, "mallory", "grant.add", "grant:99", {"level": "identified"}, prev)
        tampered.insert(i, forged)
        # a well-forged entry looks genuine by itself: the chain breaks at the genuine entry it displaced
        i += 1 if i < n else 0
    verdict = verify_chain(tampered, head)
    assert not verdict.ok
    assert verdict.broken_seq == i + 1, verdict.problem


def test_anchors_catch_a_rewritten_tail():
    entries = chain(5)
    noted = {3: entries[2].hash}
    rewritten = entries[:2]
    prev = entries[1].hash
    for k in range(3, 6):
        e = make_entry(k, T0, "mallory", "read", "x", {}, prev)
        rewritten.append(e)
        prev = e.hash
    assert verify_chain(rewritten, (5, prev)).ok  # a consistent rewrite fools the chain alone...
    verdict = verify_chain(rewritten, (5, prev), noted)  # ...not a hash noted earlier
    assert not verdict.ok and verdict.broken_seq == 3 and "noted for it earlier" in (verdict.problem or "")


@pytest.fixture(scope="module")
def workspace_template(tmp_path_factory):
    """One bootstrapped workspace (a dozen ledger entries), copied by each tampering test."""
    folder = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        bootstrap(folder, mp)
    return folder / "city"


def _tamper(path, *statements):
    con = sqlite3.connect(path)
    for trigger in ("audit_ledger_no_update", "audit_ledger_no_delete", "audit_head_forward_only"):
        con.execute(f"DROP TRIGGER {trigger}")
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()


@pytest.mark.parametrize(("statements", "problem"), [
    (["UPDATE audit_ledger SET details = '{\"level\":\"identified\"}' WHERE seq = 4"], "entry #4 was edited"),
    (["DELETE FROM audit_ledger WHERE seq = 4"], "entry #4 is missing: deleted"),
    (["DELETE FROM audit_ledger WHERE seq = (SELECT max(seq) FROM audit_ledger)"], "deleted from the end"),
    (["UPDATE audit_ledger SET seq = -seq WHERE seq IN (4, 5)", "UPDATE audit_ledger SET seq = 5 WHERE seq = -4",
      "UPDATE audit_ledger SET seq = 4 WHERE seq = -5"], "entry #4 was edited"),
])
def test_audit_verify_names_the_first_broken_entry_in_sqlite(workspace_template, tmp_path, monkeypatch, statements,
                                                            problem):
    shutil.copytree(workspace_template, tmp_path / "city")
    monkeypatch.chdir(tmp_path / "city")
    intact = run("audit", "verify")
    assert "Ledger intact" in intact.stdout
    _tamper(tmp_path / "city" / "control.sqlite", *statements)
    broken = run("audit", "verify", ok=False)
    assert broken.exit_code == 1 and problem in broken.stderr.replace("\n", " ")


def test_logins_are_recorded_and_rate_limited(seeded):
    with seeded.session() as s:
        set_password(s, get_user(s, "bob"), "bob", "correct horse battery")
    now = dt.datetime.now(dt.UTC)
    with seeded.session() as s:
        assert authenticate(s, "bob", "correct horse battery", now).username == "bob"
    for k in range(MAX_FAILURES):
        with seeded.session() as s, pytest.raises(AuthenticationError, match="wrong user name or password"):
            authenticate(s, "bob", f"guess {k}", now + dt.timedelta(seconds=k))
    with seeded.session() as s, pytest.raises(AuthenticationError, match="too many failed logins for bob"):
        authenticate(s, "bob", "correct horse battery", now + dt.timedelta(minutes=1))
    with seeded.session() as s:
        assert authenticate(s, "bob", "correct horse battery", now + dt.timedelta(minutes=16)).username == "bob"
        logins = [e.action for e in audit.entries(s, actor="bob", action="login")]
        assert logins == ["login"] + ["login.failed"] * MAX_FAILURES + ["login.locked", "login"]
        assert audit.verify(s).ok


def test_tokens_expire_and_revoke_with_reasons_in_the_ledger(seeded):
    with seeded.session() as s:
        bob = get_user(s, "bob")
        row, token = create_token(s, bob, "bob", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        assert token not in row.secret_hash and row.token_id in token
    with seeded.session() as s:
        assert verify_token(s, token).username == "bob"
    with seeded.session() as s, pytest.raises(AuthenticationError, match="expired on"):
        verify_token(s, token, dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    with seeded.session() as s:
        revoke_token(s, get_user(s, "bob"), row.token_id)
    with seeded.session() as s, pytest.raises(AuthenticationError, match="was revoked"):
        verify_token(s, token)
    with seeded.session() as s, pytest.raises(AuthenticationError, match="not valid"):
        verify_token(s, token[:-2] + "xx")
    with seeded.session() as s:
        failed = [e.details_dict["reason"] for e in audit.entries(s, action="login.failed")]
        assert failed == [f"token {row.token_id} expired", f"token {row.token_id} revoked",
                          f"unknown token {row.token_id}"]
        assert all(token not in e.details for e in audit.entries(s))


def test_refused_tokens_do_not_count_towards_the_password_lockout(seeded):
    with seeded.session() as s:
        set_password(s, get_user(s, "bob"), "bob", "correct horse battery")
        row, token = create_token(s, get_user(s, "bob"), "bob", None)
        revoke_token(s, get_user(s, "bob"), row.token_id)
    for _ in range(MAX_FAILURES + 2):  # a script still using the revoked token
        with seeded.session() as s, pytest.raises(AuthenticationError, match="was revoked"):
            verify_token(s, token)
    for k in range(MAX_FAILURES - 1):
        with seeded.session() as s, pytest.raises(AuthenticationError, match="wrong user name or password"):
            authenticate(s, "bob", f"guess {k}")
    with seeded.session() as s:
        assert authenticate(s, "bob", "correct horse battery").username == "bob"


def test_changing_your_own_password_needs_the_current_one_and_respects_the_lockout(seeded):
    with seeded.session() as s:
        set_password(s, get_user(s, "bob"), "bob", "correct horse battery")  # no password yet: none to give
    with seeded.session() as s, pytest.raises(AuthenticationError, match="needs the current one"):
        set_password(s, get_user(s, "bob"), "bob", "a new password 1")
    with seeded.session() as s, pytest.raises(AuthenticationError, match="wrong user name or password"):
        set_password(s, get_user(s, "bob"), "bob", "a new password 1", current="not it at all")
    for k in range(MAX_FAILURES):
        with seeded.session() as s, pytest.raises(AuthenticationError):
            authenticate(s, "bob", f"guess {k}")
    with seeded.session() as s, pytest.raises(AuthenticationError, match="too many failed logins"):
        set_password(s, get_user(s, "bob"), "bob", "a new password 1", current="correct horse battery")
    with seeded.session() as s:  # an admin may still reset it
        set_password(s, get_user(s, "root"), "bob", "reset by root 1")
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.password")) == 2


def test_a_token_used_again_within_its_session_is_one_login(seeded):
    with seeded.session() as s:
        _, token = create_token(s, get_user(s, "bob"), "bob", None)
    start = dt.datetime.now(dt.UTC)
    for minutes in (0, 3, 9, 25, 26):  # 0-9: one session; 25 after 16 idle minutes: a new one
        with seeded.session() as s:
            verify_token(s, token, start + dt.timedelta(minutes=minutes))
    with seeded.session() as s:
        assert [e.at.minute for e in audit.entries(s, actor="bob", action="login")] == [
            (start + dt.timedelta(minutes=m)).minute for m in (0, 25)]
