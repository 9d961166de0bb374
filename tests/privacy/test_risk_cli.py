"""`justicelab privacy assess` as a user runs it: a workspace dataset read through the gate, or a file;
table/JSON/CSV; clear errors, refusals and what the audit ledger records."""

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
from justicelab.errors import AccessDenied
from justicelab.privacy.risk import RiskError
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse, ensure_entity_table
from tests.gate.access import load_agencies
from tests.privacy.gated import AS_READER, allow, ledger

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
    """The six deaths (and the agency directory the gate generalises agencies by); ana may read them identified."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JUSTICELAB_USER", raising=False)
    monkeypatch.delenv("JUSTICELAB_TOKEN", raising=False)
    assert runner.invoke(app, ["init", "ws"]).exit_code == 0
    root = tmp_path / "ws"
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        ensure_entity_table(wh, load_standard().entity("custody_death"))
        for row in DEATHS:
            wh.execute("INSERT INTO custody_death (death_id, date_of_death, county, age, sex, race_ethnicity, "
                       f"manner_of_death, last_name, _record_id) VALUES ('{row[0]}', DATE '{row[1]}', '{row[2]}', "
                       f"{row[3]}, '{row[4]}', '{row[5]}', '{row[6]}', 'NAME{row[0]}', 'deaths:{row[0]}')")
        load_agencies(wh)
    allow(root)
    monkeypatch.chdir(root)
    return root


def invoke(*args: str, reader: tuple[str, ...] = AS_READER):
    return runner.invoke(app, ["privacy", "assess", *args, *reader], catch_exceptions=False)


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


def test_an_external_file_needs_no_user_or_purpose(workspace, tmp_path):
    path = tmp_path / "release.csv"
    path.write_text("county,age_band,sex\nalameda,30-39,M\nalameda,30-39,M\nsierra,70-79,F\n", encoding="utf-8")
    doc = json.loads(invoke("--file", str(path), "--qi", "county,age_band,sex", "-f", "json", reader=()).stdout)
    assert {m["measure"]: m["value"] for m in doc["measures"]}["k-anonymity"] == 1
    assert doc["dataset"] == "release.csv"


def test_errors_exit_non_zero_and_name_the_choices(workspace):
    bad = runner.invoke(app, ["privacy", "assess", "deaths", "--qi", "county", *AS_READER])
    assert bad.exit_code != 0 and isinstance(bad.exception, RiskError)
    assert "unknown dataset 'deaths'" in str(bad.exception) and "custody_death" in str(bad.exception)
    bad = runner.invoke(app, ["privacy", "assess", "custody_death", "--qi", "county,colour", *AS_READER])
    assert "no column 'colour'" in str(bad.exception) and "race_ethnicity" in str(bad.exception)
    bad = runner.invoke(app, ["privacy", "assess", "--qi", "county", *AS_READER])
    assert "name a DATASET" in str(bad.exception)
    bad = runner.invoke(app, ["privacy", "assess", "custody_death", "--qi", "county", "--as", "ana"])
    assert isinstance(bad.exception, RiskError) and "give --purpose" in str(bad.exception)
    helped = runner.invoke(app, ["privacy", "assess", "--help"])
    assert helped.exit_code == 0 and "justicelab privacy assess custody_death --as ana --purpose" in helped.output
    # Only the --qi colour attempt read rows (the columns are known once read): the others read nothing.
    assert len(ledger(workspace, "read")) == 1


def test_each_assessment_is_one_read_in_the_ledger(workspace):
    invoke("custody_death", "--qi", "county,sex", "-f", "json")
    out = invoke("custody_death", "--qi", "county,year", "--top", "0")
    assert "6 rows of custody_death read through the gate by ana for 'research'; audit entry #" in out.output
    reads = ledger(workspace, "read")
    assert [(r["actor"], r["target"], r["details"]["row_count"]) for r in reads] == [("ana", "custody_death", 6)] * 2
    assert reads[0]["details"]["purpose"] == "research" and reads[0]["details"]["level"]["last_name"] == "identified"


def test_a_reader_without_a_grant_is_refused_with_exit_3_and_the_refusal_is_recorded(workspace):
    allow(workspace, (), user="rita")  # rita exists, with no grant
    with pytest.raises(AccessDenied, match="no grant on custody_death for rita"):
        invoke("custody_death", "--qi", "county", reader=("--as", "rita", "--purpose", "research"))
    result = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "privacy", "assess",
                             "custody_death", "--qi", "county", "--as", "rita", "--purpose", "research"],
                            capture_output=True, text=True, cwd=workspace)
    assert result.returncode == 3 and result.stdout == ""
    assert "rita may not read rows of custody_death for purpose 'research': no grant on custody_death for rita" \
        in result.stderr
    denials = ledger(workspace, "read.denied")
    assert [(d["actor"], d["target"]) for d in denials] == [("rita", "custody_death")] * 2
    assert "no grant on custody_death for rita" in denials[1]["details"]["reason"]
    assert ledger(workspace, "read") == []


def test_a_deidentified_reader_measures_the_gates_generalised_columns(workspace):
    allow(workspace, level="deidentified", user="rita")
    rita = ("--as", "rita", "--purpose", "research")
    doc = json.loads(invoke("custody_death", "--qi", "county,age,month,sex", "--top", "6", "-f", "json",
                            reader=rita).stdout)
    by_age = sorted(r["age"] for r in doc["riskiest_records"])
    assert by_age == ["20-24", "20-24", "30-34", "35-39", "35-39", "70-74"]  # 5-year bands, as the gate shows them
    assert {r["month"] for r in doc["riskiest_records"]} == {"2015-01", "2015-02", "2016-07", "2016-08"}
    records = {r["record"] for r in doc["riskiest_records"]}  # the record key is dropped: a pseudonym stands in
    assert len(records) == 6 and all(r.startswith("p_") for r in records)
    measures = {(m["measure"], m["attribute"]): m["value"] for m in doc["measures"]}
    assert measures[("k-anonymity", "")] == 1  # d1 (30-34) stands apart from d2-d3 (35-39)
    # Coarser levels follow exactly from the gate's labels: months give years, 5-year bands 10-year ones.
    doc = json.loads(invoke("custody_death", "--qi", "county:region,year,age:band_10,sex", "-f", "json", "--top", "6",
                            reader=rita).stdout)
    assert {(r["county"], r["year"], r["age"]) for r in doc["riskiest_records"]} == {
        ("bay_area", "2015", "30-39"), ("superior_california", "2016", "70-79"), ("los_angeles", "2016", "20-29")}
    assert {m["measure"]: m["value"] for m in doc["measures"]}["k-anonymity"] == 1
    with pytest.raises(RiskError, match=r"age of custody_death is readable by rita only generalised to age.band_5"):
        invoke("custody_death", "--qi", "age:years", reader=rita)
    with pytest.raises(RiskError, match=r"quasi-identifier last_name: last_name of custody_death is not readable by "
                       r"rita at this level \(deidentified: direct identifier: dropped, for purpose 'research'\)"):
        invoke("custody_death", "--qi", "county,last_name", reader=rita)
    assert [r["actor"] for r in ledger(workspace, "read")] == ["rita"] * 4
