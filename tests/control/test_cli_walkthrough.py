"""The issue's walkthrough through the CLI, on a workspace: departments, users, tokens, datasets, an
agreement, grants, a request, consent, the audit ledger and retention."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from justicelab.control import ControlError, NotPermitted
from justicelab.control.errors import AgreementError
from tests.cli.test_cli import run
from tests.control.scenarios import END, write_agreement

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "dsa-2017.yaml"
GROUPS = ["department", "user", "token", "dataset", "agreement", "grant", "request", "consent", "audit", "retention"]
ROOT_PW, ALICE_PW = "root password 1", "alice password 1"


def bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with the first admin (root, acting through JUSTICELAB_USER), health and sheriff, alice
    (health steward), bob (MDT member), ed_visit and booking, and agreement dsa."""
    monkeypatch.chdir(tmp_path)
    run("init", "city")
    root = tmp_path / "city"
    monkeypatch.chdir(root)
    monkeypatch.delenv("JUSTICELAB_TOKEN", raising=False)
    monkeypatch.setenv("JUSTICELAB_USER", "root")
    assert "Added user root (admin)" in runner_input(["user", "add", "root", "--role", "admin"],
                                                     f"{ROOT_PW}\n{ROOT_PW}\n").stdout
    run("department", "add", "health", "--name", "Health and Human Services")
    run("department", "add", "sheriff", "--name", "Sheriff's Office")
    runner_input(["user", "add", "alice", "--department", "health", "--role", "steward"], f"{ALICE_PW}\n{ALICE_PW}\n")
    runner_input(["user", "add", "bob", "--department", "health", "--role", "mdt_member", "--password-stdin"],
                 "bob password 12\n")
    run("dataset", "add", "ed_visit", "--owner", "health")
    run("dataset", "add", "booking", "--owner", "sheriff")
    write_agreement(root, "dsa")
    with pytest.raises(NotPermitted, match="alice may not store agreement dsa: it covers data of sheriff"):
        run("agreement", "add", "dsa.yaml", "--as", "alice")  # health's steward cannot set the sheriff's terms
    run("agreement", "add", "dsa.yaml")  # the admin (root) can
    return root


def runner_input(args: list[str], text: str):
    from justicelab.cli import app
    from tests.cli.test_cli import runner

    result = runner.invoke(app, args, input=text, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("group", GROUPS)
def test_control_commands_have_help_with_an_example(group):
    from justicelab.cli.app import app

    sub = next(g for g in app.registered_groups if g.name == group).typer_instance
    for command in sub.registered_commands:
        assert "Example" in run(group, command.name or "", "--help").stdout, (group, command.name)


def test_the_walkthrough(tmp_path, monkeypatch):
    root = bootstrap(tmp_path, monkeypatch)
    with pytest.raises(NotPermitted, match="bob may not add users"):  # refused before any password prompt
        run("user", "add", "eve", "--role", "analyst", "--department", "health", "--as", "bob")
    with pytest.raises(ControlError, match="user root already exists"):
        runner_input(["user", "add", "root", "--role", "admin"], "x" * 12 + "\n" + "x" * 12 + "\n")

    token = run("token", "create", "alice", "--expires", "30d", "--as", "alice").stdout.strip()
    assert token.startswith("jlt_")
    listed = json.loads(run("token", "list", "alice", "--format", "json").stdout)
    assert [t["token_id"] for t in listed] == [token.split("_")[1]] and "token" not in listed[0]
    monkeypatch.setenv("JUSTICELAB_TOKEN", token)  # alice authenticates by token from here on
    monkeypatch.delenv("JUSTICELAB_USER")

    run("grant", "add", "--dataset", "ed_visit", "--to", "role:mdt_member", "--level", "deidentified",
        "--agreement", "dsa", "--expires", (END - dt.timedelta(days=1)).isoformat())
    with pytest.raises(NotPermitted, match="booking is owned by sheriff"):
        run("grant", "add", "--dataset", "booking", "--to", "department:health", "--level", "deidentified",
            "--agreement", "dsa")
    monkeypatch.delenv("JUSTICELAB_TOKEN")
    run("grant", "add", "--dataset", "booking", "--to", "department:health", "--level", "deidentified",
        "--fields", "last_name,date_of_birth,booking_datetime", "--agreement", "dsa", "--as", "root")
    with pytest.raises(ControlError, match="above agreement dsa's maximum for booking"):
        run("grant", "add", "--dataset", "booking", "--to", "user:bob", "--level", "identified",
            "--agreement", "dsa", "--as", "root")
    run("grant", "add", "--dataset", "ed_visit", "--to", "user:bob", "--level", "identified", "--agreement", "dsa",
        "--row-rule", "consent: {program: mdt, scope: part2}", "--purpose", "MDT case review", "--as", "alice")

    filed = run("request", "add", "--dataset", "ed_visit", "--level", "identified", "--purpose", "MDT case review",
                "--as", "bob")
    assert "Request #1 filed; a steward of health (alice) will decide" in filed.stdout and not filed.stderr
    run("request", "add", "--dataset", "booking", "--level", "aggregate", "--purpose", "program evaluation",
        "--as", "bob")
    def pending(user: str) -> list[int]:
        return [r["request"] for r in json.loads(run("request", "list", "--format", "json", "--as", user).stdout)]
    assert pending("alice") == [1] and pending("bob") == [1, 2] and pending("root") == [1, 2]  # alice: health's
    assert "grant #4 to bob" in run("request", "approve", "1", "--as", "alice").stdout
    with pytest.raises(NotPermitted, match="booking is owned by sheriff"):
        run("request", "decline", "2", "--reason", "no", "--as", "alice")
    run("request", "decline", "2", "--reason", "aggregates are published already", "--as", "root")

    run("consent", "record", "PER-00000042", "--program", "mdt", "--scope", "part2", "--expires",
        (dt.date.today() + dt.timedelta(days=40)).isoformat(), "--as", "bob")
    current = json.loads(run("consent", "list", "--current", "--format", "json", "--as", "bob").stdout)
    assert [(c["person_id"], c["scope"]) for c in current] == [("PER-00000042", "part2")]

    grants = json.loads(run("grant", "list", "--format", "json", "--as", "alice").stdout)
    assert [(g["grant"], g["to"], g["level"]) for g in grants] == [
        (1, "role:mdt_member", "deidentified"), (2, "department:health", "deidentified"),
        (3, "user:bob", "identified"), (4, "user:bob", "identified")]
    assert grants[2]["row_rule"] == {"consent": {"program": "mdt", "scope": "part2"}}
    run("grant", "revoke", "3", "--reason", "replaced by request #1", "--as", "alice")
    assert len(json.loads(run("grant", "list", "--format", "json", "--as", "alice").stdout)) == 3

    shown = json.loads(run("agreement", "show", "dsa", "--format", "json", "--as", "bob").stdout)[0]
    assert shown["maximum_level"] == "identified" and shown["minimum_cell_size"] == 11
    assert "legal_basis:" in run("agreement", "show", "dsa", "--document", "--as", "bob").stdout

    with pytest.raises(NotPermitted, match="needs one of the roles admin, steward"):
        run("audit", "list", "--as", "bob")
    bobs = json.loads(run("audit", "list", "--user", "bob", "--since", dt.date.today().isoformat(),
                          "--format", "json", "--as", "root").stdout)
    assert [e["action"] for e in bobs] == ["request.add", "request.add", "consent.record"]
    assert bobs[0]["details"]["purpose"] == "MDT case review"
    about = json.loads(run("audit", "list", "--about", "bob", "--format", "json", "--as", "root").stdout)
    assert {e["action"] for e in about} == {"user.add", "grant.add", "grant.revoke", "request.approve",
                                           "request.decline"}
    assert {e["action"] for e in json.loads(run("audit", "list", "--about", "bob", "--format", "json",
                                                "--as", "alice").stdout)} >= {"user.add", "request.approve"}
    logins = json.loads(run("audit", "list", "--action", "login", "--format", "json", "--as", "root").stdout)
    # alice used her token twice within minutes: one login (a session), not one per command
    assert [(e["actor"], e["action"], e["details"]["method"]) for e in logins] == [("alice", "login", "token")]
    verdict = json.loads(run("audit", "verify", "--format", "json").stdout)[0]
    assert verdict["ok"] and verdict["count"] == len(json.loads(run("audit", "list", "--format", "json",
                                                                    "--as", "root").stdout))
    assert run("audit", "verify", "--expect", f"{verdict['count']}:{verdict['head_hash']}").exit_code == 0

    # passwords and tokens are kept only as hashes: not in the database file, not in the ledger
    raw = (root / "control.sqlite").read_bytes()
    for secret in (ROOT_PW, ALICE_PW, "bob password 12", token, token.split("_", 2)[2]):
        assert secret.encode() not in raw


def test_agreement_file_errors_name_file_line_and_key(tmp_path, monkeypatch):
    root = bootstrap(tmp_path, monkeypatch)
    bad = root / "bad.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("maximum_level: identified", "maximum_level: all"),
                   encoding="utf-8")
    with pytest.raises(AgreementError, match=r"bad\.yaml:\d+: maximum_level: Input should be 'none', 'aggregate'"):
        run("agreement", "check", "bad.yaml")
    with pytest.raises(AgreementError, match=r"parties\[0\]: no department 'police'"):
        run("agreement", "add", str(EXAMPLE), "--as", "root")
    with pytest.raises(ControlError, match=r"already exists .* pass --replace"):
        run("agreement", "add", "dsa.yaml", "--as", "root")
    assert "version 2" in run("agreement", "add", "dsa.yaml", "--replace", "--as", "root").stdout


def test_a_steward_approves_less_than_was_asked_and_a_hopeless_request_says_so(tmp_path, monkeypatch):
    bootstrap(tmp_path, monkeypatch)
    tea = run("request", "add", "--dataset", "ed_visit", "--level", "identified", "--purpose", "tea party",
              "--as", "bob")
    assert "Request #1 filed" in tea.stdout
    assert "cannot be approved yet (no agreement fits request #1: dsa does not list the purpose 'tea party')" \
        in tea.stderr.replace("\n", " ")
    run("request", "add", "--dataset", "ed_visit", "--level", "identified", "--purpose", "MDT case review",
        "--fields", "last_name,date_of_birth", "--as", "bob")
    approved = run("request", "approve", "2", "--fields", "last_name", "--row-rule",
                   "consent: {program: mdt, scope: part2}", "--as", "alice").stdout
    assert "rows: {'consent': {'program': 'mdt', 'scope': 'part2'}}, fields: last_name" in " ".join(approved.split())
    (grant,) = json.loads(run("grant", "list", "--format", "json", "--as", "root").stdout)
    text = json.dumps(grant)
    assert "part2" in text and "last_name" in text and "date_of_birth" not in text


def test_a_grant_expires_on_a_day_or_after_a_period(tmp_path, monkeypatch):
    bootstrap(tmp_path, monkeypatch)
    common = ("grant", "add", "--dataset", "ed_visit", "--level", "deidentified", "--agreement", "dsa")
    run(*common, "--to", "role:mdt_member", "--expires", "30d")
    run(*common, "--to", "role:analyst", "--expires", (dt.date.today() + dt.timedelta(days=9)).isoformat())
    with pytest.raises(ControlError, match=r"--expires 'soon': expected a last day \(YYYY-MM-DD\) or a period"):
        run(*common, "--to", "role:researcher", "--expires", "soon")
    grants = json.loads(run("grant", "list", "--format", "json").stdout)
    assert [g["expires"] for g in grants] == [(dt.date.today() + dt.timedelta(days=n)).isoformat() for n in (30, 9)]


def test_dataset_sync_registers_the_sources_departments(tmp_path, monkeypatch):
    from justicelab.synth.city import mapping_files
    from justicelab.workspace import SourceDecl, Workspace

    root = bootstrap(tmp_path, monkeypatch)
    ws = Workspace.load(root)
    for mapping in mapping_files():  # each shipped mapping names its department
        ws.add_source(SourceDecl(name=mapping.stem, file=f"data/{mapping.stem}.csv", mapping=str(mapping)))
    plan = json.loads(run("dataset", "sync", "--dry-run", "--format", "json").stdout)
    by = {r["dataset"]: r for r in plan}
    assert by["ed_visit"]["action"] == "registered already" and by["citation"]["action"] == "would register"
    assert by["citation"]["owner"] == "police" and by["citation"]["sources"] == "police_citations"
    run("dataset", "sync")
    owners = {d["dataset"]: d["owner"] for d in json.loads(run("dataset", "list", "--format", "json").stdout)}
    assert owners["citation"] == "police" and owners["shelter_stay"] == "homeless_services"
    assert "homeless_services" in run("department", "list", "--format", "csv").stdout
    ws.add_source(SourceDecl(name="pd_bookings", file="data/x.csv", mapping=str(mapping_files()[2]),
                             department="police"))
    with pytest.raises(ControlError, match="booking is filled by sources of several departments"):
        run("dataset", "sync")


def _warehouse_rows(root: Path) -> None:
    """booking and ed_visit rows 10, 8, 6 years and 1 year old, and one without a date."""
    from justicelab.standard import load_standard
    from justicelab.warehouse import Warehouse, ensure_entity_table

    today = dt.date.today()
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        for table, field in (("booking", "booking_datetime"), ("ed_visit", "arrival_datetime")):
            ensure_entity_table(wh, load_standard().entity(table))
            for i, years in enumerate((10, 8, 6, 1, None)):
                when = "NULL" if years is None else f"TIMESTAMP '{today.replace(year=today.year - years)} 12:00'"
                wh.execute(f"INSERT INTO {table} (_record_id, {field}) VALUES ('r{i}', {when})")


def test_retention_removes_old_rows_and_records_it(tmp_path, monkeypatch):
    root = bootstrap(tmp_path, monkeypatch)
    _warehouse_rows(root)
    write_agreement(root, "short", id="short", retention="5y", datasets=[{"dataset": "booking"}])
    run("agreement", "add", "short.yaml", "--as", "root")
    with pytest.raises(NotPermitted, match="only an admin"):
        run("retention", "run", "--as", "alice")
    plan = {r["dataset"]: r for r in json.loads(run("retention", "run", "--dry-run", "--format", "json").stdout)}
    assert {d: (r["agreement"], r["retention"], r["event_field"], r["rows"], r["undated"], r["action"])
            for d, r in plan.items()} == {
        "booking": ("short", "5y", "booking_datetime", 3, 1, "would remove"),  # the shortest period applies
        "ed_visit": ("dsa", "7y", "arrival_datetime", 2, 1, "would remove")}
    done = json.loads(run("retention", "run", "--format", "json").stdout)
    assert [(r["dataset"], r["rows"], r["action"]) for r in done] == [("booking", 3, "removed"),
                                                                     ("ed_visit", 2, "removed")]
    assert all(r["rows"] == 0 for r in json.loads(run("retention", "run", "--dry-run", "--format", "json").stdout))
    removals = json.loads(run("audit", "list", "--action", "retention", "--format", "json").stdout)
    assert [(e["action"], e["target"]) for e in removals] == [
        ("retention.remove", "dataset:booking"), ("retention.remove", "dataset:ed_visit"),
        ("retention.run", "warehouse")]
    assert removals[0]["details"] | {"cutoff": None, "copies": None} == {
        "dataset": "booking", "agreement": "short", "event_field": "booking_datetime", "rows": 3, "cutoff": None,
        "copies": None}
    assert set(removals[0]["details"]["copies"].values()) == {0}  # never linked, never quarantined
    assert removals[0]["details"]["cutoff"] == plan["booking"]["cutoff"]
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM booking").fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM ed_visit").fetchone()[0] == 3


def _linkage_rows(con, removed: set[str]) -> dict[str, int]:
    """Rows of each linkage table (and ingest_changes) naming a record of ``removed``."""
    named = {"person_index": ("record_id",), "link_pairs": ("record_l", "record_r"),
             "link_reviews": ("record_l", "record_r"), "link_decisions": ("record_l", "record_r"),
             "ingest_changes": ("record_id",)}
    return {t: sum(1 for row in con.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall() if set(row) & removed)
            for t, cols in named.items()}


def test_retention_removes_every_copy_of_a_removed_record(tmp_path, monkeypatch):
    """Removed ED visits leave nothing behind: not in the person index, the links, the review queue, the
    decisions, the field changes, nor (by event date or by the age of their delivery) the quarantine; kept
    visits keep their links; a dry run removes nothing and reports the same counts the run and its ledger do."""
    import duckdb

    root = bootstrap(tmp_path, monkeypatch)
    run("synth", "city", "data", "--people", "400", "--years", "3", "--seed", "5", "--register")
    run("ingest", "--all")
    run("link", "run")
    wh_path = str(root / "warehouse.duckdb")
    with duckdb.connect(wh_path) as con:
        visits = dict(con.execute("SELECT _record_id, CAST(arrival_datetime AS DATE) FROM ed_visit").fetchall())
        cutoff = sorted(visits.values())[len(visits) // 2]
        removed = {r for r, day in visits.items() if day < cutoff}
        kept = set(visits) - removed
        old_one, new_one, new_two = sorted(removed)[0], *sorted(kept)[:2]
        # a reviewer decision and a field change for a removed and for a kept record
        con.execute(f"""INSERT INTO link_decisions (decision_id, record_l, record_r, decision) VALUES
                        (1, '{old_one}', '{new_one}', 'cannot_link'), (2, '{new_one}', '{new_two}', 'cannot_link')""")
        con.execute(f"""INSERT INTO ingest_changes (batch_id, entity, record_id, field, old_value) VALUES
                        (9, 'ed_visit', '{old_one}', 'address', '1 A ST'), (9, 'ed_visit', '{new_one}', 'zip', '9')""")
        # a quarantined row whose date cannot be read
        con.execute("""INSERT INTO ingest_quarantine SELECT batch_id, source, entity, 9999,
                       '{"ED_ARRIVAL_DTTM": "last tuesday", "PAT_LAST_NAME": "DOE"}', '[]'
                       FROM ingest_quarantine WHERE entity = 'ed_visit' LIMIT 1""")
        quarantined = {(row, json.loads(record)["ED_ARRIVAL_DTTM"]) for row, record in con.execute(
            "SELECT source_row, record FROM ingest_quarantine WHERE entity = 'ed_visit'").fetchall()}
        assert _linkage_rows(con, removed)["person_index"] == len(removed) and _linkage_rows(con, removed)[
            "link_pairs"] > 0, "the test needs removed records that were linked"
        kept_links = {p for p in con.execute("SELECT record_l, record_r FROM link_pairs").fetchall()
                      if not set(p) & removed}
        sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in
                 ("ed_visit", "person_index", "link_pairs", "link_reviews", "link_decisions", "ingest_changes",
                  "ingest_quarantine")}
    days = (dt.date.today() - cutoff).days
    write_agreement(root, "short", id="short", retention=f"{days}d", datasets=[{"dataset": "ed_visit"}])
    run("agreement", "add", "short.yaml", "--as", "root")

    def retention(*extra: str) -> dict[str, dict[str, object]]:
        out = json.loads(run("retention", "run", *extra, "--format", "json").stdout)
        return {r["dataset"]: r for r in out}

    planned = retention("--dry-run")["ed_visit"]
    with duckdb.connect(wh_path, read_only=True) as con:
        assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sizes} == sizes  # nothing gone
    done = retention()["ed_visit"]
    assert planned | {"action": None} == done | {"action": None}
    old_quarantine = {row for row, when in quarantined if when < cutoff.isoformat()}
    assert done["rows"] == len(removed) and done["person_index"] == len(removed)
    assert done["link_decisions"] == 1 and done["ingest_changes"] == 1
    assert done["ingest_quarantine"] == len(old_quarantine) > 0
    with duckdb.connect(wh_path, read_only=True) as con:
        assert set(_linkage_rows(con, removed).values()) == {0}
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sizes}
        assert {t: sizes[t] - after[t] for t in sizes} == {
            "ed_visit": len(removed), **{t: done[t] for t in sizes if t != "ed_visit"}}
        assert {r for (r,) in con.execute("SELECT record_id FROM person_index WHERE entity = 'ed_visit'").fetchall()
                } == kept
        assert {p for p in con.execute("SELECT record_l, record_r FROM link_pairs").fetchall()} == kept_links
        assert con.execute("SELECT count(*) FROM link_decisions").fetchone()[0] == 1
        marked = "SELECT count(*) FROM person_index WHERE fingerprint = 'forgotten-neighbour'"
        assert con.execute(marked).fetchone()[0] > 0  # records of persons that lost one: rescored next run
        left = {row for (row,) in con.execute(
            "SELECT source_row FROM ingest_quarantine WHERE entity = 'ed_visit'").fetchall()}
        assert left == {row for row, _ in quarantined} - old_quarantine and 9999 in left  # unreadable: kept
    entry = next(e for e in json.loads(run("audit", "list", "--action", "retention.remove", "--format",
                                           "json").stdout) if e["target"] == "dataset:ed_visit")
    assert entry["details"]["rows"] == len(removed)
    assert entry["details"]["copies"] == {t: done[t] for t in entry["details"]["copies"]}
    assert {"person_index", "link_pairs", "link_reviews", "ingest_quarantine"} <= set(entry["details"]["copies"])

    run("link", "run", "--incremental")
    with duckdb.connect(wh_path, read_only=True) as con:
        assert con.execute(marked).fetchone()[0] == 0

    # a delivery older than the cutoff holds no event after it: its quarantined rows go, readable or not
    with duckdb.connect(wh_path) as con:
        con.execute(f"""UPDATE ingest_batches SET started_at = TIMESTAMP '{cutoff - dt.timedelta(days=1)} 08:00'
                        WHERE entity = 'ed_visit'""")
    assert retention()["ed_visit"]["ingest_quarantine"] == len(left)
    with duckdb.connect(wh_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ingest_quarantine WHERE entity = 'ed_visit'").fetchone()[0] == 0
