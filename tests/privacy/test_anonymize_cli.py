"""`justicelab privacy anonymize` as a user runs it: a workspace table or a file, table/JSON/CSV, clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.privacy.anonymize import PolicyError
from justicelab.warehouse import Warehouse
from tests.privacy.test_anonymize_engine import POLICY, build_deaths

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "ws"]).exit_code == 0
    root = tmp_path / "ws"
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        build_deaths(wh)
    (root / "public.yaml").write_text(POLICY, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def invoke(*args: str):
    return runner.invoke(app, ["privacy", "anonymize", *args], catch_exceptions=False)


def test_the_issue_command_writes_the_release_and_prints_a_summary(workspace):
    out = invoke("custody_death", "--policy", "public.yaml", "--out", "release/")
    assert out.exit_code == 0, out.output
    for text in ("Levels chosen for custody_death (public tier)", "k achieved", "suppressed", "NCP",
                 "nodes evaluated", "released as their region", "alpine", "wrote"):
        assert text in out.output, text
    for name in ("custody_death.csv", "custody_death.parquet", "custody_death.anonymization.json"):
        assert (workspace / "release" / name).is_file()


def test_json_is_the_report_and_the_dataset_defaults_to_the_policys(workspace):
    out = invoke("--policy", "public.yaml", "-o", "rel", "-f", "json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["dataset"] == "custody_death" and report["tier"] == "public"
    assert set(report["levels"]) == {"county", "date_of_death", "age", "sex"}
    assert report["achieved"]["k"] >= 5
    assert report["jurisdiction"]["merged_counties"] == {"alpine": 1130, "amador": 39000, "sierra": 3000}
    written = json.loads((workspace / "rel" / "custody_death.anonymization.json").read_text())
    assert written["levels"] == report["levels"]


def test_a_file_follows_the_policys_entity_and_csv_lists_the_figures(workspace):
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        wh.execute(f"COPY (SELECT * FROM custody_death) TO '{workspace / 'custody_death.csv'}' (HEADER)")
    out = invoke("--file", "custody_death.csv", "--policy", "public.yaml", "-o", "from_file", "-f", "csv")
    assert out.exit_code == 0, out.output
    figures = {r["figure"]: r["value"] for r in csv.DictReader(io.StringIO(out.stdout))}
    assert int(figures["records"]) == 900 and int(figures["k achieved"]) >= 5
    assert (workspace / "from_file" / "custody_death.csv").is_file()


def test_a_bad_policy_fails_with_its_line_and_a_non_zero_exit(workspace):
    (workspace / "bad.yaml").write_text(POLICY.replace("targets: {k: 5", "targets: {k: -1"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.yaml:9: targets.k: Input should be greater than or equal to 1"):
        invoke("custody_death", "--policy", "bad.yaml")
    result = runner.invoke(app, ["privacy", "anonymize", "--policy", "bad.yaml"])
    assert result.exit_code != 0


def test_help_shows_an_example():
    out = runner.invoke(app, ["privacy", "anonymize", "--help"])
    assert out.exit_code == 0
    assert "custody_death_public.yaml" in out.output and "--policy" in out.output
