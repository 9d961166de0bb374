"""``justicelab login`` / ``logout`` and a workspace that requires a login: the command line acts only as a user
who proved it with their password (or holds a token), never on ``--as`` alone."""

from __future__ import annotations

import json
import stat

import pytest

from justicelab.control import AuthenticationError, ControlError
from justicelab.workspace import Workspace
from tests.cli.test_cli import run
from tests.control.test_cli_walkthrough import ALICE_PW, bootstrap, runner_input


@pytest.fixture
def locked_down(tmp_path, monkeypatch):
    root = bootstrap(tmp_path, monkeypatch)  # acting as root through JUSTICELAB_USER until now
    sessions = tmp_path / "config" / "sessions.json"
    monkeypatch.setenv("JUSTICELAB_SESSIONS", str(sessions))
    ws = Workspace.load(root)
    ws.config.require_login = True
    ws.save()
    monkeypatch.delenv("JUSTICELAB_USER")
    return sessions


def test_a_workspace_that_requires_a_login_refuses_as_alone(locked_down):
    assert "require_login = true" in (locked_down.parent.parent / "city" / "justicelab.toml").read_text()
    with pytest.raises(AuthenticationError, match=r"requires a login: run `justicelab login alice`"):
        run("grant", "list", "--as", "alice", ok=False)
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        runner_input(["login", "alice", "--password-stdin"], "not her password\n")
    logged = runner_input(["login", "alice", "--password-stdin"], f"{ALICE_PW}\n")
    assert "Logged in as alice until" in logged.stdout
    assert stat.S_IMODE(locked_down.stat().st_mode) == 0o600
    token = json.loads(locked_down.read_text())[str(locked_down.parent.parent.joinpath("city").resolve())]["alice"]
    assert token.startswith("jlt_") and token not in logged.stdout + logged.stderr
    assert run("request", "list", "--as", "alice").exit_code == 0  # her session
    assert run("grant", "list").exit_code == 0  # the only session: no --as needed
    with pytest.raises(AuthenticationError, match="requires a login: run `justicelab login bob`"):
        run("grant", "list", "--as", "bob", ok=False)  # naming another user is not enough
    runner_input(["login", "bob", "--password-stdin"], "bob password 12\n")
    with pytest.raises(AuthenticationError, match=r"several users are logged in here \(alice, bob\)"):
        run("grant", "list", ok=False)
    assert "Logged out alice" in run("logout", "alice").stdout
    with pytest.raises(AuthenticationError, match="requires a login"):
        run("grant", "list", "--as", "alice", ok=False)
    with pytest.raises(ControlError, match="alice is not logged in here"):
        run("logout", "alice", ok=False)
    assert next(iter(json.loads(locked_down.read_text()).values())).keys() == {"bob"}


def test_the_token_of_a_session_is_revoked_at_logout(locked_down, monkeypatch):
    runner_input(["login", "alice", "--password-stdin"], f"{ALICE_PW}\n")
    token = next(iter(json.loads(locked_down.read_text()).values()))["alice"]
    run("logout")
    monkeypatch.setenv("JUSTICELAB_TOKEN", token)
    with pytest.raises(AuthenticationError, match="was revoked on"):
        run("grant", "list", ok=False)
