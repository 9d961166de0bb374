"""``justicelab access check`` and ``justicelab read`` as a user drives them, on a workspace holding the sample
citations: field by field explanations, CSV/JSON reads, files, denials with exit status 3, tokens."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from justicelab.control import AuthenticationError, ControlError, NotPermitted, open_workspace_control
from justicelab.control.accounts import create_token, disable_user, get_user, revoke_token
from justicelab.control.periods import utcnow
from justicelab.errors import AccessDenied
from justicelab.workspace import Workspace
from tests.cli.test_cli import run
from tests.gate.access import citation_workspace
from tests.gate.sample import ROWS


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    return citation_workspace(tmp_path, monkeypatch)


@pytest.mark.parametrize("command", [["access", "check"], ["read"]])
def test_help_has_an_example(command):
    assert "Example" in run(*command, "--help").stdout


def test_access_check_explains_each_field_on_each_row_region(workspace):
    out = json.loads(run("access", "check", "bob", "citation", "--as", "bob", "--format", "json").stdout)
    (mdt,) = out  # bob's grants name one purpose
    assert mdt["purpose"] == "MDT case review" and mdt["denial"] is None and mdt["min_cell_size"] == 11
    regions = {c["rows"] for c in mdt["columns"]}
    assert len(regions) == 2 and any(r.startswith("NOT ") for r in regions)
    by = {(c["rows"].startswith("NOT "), c["field"]): c for c in mdt["columns"]}
    assert by[(False, "last_name")]["level"] == "identified" and "grant #2 (user:bob" in by[(False, "last_name")]["why"]
    assert by[(True, "last_name")]["shown_as"] == "drop" and "direct identifier" in by[(True, "last_name")]["why"]
    assert by[(True, "date_of_birth")]["shown_as"] == "generalise to year"
    assert by[(True, "person_id")]["shown_as"] == "pseudonymise"
    table = run("access", "check", "bob", "citation", "--purpose", "MDT case review", "--as", "pat").stdout
    assert "current mdt consent covering cori" in table and "Row restrictions" in table
    refused = run("access", "check", "rita", "citation", "--as", "root").stdout
    assert "no grant on citation for rita" in refused
    with pytest.raises(NotPermitted, match="rita may not check bob's access"):
        run("access", "check", "bob", "citation", "--as", "rita", ok=False)


def test_read_csv_json_and_file(workspace):
    out = run("read", "citation", "--as", "bob", "--purpose", "MDT case review", "--format", "csv").stdout
    rows = list(csv.DictReader(out.splitlines()))
    assert len(rows) == len(ROWS)
    named = sorted(r["last_name"] for r in rows if r["last_name"])
    assert named == ["O'BRIEN", "O'BRIEN"]  # only the consenting person
    assert {r["agency_code"] for r in rows} == {"sacramento", "yolo", "placer"}
    limited = json.loads(run("read", "citation", "--as", "bob", "--purpose", "MDT case review", "--limit", "2",
                             "--fields", "sex,offense_level", "--format", "json").stdout)
    assert len(limited) == 2 and set(limited[0]) == {"sex", "offense_level"}
    run("read", "citation", "--as", "bob", "--purpose", "mdt case review", "--out", "extract.csv")
    assert len(list(csv.DictReader(Path("extract.csv").read_text(encoding="utf-8").splitlines()))) == len(ROWS)
    reads = json.loads(run("audit", "list", "--action", "read", "--as", "root", "--format", "json").stdout)
    assert len(reads) == 3 and {r["actor"] for r in reads} == {"bob"}


def test_a_denial_exits_3_with_the_reason_and_is_recorded(workspace):
    with pytest.raises(AccessDenied, match="purpose 'marketing' is not covered"):
        run("read", "citation", "--as", "bob", "--purpose", "marketing", ok=False)
    result = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "read", "citation",
                             "--as", "rita", "--purpose", "research"], capture_output=True, text=True, cwd=workspace)
    assert result.returncode == 3 and result.stdout == ""
    assert "rita may not read rows of citation for purpose 'research': no grant on citation for rita" in result.stderr
    denials = json.loads(run("audit", "list", "--action", "read.denied", "--as", "root", "--format", "json").stdout)
    assert [d["actor"] for d in denials] == ["bob", "rita"]


def test_expired_or_revoked_tokens_cannot_read(workspace, monkeypatch):
    db = open_workspace_control(Workspace.load(workspace))
    with db.session() as s:
        bob = get_user(s, "bob")
        row, token = create_token(s, bob, "bob", utcnow() + dt.timedelta(days=1))
        _, other = create_token(s, bob, "bob", None)
        token_id = row.token_id
    monkeypatch.setenv("JUSTICELAB_TOKEN", token)
    assert run("read", "citation", "--purpose", "MDT case review", "--format", "csv").stdout.count("\n") == 11
    later = utcnow() + dt.timedelta(days=2)
    with monkeypatch.context() as clock, pytest.raises(AuthenticationError, match=f"token {token_id} expired on"):
        clock.setattr("justicelab.control.accounts.utcnow", lambda: later)  # two days on
        run("read", "citation", "--purpose", "MDT case review", ok=False)
    with db.session() as s:
        revoke_token(s, get_user(s, "bob"), other.split("_")[1])
    db.close()
    monkeypatch.setenv("JUSTICELAB_TOKEN", other)
    with pytest.raises(AuthenticationError, match="was revoked on"):
        run("read", "citation", "--purpose", "MDT case review", ok=False)
    monkeypatch.delenv("JUSTICELAB_TOKEN")
    failed = json.loads(run("audit", "list", "--action", "login.failed", "--as", "root", "--format", "json").stdout)
    assert [f["details"]["reason"] for f in failed] == [f"token {token_id} expired",
                                                        f"token {other.split('_')[1]} revoked"]


def test_an_unknown_or_disabled_reader_is_refused_and_recorded(workspace):
    db = open_workspace_control(Workspace.load(workspace))
    with db.session() as s:
        disable_user(s, get_user(s, "root"), "ray", "left the unit")
    db.close()
    with pytest.raises(AuthenticationError, match="no user 'ghost'"):
        run("read", "citation", "--as", "ghost", "--purpose", "research", ok=False)
    with pytest.raises(AuthenticationError, match="user ray is disabled"):
        run("read", "citation", "--as", "ray", "--purpose", "research", ok=False)
    failed = json.loads(run("audit", "list", "--action", "login.failed", "--as", "root", "--format", "json").stdout)
    assert [(f["actor"], f["details"]["reason"]) for f in failed] == [("ghost", "unknown user"),
                                                                      ("ray", "user disabled")]


def test_a_consent_must_name_a_person_of_the_index(workspace):
    with pytest.raises(ControlError, match="no person 'PERSON_ID' in the person index"):
        run("consent", "record", "PERSON_ID", "--program", "mdt", "--scope", "cori", "--as", "pat", ok=False)
    assert "Recorded consent" in run("consent", "record", "P000001", "--program", "mdt", "--scope", "cori",
                                     "--as", "pat").stdout


def test_access_check_names_a_grant_whose_rule_admits_nobody_now(workspace):
    run("consent", "revoke", "P000002", "--program", "mdt", "--as", "pat")
    table = " ".join(run("access", "check", "bob", "citation", "--purpose", "MDT case review", "--as", "pat")
                     .stdout.split())
    assert "gives no rows now: grant #2 gives rows only of persons with a current mdt consent covering cori, " \
           "and nobody has one" in table
