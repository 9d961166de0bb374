"""`justicelab release build | list | show` as a publisher runs them on a workspace: a public release with its
files, a second release checked together with the first, a changed dataset whose new table would give away the
difference, a researcher release only under the researcher's own grant, and an internal one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.errors import AccessDenied
from justicelab.gate import GateSecret, grantee_key, reference_pseudonym
from justicelab.privacy.anonymize import PolicyError
from justicelab.privacy.releases import ReleaseError, releases
from justicelab.warehouse import Warehouse
from tests.privacy.gated import PURPOSE, READER, allow, ledger
from tests.privacy.test_anonymize_engine import POLICY, build_deaths

runner = CliRunner()

RELEASES = """dataset: custody_death
title: Deaths in custody
publisher: Test DOJ
description: Deaths in custody, synthetic.
risk: {qi: [county, month, age, sex], sensitive: [manner_of_death]}
tiers:
  public:
    description: Anyone.
    records: {policy: public.yaml}
    tables:
      - {name: county_year, by: [county, year]}
  researcher:
    description: One researcher under a data-use agreement.
    records: {policy: researcher.yaml}
    pseudonyms: true
  internal:
    description: Staff.
    records: {as_read: true}
    tables:
      - {name: county_year, by: [county, year], threshold: 0}
"""

AS = ("--as", READER, "--purpose", PURPOSE)


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "ws"]).exit_code == 0
    root = tmp_path / "ws"
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        build_deaths(wh)
    (root / "public.yaml").write_text(POLICY.replace("k: 5", "k: 11"), encoding="utf-8")
    (root / "researcher.yaml").write_text(POLICY.replace("tier: public", "tier: researcher"), encoding="utf-8")
    (root / "releases.yaml").write_text(RELEASES, encoding="utf-8")
    allow(root)
    monkeypatch.chdir(root)
    return root


def release(*args: str):
    return runner.invoke(app, ["release", *args], catch_exceptions=False)


def build(tier: str, *extra: str):
    return release("build", "custody_death", "--tier", tier, "-p", "releases.yaml", *AS, *extra)


def test_a_public_release_writes_data_dictionary_metadata_and_note_and_is_recorded(workspace):
    out = build("public")
    assert out.exit_code == 0, out.output
    assert "custody_death-public-1" in out.output and "county_year" in out.output
    folder = workspace / "releases" / "custody_death-public-1"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data", "datapackage.json", "metadata.json"]
    records = pd.read_csv(folder / "data" / "custody_death.csv", dtype=str, keep_default_na=False)
    assert "death_id" not in records.columns and len(records) >= 0.95 * 900
    assert records.groupby(["county", "date_of_death", "age", "sex"]).size().min() >= 11
    table = pd.read_csv(folder / "data" / "county_year.csv", dtype=str, keep_default_na=False)
    small = table[(table["n"] != "") & (table["n"].map(lambda v: v.isdigit() and 1 <= int(v) <= 10))]
    assert small.empty, "no published count between 1 and 10"
    assert set(table["status"]) <= {"published", "suppressed: small count", "suppressed: protects another cell"}
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["tier"] == "public" and meta["built_by"] == READER and meta["risk_as_held"]["k"] == 1
    assert meta["records"]["achieved"]["k"] >= 11 and meta["tables"][0]["unsafe_cells"] == 0
    assert meta["joint_check"]["safe"] and len(meta["joint_check"]["artifacts"]) == 2
    package = json.loads((folder / "datapackage.json").read_text())
    fields = {f["name"]: f for f in package["resources"][0]["schema"]["fields"]}
    assert "County" in fields["county"]["description"] and "level" in fields["age"]["description"]
    note = (folder / "README.md").read_text()
    for heading in ("## How the data was protected", "## Risk before and after", "## Table `county_year`",
                    "## Checked together with earlier releases", "## Files"):
        assert heading in note
    listed = release("list", "--as", READER, "--format", "json")
    assert json.loads(listed.stdout)[0]["name"] == "custody_death-public-1"
    shown = release("show", "custody_death-public-1", "--as", READER, "--format", "json")
    assert json.loads(shown.stdout)["metadata"]["files"] == meta["files"]
    assert [e["target"] for e in ledger(workspace, "read")][-1] == "custody_death"


def test_the_second_release_is_checked_with_the_first(workspace):
    assert build("public").exit_code == 0
    out = build("public", "--format", "json")
    meta = json.loads(out.stdout)
    assert meta["release"] == "custody_death-public-2"
    assert len(meta["joint_check"]["artifacts"]) == 4 and meta["joint_check"]["safe"]


def _late_reports(workspace: Path, county: str, year: str, elsewhere: int = 0) -> None:
    """Three late reports in one cell (and ``elsewhere`` more, one in each of other cells)."""
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        wh.execute(f"INSERT INTO custody_death (death_id, date_of_death, county, age, sex, race_ethnicity, "
                   f"manner_of_death) SELECT 'late' || i, DATE '{year}-06-15', '{county}', 40, 'M', 'white', "
                   "'natural' FROM range(3) t(i)")
        if elsewhere:
            wh.execute(f"""INSERT INTO custody_death (death_id, date_of_death, county, age, sex, race_ethnicity,
                           manner_of_death)
                           SELECT 'more' || row_number() OVER (), date_of_death, county, age, sex, race_ethnicity,
                                  manner_of_death
                           FROM (SELECT DISTINCT ON (county, year(date_of_death)) * FROM custody_death
                                 WHERE NOT (county = '{county}' AND year(date_of_death) = {year})
                                   AND death_id NOT LIKE 'late%') LIMIT {elsewhere}""")


def _shown_cell(folder: Path) -> tuple[str, str, int]:
    table = pd.read_csv(folder / "data" / "county_year.csv", dtype=str, keep_default_na=False)
    shown = table[(table["status"] == "published") & (table["county"] != "Total") & (table["year"] != "Total")]
    row = shown.iloc[0]
    return row["county"], row["year"], int(row["n"])


def test_new_records_in_a_published_cell_are_hidden_in_the_next_table(workspace):
    (workspace / "tables.yaml").write_text(RELEASES.split("  researcher:")[0].replace(
        "    records: {policy: public.yaml}\n", ""), encoding="utf-8")
    run = ("build", "custody_death", "--tier", "public", "-p", "tables.yaml", *AS, "--format", "json")
    assert release(*run).exit_code == 0
    county, year, _ = _shown_cell(workspace / "releases" / "custody_death-public-1")
    _late_reports(workspace, county, year, elsewhere=20)
    out = release(*run)
    assert out.exit_code == 0, out.output
    meta = json.loads(out.stdout)
    assert meta["joint_check"]["safe"] and len(meta["joint_check"]["artifacts"]) == 2
    table = pd.read_csv(workspace / "releases" / "custody_death-public-2" / "data" / "county_year.csv",
                        dtype=str, keep_default_na=False)
    cell = table[(table["county"] == county) & (table["year"] == year)].iloc[0]
    assert cell["n"] == "" and cell["status"] != "published", "the 3 late reports must not be readable as a difference"


def test_a_record_file_that_would_give_away_late_reports_is_refused(workspace):
    assert build("public").exit_code == 0
    county, year, _ = _shown_cell(workspace / "releases" / "custody_death-public-1")
    _late_reports(workspace, county, year)
    with pytest.raises(ReleaseError, match=r"3 record\(s\).*bound it to \[3, 3\]"):
        build("public")
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        assert [r.name for r in releases(wh)] == ["custody_death-public-1"]
    assert sorted(p.name for p in (workspace / "releases").iterdir()) == ["custody_death-public-1"]


def test_a_researcher_release_needs_the_researchers_own_grant_and_pseudonymises_for_them(workspace):
    with pytest.raises(ReleaseError, match="carol"):
        build("researcher", "--for", "carol")
    allow(workspace, user="carol", level="deidentified")
    out = build("researcher", "--for", "carol", "--format", "json")
    assert out.exit_code == 0, out.output
    folder = workspace / "releases" / "custody_death-researcher-carol-1"
    rows = pd.read_csv(folder / "data" / "custody_death.csv", dtype=str)
    assert rows["record_pseudonym"].str.fullmatch(r"p_[0-9a-f]{20}").all() and rows["record_pseudonym"].is_unique
    key = grantee_key(GateSecret.load_or_create(workspace), "user:carol")
    expected = {reference_pseudonym(key, "death_id", f"d{i:04d}") for i in range(900)}
    assert set(rows["record_pseudonym"]) <= expected
    other = grantee_key(GateSecret.load_or_create(workspace), "user:dan")
    assert not set(rows["record_pseudonym"]) & {reference_pseudonym(other, "death_id", f"d{i:04d}")
                                                 for i in range(900)}


def test_an_internal_release_publishes_every_count_and_is_not_held_against_public_ones(workspace):
    out = build("internal", "--format", "json")
    assert out.exit_code == 0, out.output
    meta = json.loads(out.stdout)
    assert meta["tables"][0]["suppressed"] == 0 and meta["records"]["records"] == 900
    assert json.loads(build("public", "--format", "json").stdout)["joint_check"]["artifacts"] == [
        "custody_death-public-1/custody_death", "custody_death-public-1/county_year"]


def test_refusals_name_the_reason(workspace):
    with pytest.raises(AccessDenied):
        release("build", "custody_death", "--tier", "public", "-p", "releases.yaml", "--as", READER,
                "--purpose", "marketing")
    assert ledger(workspace, "read.denied")
    (workspace / "bad.yaml").write_text(RELEASES.replace("records: {as_read: true}", "records: {as_red: true}"))
    with pytest.raises(PolicyError, match=r"bad.yaml:\d+: tiers.internal.records.as_red: unknown key"):
        release("build", "custody_death", "--tier", "internal", "-p", "bad.yaml", *AS)
    with pytest.raises(ReleaseError, match="--for"):
        build("researcher")
    with pytest.raises(ReleaseError, match="no release named"):
        release("show", "nothing-1", "--as", READER)
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        assert releases(wh) == []
    assert not any((workspace / "releases").iterdir())
