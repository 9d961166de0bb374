"""`justicelab privacy anonymize` as a user runs it: a workspace dataset read through the gate, or a file;
table/JSON/CSV; clear errors; one audit-ledger read per run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.errors import AccessDenied
from justicelab.privacy.anonymize import PolicyError
from justicelab.warehouse import Warehouse
from tests.gate.access import load_agencies
from tests.privacy.gated import AS_READER, allow, ledger
from tests.privacy.test_anonymize_engine import POLICY, build_deaths

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """900 deaths and county populations; ana may read them identified for research."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JUSTICELAB_USER", raising=False)
    monkeypatch.delenv("JUSTICELAB_TOKEN", raising=False)
    assert runner.invoke(app, ["init", "ws"]).exit_code == 0
    root = tmp_path / "ws"
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        build_deaths(wh)
        load_agencies(wh)
    allow(root)
    (root / "public.yaml").write_text(POLICY, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def invoke(*args: str, reader: tuple[str, ...] = AS_READER):
    return runner.invoke(app, ["privacy", "anonymize", *args, *reader], catch_exceptions=False)


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
    out = invoke("--file", "custody_death.csv", "--policy", "public.yaml", "-o", "from_file", "-f", "csv", reader=())
    assert out.exit_code == 0, out.output
    figures = {r["figure"]: r["value"] for r in csv.DictReader(io.StringIO(out.stdout))}
    assert int(figures["records"]) == 900 and int(figures["k achieved"]) >= 5
    assert (workspace / "from_file" / "custody_death.csv").is_file()


def test_a_bad_policy_fails_with_its_line_and_a_non_zero_exit(workspace):
    (workspace / "bad.yaml").write_text(POLICY.replace("targets: {k: 5", "targets: {k: -1"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.yaml:9: targets.k: Input should be greater than or equal to 1"):
        invoke("custody_death", "--policy", "bad.yaml")
    result = runner.invoke(app, ["privacy", "anonymize", "--policy", "bad.yaml", *AS_READER])
    assert result.exit_code != 0
    assert ledger(workspace, "read") == []  # the policy is checked before any row is read


def test_each_run_is_one_read_and_a_reader_without_a_grant_is_refused(workspace):
    invoke("custody_death", "--policy", "public.yaml", "-o", "release", "-f", "json")
    reads = ledger(workspace, "read")
    assert [(r["actor"], r["target"], r["details"]["row_count"]) for r in reads] == [("ana", "custody_death", 900)]
    allow(workspace, (), user="rita")
    with pytest.raises(AccessDenied, match="rita may not read rows of custody_death for purpose 'research'"):
        invoke("custody_death", "--policy", "public.yaml", reader=("--as", "rita", "--purpose", "research"))
    assert [d["actor"] for d in ledger(workspace, "read.denied")] == ["rita"]
    assert len(ledger(workspace, "read")) == 1


DEIDENTIFIED_POLICY = """dataset: custody_death
tier: researcher
quasi_identifiers:
  - {attribute: county, max_level: region}
  - date_of_death
  - age
  - sex
sensitive: [manner_of_death]
targets: {k: 3, max_suppression: 0.2}
"""


def test_a_deidentified_reader_releases_the_gates_labels_as_shown_or_suppressed(workspace):
    allow(workspace, level="deidentified", user="rita")
    rita = ("--as", "rita", "--purpose", "research")
    (workspace / "rita.yaml").write_text(DEIDENTIFIED_POLICY, encoding="utf-8")
    report = json.loads(invoke("-p", "rita.yaml", "-o", "rita", "-f", "json", reader=rita).stdout)
    assert report["achieved"]["k"] >= 3
    with (workspace / "rita" / "custody_death.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {len(r["date_of_death"]) for r in rows} <= {0, 7}  # the gate's months ("2017-03"), or suppressed
    assert {r["age"] for r in rows} <= {f"{lo}-{lo + 4}" for lo in range(0, 120, 5)} | {""}
    finer = DEIDENTIFIED_POLICY.replace("  - age\n", "  - {attribute: age, max_level: band_10}\n")
    (workspace / "finer.yaml").write_text(finer, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"'band_10' is not a level of age .*shown to this reader as age.band_5"):
        invoke("-p", "finer.yaml", reader=rita)
    named = DEIDENTIFIED_POLICY.replace("sensitive: [manner_of_death]", "sensitive: [manner_of_death]\nkeep: [city]")
    (workspace / "named.yaml").write_text(named, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"city of custody_death is not readable by rita at this level"):
        invoke("-p", "named.yaml", reader=rita)
    assert [r["actor"] for r in ledger(workspace, "read")] == ["rita"] * 3


def test_help_shows_an_example():
    out = runner.invoke(app, ["privacy", "anonymize", "--help"])
    assert out.exit_code == 0
    assert "custody_death_public.yaml" in out.output and "--policy" in out.output and "--purpose" in out.output
