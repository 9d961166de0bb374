"""``justicelab privacy dp-counts`` and ``privacy budget`` as a user drives them, on a synthetic workspace."""

from __future__ import annotations

import csv
import json

import pytest

from justicelab.privacy.dp import BudgetExceeded, DPError
from justicelab.warehouse import Warehouse
from tests.cli.test_cli import run
from tests.privacy.test_dp_release import add_deaths


@pytest.mark.parametrize("command", [["privacy", "dp-counts"], ["privacy", "budget", "show"],
                                     ["privacy", "budget", "set"]])
def test_dp_commands_have_help_with_an_example(command):
    assert "Example" in run(*command, "--help").stdout


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init", "state")
    root = tmp_path / "state"
    monkeypatch.chdir(root)
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        add_deaths(wh, {("alameda", 2016): 20, ("alameda", 2017): 14, ("kern", 2017): 9, (None, 2017): 2})
    return root


def test_dp_counts_prints_the_table_the_spend_and_the_expected_error(workspace):
    out = run("privacy", "dp-counts", "custody_death", "--by", "county,year", "--domain", "year=2016..2017",
              "--epsilon", "1.0", "--user", "ana").stdout
    assert "(not recorded)" in out and "(all)" in out and "epsilon_remaining" in out and "accuracy_95" in out
    body = json.loads(run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.5",
                          "--mechanism", "gaussian", "--delta", "1e-7", "--format", "json").stdout)
    release, rows = body["release"], body["rows"]
    assert release["mechanism"] == "discrete Gaussian" and release["delta_spent"] == 1e-7
    assert release["epsilon_remaining"] == pytest.approx(3.0 - 1.0 - 0.5, abs=1e-9)
    cells = [r for r in rows if r["level"] == "cell"]
    (total,) = [r["count"] for r in rows if r["level"] == "total"]
    assert len(cells) == 59 and sum(r["count"] for r in cells) == total and min(r["count"] for r in cells) >= 0
    assert [a["level"] for a in body["accuracy"]] == ["total", "cell"]


def test_dp_counts_writes_csv_and_the_budget_lists_every_release(workspace):
    run("privacy", "dp-counts", "custody_death", "--by", "sex", "--epsilon", "0.25", "--out", "sex.csv")
    with (workspace / "sex.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["level"] == "total" and sum(int(r["count"]) for r in rows[:-1]) == int(rows[-1]["count"])
    piped = run("privacy", "dp-counts", "custody_death", "--epsilon", "0.25", "--format", "csv").stdout
    assert piped.splitlines()[0] == "level,count" and piped.splitlines()[1].startswith("total,")
    shown = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)
    assert shown["budget"]["releases"] == 2 and shown["budget"]["spent_epsilon"] == pytest.approx(0.5)
    assert [e["entry_id"] for e in shown["ledger"]] == [1, 2] and "by sex" in shown["ledger"][0]["query"]
    run("privacy", "dp-counts", "custody_death", "--by", "year", "--domain", "year=2016..2017", "--epsilon", "0.1")
    query = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)["ledger"][-1]
    assert "by year; --domain year=2016..2017; 1 record(s)/person; laplace epsilon=0.1" in query["query"]
    assert "Ledger" in run("privacy", "budget", "show", "custody_death").stdout


def test_over_budget_and_missing_domains_are_refused_with_a_clear_message(workspace):
    run("privacy", "budget", "set", "custody_death", "--epsilon", "1", "--note", "pilot")
    run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.75")
    with pytest.raises(BudgetExceeded, match=r"only epsilon 0\.25 left"):
        run("privacy", "dp-counts", "custody_death", "--by", "county", "--epsilon", "0.5", ok=False)
    with pytest.raises(DPError, match="--domain year="):
        run("privacy", "dp-counts", "custody_death", "--by", "year", "--epsilon", "0.1", ok=False)
    with pytest.raises(DPError, match=r"--clamp 5\.\.1"):
        run("privacy", "dp-counts", "custody_death", "--sum", "age", "--clamp", "5..1", "--epsilon", "0.1", ok=False)
    shown = json.loads(run("privacy", "budget", "show", "custody_death", "--format", "json").stdout)
    assert shown["budget"]["releases"] == 1 and shown["budget"]["set_by"] != "(default)"


def test_the_console_script_exits_non_zero_with_the_message(workspace):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "privacy",
                             "dp-counts", "custody_death", "--by", "year", "--epsilon", "1"],
                            capture_output=True, text=True, check=False, cwd=workspace)
    assert result.returncode == 1 and "no public list of values" in result.stderr
