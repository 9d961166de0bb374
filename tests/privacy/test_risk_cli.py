"""`justicelab privacy assess` as a user runs it: a workspace table or a file, table/JSON/CSV, clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.privacy.risk import RiskError
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse, ensure_entity_table

runner = CliRunner()
DEATHS = [  # death_id, date_of_death, county, age, sex, race_ethnicity, manner_of_death
    ("d1", "2015-01-05", "alameda", 34, "M", "black", "natural"),
    ("d2", "2015-01-20", "alameda", 36, "M", "black", "suicide"),
    ("d3", "2015-02-11", "alameda", 38, "M", "black", "natural"),
    ("d4", "2016-07-01", "sierra", 71, "F", "white", "natural"),
    ("d5", "2016-07-03", "los_angeles", 22, "M", "hispanic", "homicide"),
    ("d6", "2016-08-09", "los_angeles", 24, "M", "hispanic", "accidental"),
]


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "ws"]).exit_code == 0
    root = tmp_path / "ws"
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        ensure_entity_table(wh, load_standard().entity("custody_death"))
        for row in DEATHS:
            wh.execute("INSERT INTO custody_death (death_id, date_of_death, county, age, sex, race_ethnicity, "
                       f"manner_of_death) VALUES ('{row[0]}', DATE '{row[1]}', '{row[2]}', {row[3]}, '{row[4]}', "
                       f"'{row[5]}', '{row[6]}')")
    monkeypatch.chdir(root)
    return root


def invoke(*args: str):
    return runner.invoke(app, ["privacy", "assess", *args], catch_exceptions=False)


def test_the_issue_command_prints_every_measure_and_the_riskiest_records(workspace):
    out = invoke("custody_death", "--qi", "county,year,month,age,sex,race", "--sensitive", "manner_of_death",
                 "--top", "3")
    assert out.exit_code == 0, out.output
    for text in ("k-anonymity", "sample uniqueness", "prosecutor risk: highest", "marketer risk", "journalist risk",
                 "l-diversity (distinct)", "l-diversity (entropy)", "t-closeness", "riskiest records",
                 "Equivalence classes by size", "not computed"):
        assert text in out.output, text
    assert "d1" in out.output and "2015-01" in out.output


def test_json_has_every_section_and_the_generalised_labels(workspace):
    out = invoke("custody_death", "--qi", "county:region,year,age:band_10,sex", "--sensitive", "manner_of_death",
                 "--format", "json", "--top", "6")
    doc = json.loads(out.stdout)
    measures = {(m["measure"], m["attribute"]): m["value"] for m in doc["measures"]}
    assert measures[("k-anonymity", "")] == 1 and measures[("records", "")] == 6
    # bay_area/2015/30-39/M holds d1-d3; los_angeles/2016/20-29/M holds d5-d6; sierra's death is alone.
    assert measures[("sample uniqueness", "")] == pytest.approx(1 / 6)
    assert measures[("l-diversity (distinct)", "manner_of_death")] == 1
    by_id = {r["record"]: r for r in doc["riskiest_records"]}
    assert by_id["d1"]["county"] == "bay_area" and by_id["d1"]["age"] == "30-39" and by_id["d1"]["class_size"] == 3
    assert by_id["d4"]["prosecutor_risk"] == 1.0 and doc["riskiest_records"][0]["record"] == "d4"
    assert doc["class_sizes"][0] == {"class_size": "1", "classes": 1, "records": 1, "share_of_records": 1 / 6}


def test_csv_gives_the_measures_and_records_go_to_a_file(workspace):
    out = invoke("custody_death", "--qi", "county,sex", "--format", "csv", "--records", "risk.csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows[0] == {"measure": "records", "attribute": "", "value": "6", "meaning": "records measured"}
    written = list(csv.DictReader((workspace / "risk.csv").open()))
    assert len(written) == 6 and {r["record"] for r in written} == {f"d{i}" for i in range(1, 7)}


def test_an_external_file(workspace, tmp_path):
    path = tmp_path / "release.csv"
    path.write_text("county,age_band,sex\nalameda,30-39,M\nalameda,30-39,M\nsierra,70-79,F\n", encoding="utf-8")
    doc = json.loads(invoke("--file", str(path), "--qi", "county,age_band,sex", "-f", "json").stdout)
    assert {m["measure"]: m["value"] for m in doc["measures"]}["k-anonymity"] == 1
    assert doc["dataset"] == "release.csv"


def test_errors_exit_non_zero_and_name_the_choices(workspace):
    bad = runner.invoke(app, ["privacy", "assess", "deaths", "--qi", "county"])
    assert bad.exit_code != 0 and isinstance(bad.exception, RiskError)
    assert "unknown dataset 'deaths'" in str(bad.exception) and "custody_death" in str(bad.exception)
    bad = runner.invoke(app, ["privacy", "assess", "custody_death", "--qi", "county,colour"])
    assert "no column 'colour'" in str(bad.exception) and "race_ethnicity" in str(bad.exception)
    bad = runner.invoke(app, ["privacy", "assess", "--qi", "county"])
    assert "name a DATASET" in str(bad.exception)
    helped = runner.invoke(app, ["privacy", "assess", "--help"])
    assert helped.exit_code == 0 and "justicelab privacy assess custody_death" in helped.output
