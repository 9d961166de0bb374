"""``justicelab privacy dp-counts`` and ``privacy budget`` as a user drives them, on a synthetic workspace: the
records are read through the gate as the user (one audit-ledger read per release), who also spends the budget."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from justicelab.errors import AccessDenied
from justicelab.privacy.dp import BudgetExceeded, DPError
from justicelab.warehouse import Warehouse
from tests.cli.test_cli import run
from tests.gate.access import load_agencies, new_workspace
from tests.privacy.gated import AS_READER, allow, ledger
from tests.privacy.test_dp_release import add_deaths

RITA = ("--as", "rita", "--purpose", "research")


@pytest.mark.parametrize("command", [["privacy", "dp-counts"], ["privacy", "budget", "show"],
                                     ["privacy", "budget", "set"]])
def test_dp_commands_have_help_with_an_example(command):
    assert "Example" in run(*command, "--help").stdout


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """45 deaths (and the agency directory the gate generalises agencies by); ana may read them identified."""
    root = new_workspace(tmp_path, monkeypatch, "state")
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        add_deaths(wh, {("alameda", 2016): 20, ("alameda", 2017): 14, ("kern", 2017): 9, (None, 2017): 2})
        load_agencies(wh)
    allow(root)
    return root


def test_dp_counts_prints_the_table_the_spend_and_the_expected_error(workspace):
    out = run("privacy", "dp-counts", "custody_death", "--by", "county,year", "--domain", "year=2016..2017",
              "--epsilon", "1.0", *AS_READER).stdout
    assert "(not recorded)" in out and "(all)" in out and "epsilon_remaining" in out and "accuracy_95" in out
    body = json.loads(run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.5",
                          "--mechanism", "gaussian", "--delta", "1e-7", "--format", "json", *AS_READER).stdout)
    release, rows = body["release"], body["rows"]
    assert release["mechanism"] == "discrete Gaussian" and release["delta_spent"] == 1e-7
    assert release["epsilon_remaining"] == pytest.approx(3.0 - 1.0 - 0.5, abs=1e-9)
    cells = [r for r in rows if r["level"] == "cell"]
    (total,) = [r["count"] for r in rows if r["level"] == "total"]
    assert len(cells) == 59 and sum(r["count"] for r in cells) == total and min(r["count"] for r in cells) >= 0
    assert [a["level"] for a in body["accuracy"]] == ["total", "cell"]


def test_dp_counts_writes_csv_and_the_budget_lists_every_release(workspace):
    run("privacy", "dp-counts", "custody_death", "--by", "sex", "--epsilon", "0.25", "--out", "sex.csv", *AS_READER)
    with (workspace / "sex.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["level"] == "total" and sum(int(r["count"]) for r in rows[:-1]) == int(rows[-1]["count"])
    piped = run("privacy", "dp-counts", "custody_death", "--epsilon", "0.25", "--format", "csv", *AS_READER).stdout
    assert piped.splitlines()[0] == "level,count" and piped.splitlines()[1].startswith("total,")
    shown = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)
    assert shown["budget"]["releases"] == 2 and shown["budget"]["spent_epsilon"] == pytest.approx(0.5)
    assert [e["entry_id"] for e in shown["ledger"]] == [1, 2] and "by sex" in shown["ledger"][0]["query"]
    assert {e["spent_by"] for e in shown["ledger"]} == {"ana"}  # the acting user spends the budget
    run("privacy", "dp-counts", "custody_death", "--by", "year", "--domain", "year=2016..2017", "--epsilon", "0.1",
        *AS_READER)
    query = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)["ledger"][-1]
    assert "by year; --domain year=2016..2017; 1 record(s)/person; laplace epsilon=0.1" in query["query"]
    assert "Ledger" in run("privacy", "budget", "show", "custody_death").stdout


def test_over_budget_and_missing_domains_are_refused_with_a_clear_message(workspace):
    run("privacy", "budget", "set", "custody_death", "--epsilon", "1", "--note", "pilot")
    run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.75", *AS_READER)
    with pytest.raises(BudgetExceeded, match=r"only epsilon 0\.25 left"):
        run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.5", *AS_READER, ok=False)
    with pytest.raises(DPError, match="--domain year="):
        run("privacy", "dp-counts", "custody_death", "--by", "year", "--epsilon", "0.1", *AS_READER, ok=False)
    with pytest.raises(DPError, match=r"--clamp 5\.\.1"):
        run("privacy", "dp-counts", "custody_death", "--sum", "age", "--clamp", "5..1", "--epsilon", "0.1",
            *AS_READER, ok=False)
    shown = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)
    assert shown["budget"]["releases"] == 1 and shown["budget"]["set_by"] != "(default)"
    assert len(ledger(workspace, "read")) == 1  # a refused release reads nothing


def test_the_console_script_exits_non_zero_with_the_message(workspace):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "privacy",
                             "dp-counts", "custody_death", "--by", "year", "--epsilon", "1", *AS_READER],
                            capture_output=True, text=True, check=False, cwd=workspace)
    assert result.returncode == 1 and "no public list of values" in result.stderr


def test_each_release_is_one_read_in_the_ledger_of_the_columns_it_needs(workspace):
    out = run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.5", *AS_READER)
    assert "45 rows of custody_death read through the gate by ana for 'research'; audit entry #" in out.output
    (read,) = ledger(workspace, "read")
    assert read["actor"] == "ana" and read["details"]["row_count"] == 45
    assert read["details"]["fields_asked"] == ["county", "_record_id", "person_id"]


def test_a_reader_without_a_grant_is_refused_with_exit_3_recorded_and_spends_nothing(workspace):
    allow(workspace, (), user="rita")
    result = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "privacy",
                             "dp-counts", "custody_death", "--by", "county", "--epsilon", "1", *RITA],
                            capture_output=True, text=True, check=False, cwd=workspace)
    assert result.returncode == 3 and result.stdout == ""
    assert "rita may not read rows of custody_death for purpose 'research': no grant" in result.stderr
    assert [(d["actor"], d["target"]) for d in ledger(workspace, "read.denied")] == [("rita", "custody_death")]
    shown = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)
    assert shown["budget"]["releases"] == 0 and ledger(workspace, "read") == []


def test_a_deidentified_reader_groups_by_the_year_of_the_gates_months_not_by_their_labels(workspace):
    allow(workspace, level="deidentified", user="rita")
    run("privacy", "budget", "set", "custody_death", "--epsilon", "100")
    body = json.loads(run("privacy", "dp-counts", "custody_death", "--by", "year", "--domain", "year=2016..2017",
                          "--epsilon", "50", "--format", "json", *RITA).stdout)
    years = {r["year"]: r["count"] for r in body["rows"] if r["level"] == "cell"}
    assert abs(years[2016] - 20) <= 3 and abs(years[2017] - 25) <= 3  # epsilon 50: noise of a count or two
    # Nobody is linked (every pseudonymised person_id is empty): the bound is declared, not claimed as enforced.
    assert body["release"]["contribution"].startswith("at most 1 record per person, declared")
    with pytest.raises(DPError, match=r"--sum age: it is readable by rita only generalised to age.band_5"):
        run("privacy", "dp-counts", "custody_death", "--sum", "age", "--clamp", "0..120", "--epsilon", "0.1", *RITA,
            ok=False)
    with pytest.raises(AccessDenied, match=r"rita may not see agency_name of custody_death"):
        run("privacy", "dp-counts", "custody_death", "--by", "agency_name", "--domain", "agency_name=A|B",
            "--epsilon", "0.1", *RITA, ok=False)
    assert [r["actor"] for r in ledger(workspace, "read")] == ["rita", "rita"]
    assert [d["actor"] for d in ledger(workspace, "read.denied")] == ["rita"]
