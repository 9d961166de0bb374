"""The HTTP API as a client uses it: password login (rate-limited) for a token, reads through the gate with it,
denials with their reasons, expired and revoked tokens, and one ledger entry per read. One test runs the real
server (uvicorn) and talks to it with a real HTTP client."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from justicelab.control import audit, open_workspace_control
from justicelab.control.accounts import MAX_FAILURES, create_token, get_user, set_password
from justicelab.control.periods import utcnow
from justicelab.web import create_app
from justicelab.workspace import Workspace
from tests.gate.access import citation_workspace
from tests.gate.sample import ROWS

BOB_PW, RITA_PW = "bob's long password", "rita's long password"
PURPOSE = {"purpose": "MDT case review"}


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    root = citation_workspace(tmp_path, monkeypatch)
    db = open_workspace_control(Workspace.load(root))
    with db.session() as s:
        for name, password in (("bob", BOB_PW), ("rita", RITA_PW)):
            set_password(s, get_user(s, "root"), name, password)
    db.close()
    return root


@pytest.fixture
def client(workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace)) as c:
        yield c


def ledger(workspace: Path, action: str) -> list[audit.Entry]:
    db = open_workspace_control(Workspace.load(workspace))
    try:
        with db.session() as s:
            return audit.entries(s, action=action)
    finally:
        db.close()


def token_for(client: TestClient, user: str = "bob", password: str = BOB_PW) -> dict[str, str]:
    answer = client.post("/api/v1/login", json={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_a_login_gives_a_token_that_reads_through_the_gate(client, workspace):
    auth = token_for(client)
    assert client.get("/api/v1/whoami", headers=auth).json()["user"] == "bob"
    answer = client.get("/api/v1/datasets/citation/rows", params={**PURPOSE, "format": "csv"}, headers=auth)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(answer.text.splitlines()))
    assert len(rows) == len(ROWS) == int(answer.headers["X-Row-Count"])
    assert sorted(r["last_name"] for r in rows if r["last_name"]) == ["O'BRIEN", "O'BRIEN"]  # consent rows only
    body = client.get("/api/v1/datasets/citation/rows", params={**PURPOSE, "fields": "sex,citation_date",
                                                                 "limit": 3}, headers=auth).json()
    assert body["row_count"] == 3 and set(body["rows"][0]) == {"sex", "citation_date"}
    assert body["levels"] == {"sex": "deidentified", "citation_date": "identified"}
    reads = ledger(workspace, "read")
    assert [(e.actor, e.action) for e in reads] == [("bob", "read"), ("bob", "read")]  # one entry per read
    assert reads[-1].seq == body["audit_entry"]


def test_access_is_explained_for_the_caller_only(client):
    auth = token_for(client)
    report = client.get("/api/v1/datasets/citation/access", params=PURPOSE, headers=auth).json()
    shown = {(c["field"], c["level"]) for part in report for c in part["columns"]}
    assert ("last_name", "identified") in shown and ("date_of_birth", "identified") not in shown


def test_a_denial_is_403_with_its_reason_and_recorded(client, workspace):
    rita = token_for(client, "rita", RITA_PW)
    answer = client.get("/api/v1/datasets/citation/rows", params={"purpose": "research"}, headers=rita)
    assert answer.status_code == 403
    assert "rita may not read rows of citation for purpose 'research': no grant on citation for rita" in \
        answer.json()["detail"]
    bob = token_for(client)
    wrong = client.get("/api/v1/datasets/citation/rows", params={"purpose": "marketing"}, headers=bob)
    assert wrong.status_code == 403 and "purpose 'marketing' is not covered" in wrong.json()["detail"]
    assert [e.actor for e in ledger(workspace, "read.denied")] == ["rita", "bob"]
    unknown = client.get("/api/v1/datasets/nothing/rows", params=PURPOSE, headers=bob)
    assert unknown.status_code == 404
    for limit in (-1, 2**63):
        assert client.get("/api/v1/datasets/citation/rows", params={**PURPOSE, "limit": limit},
                          headers=bob).status_code == 422


def test_no_wrong_expired_or_revoked_token_reads(client, workspace):
    assert client.get("/api/v1/datasets/citation/rows", params=PURPOSE).status_code == 401
    bad = client.get("/api/v1/datasets/citation/rows", params=PURPOSE, headers={"Authorization": "Bearer jlt_x_y"})
    assert bad.status_code == 401 and bad.json()["detail"] == "the API token is not valid"
    db = open_workspace_control(Workspace.load(workspace))
    with db.session() as s:
        row, token = create_token(s, get_user(s, "bob"), "bob", utcnow() + dt.timedelta(seconds=1))
    db.close()
    time.sleep(1.2)
    expired = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and f"token {row.token_id} expired" in expired.json()["detail"]
    auth = token_for(client)
    assert client.post("/api/v1/logout", headers=auth).status_code == 200
    revoked = client.get("/api/v1/whoami", headers=auth)
    assert revoked.status_code == 401 and "was revoked" in revoked.json()["detail"]
    assert not ledger(workspace, "read")  # nothing was read


def test_password_logins_are_rate_limited(client, workspace):
    for k in range(MAX_FAILURES):
        wrong = client.post("/api/v1/login", json={"username": "bob", "password": f"guess {k}"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong user name or password"
    locked = client.post("/api/v1/login", json={"username": "bob", "password": BOB_PW})
    assert locked.status_code == 429 and "too many failed logins for bob" in locked.json()["detail"]
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert client.post("/api/v1/login", json={"username": "rita", "password": RITA_PW}).status_code == 200
    assert client.post("/api/v1/login", json={"username": "bob", "password": BOB_PW, "hours": 48}).status_code == 422
    actions = [e.action for e in ledger(workspace, "login") if e.actor == "bob"]
    assert actions == ["login.failed"] * MAX_FAILURES + ["login.locked"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_real_server_with_a_real_client_never_logs_a_secret(workspace, caplog):
    port = free_port()
    config = uvicorn.Config(create_app(workspace), host="127.0.0.1", port=port, log_level="info",
                            log_config=None)  # its loggers propagate, so that the test sees what it logs
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.INFO)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            login = http.post("/api/v1/login", json={"username": "bob", "password": BOB_PW})
            token = login.json()["token"]
            answer = http.get("/api/v1/datasets/citation/rows", params=PURPOSE,
                              headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200 and answer.json()["row_count"] == len(ROWS)
            assert http.get("/openapi.json").json()["info"]["title"] == "justicelab"
            assert http.get("/docs").status_code == 404  # its page would load scripts from a CDN
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    logged = caplog.text
    assert "GET /api/v1/datasets/citation/rows" in logged  # the access log ran
    assert BOB_PW not in logged and token not in logged and token.split("_", 2)[2] not in logged
