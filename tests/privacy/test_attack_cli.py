"""`justicelab privacy attack` and `justicelab synth external` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.errors import SynthError
from justicelab.privacy.attack import AttackError
from justicelab.synth import generate_city

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    monkeypatch.chdir(tmp_path)  # no workspace here: the attack works on files alone
    release = tmp_path / "release.csv"
    release.write_text("record_id,age,sex,race_ethnicity,county,date_of_death\n"
                       "R1,30-34,M,black,bay_area,2021-03\n"
                       "R2,30-34,M,black,bay_area,2021-04\n"
                       "R3,35-39,F,white,bay_area,2021-03\n"
                       "R4,35-39,F,white,bay_area,2021-03\n", encoding="utf-8")
    press = tmp_path / "press.csv"
    press.write_text("name,age,sex,race,county,date,record_id\n"
                     "ANN ONE,33,M,black,alameda,2021-03-14,R1\n"
                     "CAT THREE,36,F,white,marin,2021-03-20,R3\n"
                     "EVE FIVE,31,M,,marin,2021-04-30,R9\n", encoding="utf-8")
    return release, press


def invoke(*args: str):
    return runner.invoke(app, ["privacy", "attack", *args])


def test_the_issue_command_prints_levels_figures_and_sizes(files):
    release, press = files
    out = invoke(str(release), "--external", str(press), "--truth-column", "record_id")
    assert out.exit_code == 0, out.output
    for text in ("Quasi-identifiers linked on", "age.band_5", "county.region", "date.month", "unique matches",
                 "re-identified share", "match_set_size"):
        assert text in out.output


def test_json_is_the_ledger_record(files):
    release, press = files
    out = invoke(str(release), "--external", str(press), "--qi", "age,sex,race,county,date",
                 "--truth-column", "record_id", "--show", "-f", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["measures"]["unique_matches"] == 2
    assert (data["measures"]["correct"], data["measures"]["incorrect"]) == (1, 1)
    assert data["measures"]["re_identified_share"] == 0.25
    assert data["match_set_sizes"]["1"] == 2 and data["match_set_sizes"]["2"] == 1
    assert [(c["name"], c["release_truth"], c["correct"]) for c in data["claims"]] == [
        ("ANN ONE", "R1", True), ("EVE FIVE", "R2", False)]
    assert len(data["release"]["sha256"]) == 64 and data["truth"]["external_column"] == "record_id"


def test_csv_gives_the_figures_or_with_show_the_claims(files):
    release, press = files
    out = invoke(str(release), "--external", str(press), "--truth-column", "record_id", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert {r["measure"]: r["value"] for r in rows}["re-identified records"] == "1"
    out = invoke(str(release), "--external", str(press), "--truth-column", "record_id", "--show", "-f", "csv")
    claims = list(csv.DictReader(io.StringIO(out.output)))
    assert [c["name"] for c in claims] == ["ANN ONE", "EVE FIVE"] and claims[0]["release.age"] == "30-34"


def test_errors_exit_non_zero_with_the_file_row_and_column(files):
    release, press = files
    out = invoke(str(release), "--external", str(press), "--qi", "age:band_10")
    assert out.exit_code != 0 and isinstance(out.exception, AttackError)
    assert f"{release}, row 1, column age: '30-34' is not a label of hierarchy age at level band_10" in str(
        out.exception)
    out = invoke(str(release), "--external", str(press), "--qi", "zip")
    assert out.exit_code != 0 and "has no column 'zip'" in str(out.exception)


def test_the_installed_command_prints_the_error_and_exits_non_zero(files):
    release, press = files
    done = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "privacy", "attack",
                           str(release), "--external", str(press), "--qi", "age,sex,zip"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "error:" in done.stderr and "has no column 'zip' (--qi)" in " ".join(done.stderr.split())


def test_help_has_an_example():
    out = runner.invoke(app, ["privacy", "attack", "--help"])
    assert out.exit_code == 0 and "justicelab privacy attack release/custody_death.csv" in out.output
    out = runner.invoke(app, ["synth", "external", "--help"])
    assert out.exit_code == 0 and "--from-city" in out.output


def test_synth_external_then_attack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    generate_city(tmp_path / "city", people=800, years=2, seed=4)
    out = runner.invoke(app, ["synth", "external", str(tmp_path / "ext"), "--from-city", str(tmp_path / "city"),
                              "--out", "press_releases.csv", "--share", "0.5", "--seed", "1", "-f", "json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)[0]
    assert summary["rows"] > 0 and Path(summary["path"]) == tmp_path / "ext" / "press_releases.csv"
    # The external file attacked against itself: every notice is unique unless two share all values.
    path = summary["path"]
    out = invoke(path, "--external", path, "--qi", "age,sex,race,county,date", "--truth-column", "external_id",
                 "-f", "json")
    assert out.exit_code == 0, out.output
    measures = json.loads(out.output)["measures"]
    assert measures["external_records"] == summary["rows"]
    assert measures["correct"] == measures["unique_matches"] > 0
    bad = runner.invoke(app, ["synth", "external", str(tmp_path), "--from-city", str(tmp_path), "--share", "0.1"])
    assert bad.exit_code != 0 and isinstance(bad.exception, SynthError)
    assert "not a synthetic city" in str(bad.exception)
