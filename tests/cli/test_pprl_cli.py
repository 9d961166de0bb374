"""``justicelab pprl`` as the departments and the platform drive it: encode, inspect, load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from justicelab.linkage.store import LinkageError
from tests.cli.test_cli import run

SECRET = "shared-by-the-departments-only-7f3a"


@pytest.mark.parametrize("command", ["encode", "inspect", "load"])
def test_pprl_commands_have_help_with_an_example(command):
    assert "Example" in run("pprl", command, "--help").stdout


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command as a shell runs it: its exit code and what it prints."""
    return subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_departments_encode_the_platform_inspects_and_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init", "city")
    ws = tmp_path / "city"
    monkeypatch.chdir(ws)
    run("synth", "city", "data", "--people", "300", "--years", "2", "--seed", "5", "--register")
    run("ingest", "--all")

    # A department's machine: no workspace, only its extract, its mapping and the shared secret.
    dept = tmp_path / "health"
    dept.mkdir()
    monkeypatch.chdir(dept)
    (dept / "secret.key").write_text(SECRET + "\n", encoding="utf-8")
    out = run("pprl", "encode", str(ws / "data" / "ed_visits.parquet"), "--mapping", str(ws / "mappings" /
              "ed_visits.yaml"), "--secret-file", "secret.key", "--out", "ed.parquet").stdout
    assert "records encoded, 0 had nothing to encode" in out and SECRET not in out
    summary = {r["measure"]: r["value"] for r in json.loads(run(
        "pprl", "encode", str(ws / "data" / "police_citations.csv"), "--mapping",
        str(ws / "mappings" / "police_citations.yaml"), "--secret-file", "secret.key", "--out", "pc.parquet",
        "--format", "json").stdout)}
    assert summary["records"] == summary["encoded"] + summary["nothing to encode"] > 0

    shown = json.loads(run("pprl", "inspect", "ed.parquet", "--format", "json").stdout)[0]
    assert shown["valid"] == "yes" and shown["source"] == "ed_visits" and shown["format_version"] == "1"

    monkeypatch.chdir(ws)
    loaded = {r["measure"]: r["value"] for r in json.loads(
        run("pprl", "load", str(dept / "ed.parquet"), "--format", "json").stdout)}
    assert loaded["rows"] == loaded["in warehouse"] and str(loaded["rows"]) == shown["rows"]
    run("pprl", "load", str(dept / "pc.parquet"))

    # Another department used the wrong secret file: refused, nothing loaded, the secret never printed.
    (dept / "wrong.key").write_text("not-the-shared-secret-at-all", encoding="utf-8")
    run("pprl", "encode", str(ws / "data" / "ems_responses.tsv"), "--mapping", str(ws / "mappings" /
        "ems_responses.yaml"), "--secret-file", str(dept / "wrong.key"), "--out", str(dept / "ems.parquet"))
    refused = cli("pprl", "load", str(dept / "ems.parquet"), cwd=ws)
    assert refused.returncode == 1
    assert "was encoded with a different secret than the 2 earlier uploads" in refused.stderr
    assert "not-the-shared-secret" not in refused.stdout + refused.stderr
    with pytest.raises(LinkageError, match="different secret"):
        run("pprl", "load", str(dept / "ems.parquet"), ok=False)


def test_inspect_reports_a_damaged_file_and_exits_non_zero(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("synth", "city", "data", "--people", "200", "--years", "1", "--seed", "2")
    (tmp_path / "secret.key").write_bytes(SECRET.encode())
    run("pprl", "encode", "data/jail_bookings.txt", "--mapping", "data/mappings/jail_bookings.yaml",
        "--secret-file", "secret.key", "--out", "jail.parquet")
    table = pq.read_table("jail.parquet")
    pq.write_table(table.slice(1), "cut.parquet")  # keeps the metadata, loses a row
    result = run("pprl", "inspect", "cut.parquet", ok=False)
    assert result.exit_code == 1
    assert f"has {table.num_rows - 1} rows, but {table.num_rows} were written" in result.stdout


def test_a_short_secret_is_refused_without_printing_it(tmp_path):
    (tmp_path / "weak.key").write_text("hunter2", encoding="utf-8")
    result = cli("pprl", "encode", "x.csv", "--mapping", "m.yaml", "--secret-file", "weak.key", "--out", "o.parquet",
                 cwd=tmp_path)
    assert result.returncode == 1
    assert "weak.key: the secret is 7 bytes; at least 16 are needed" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert not (tmp_path / "o.parquet").exists()
