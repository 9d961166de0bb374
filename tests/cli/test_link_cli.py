"""``justicelab link`` and ``person`` as a user drives them, on a small synthetic city workspace."""

from __future__ import annotations

import json

import pytest

from justicelab.linkage import LinkageError
from tests.cli.test_cli import run


@pytest.mark.parametrize("group", [["link", "run"], ["link", "status"], ["link", "explain"], ["link", "evaluate"],
                                   ["link", "review", "list"], ["link", "review", "accept"], ["person", "show"]])
def test_link_commands_have_help_with_an_example(group):
    assert "Example" in run(*group, "--help").stdout


def test_link_run_status_review_explain_evaluate_person(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init", "city")
    monkeypatch.chdir(tmp_path / "city")
    run("synth", "city", "data", "--people", "800", "--years", "3", "--seed", "5", "--register")
    run("ingest", "--all")
    summary = {r["measure"]: r["value"] for r in json.loads(run("link", "run", "--format", "json").stdout)}
    assert summary["records"] > 800 and 0 < summary["persons"] < summary["records"]
    assert "Model" in run("link", "status").stdout
    scores = json.loads(run("link", "evaluate", "--answer-key", "data/answer_key/answer_key.csv",
                            "--format", "json").stdout)
    assert scores[0]["group"] == "overall" and scores[0]["pair_f1"] > 0.9
    pending = json.loads(run("link", "review", "list", "--format", "json").stdout)
    if pending:
        first = pending[0]
        shown = json.loads(run("link", "review", "show", str(first["review_id"]), "--format", "json").stdout)
        assert shown[-1]["comparison"] == "total"
        assert "rejected" in run("link", "review", "reject", str(first["review_id"]), "--user", "ana").stdout
    index = json.loads(run("person", "show", "PER-00000001", "--format", "json").stdout)
    assert index and all(r["record_id"] for r in index)
    a = index[0]["record_id"]
    waterfall = json.loads(run("link", "explain", a, a, "--format", "json").stdout)
    assert waterfall[0]["step"].startswith("prior")
    with pytest.raises(LinkageError, match="not in the warehouse"):
        run("link", "explain", a, "nowhere:1", ok=False)
    again = {r["measure"]: r["value"] for r in json.loads(run("link", "run", "--incremental", "--format",
                                                              "json").stdout)}
    assert again["kind"] == "incremental" and again["persons"] == summary["persons"]
    assert again["pairs scored (involving new or changed records)"] == 0
