"""``justicelab link`` and ``person`` as a user drives them, on a small synthetic city workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justicelab.errors import AccessDenied, GateError
from justicelab.ingest import load_mapping
from justicelab.linkage import LinkageError
from justicelab.workspace import Workspace
from tests.cli.test_cli import run
from tests.gate.access import grant_workspace


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
    # reviewing pairs and looking at persons shows identifying values: through the gate, as a linkage reviewer
    sources = Workspace.find().config.sources
    owners = {load_mapping(Path(source.mapping)).mapping.entity: source.department for source in sources}
    grant_workspace(tmp_path / "city", owners, "ana", "linkage review")
    gated = ["--purpose", "linkage review", "--as", "ana"]
    pending = json.loads(run("link", "review", "list", *gated, "--format", "json").stdout)
    if pending:
        first = pending[0]
        shown = json.loads(run("link", "review", "show", str(first["review_id"]), *gated, "--format", "json").stdout)
        assert shown[-1]["comparison"] == "total"
        assert "rejected" in run("link", "review", "reject", str(first["review_id"]), *gated).stdout
    found = json.loads(run("person", "show", "PER-00000001", *gated, "--format", "json").stdout)
    index = found["records"]
    assert index and all(r["record_id"] and r["last_name"] for r in index) and found["withheld"] == []
    a = index[0]["record_id"]
    waterfall = json.loads(run("link", "explain", a, a, *gated, "--format", "json").stdout)
    assert waterfall[0]["step"].startswith("prior")
    with pytest.raises(GateError, match="not in the warehouse's person index"):
        run("link", "explain", a, "nowhere:1", *gated, ok=False)
    # someone without grants sees nothing of the person, and each dataset says why (whether or not it has records)
    grant_workspace(tmp_path / "city", {}, "zoe", "linkage review")
    nothing = json.loads(run("person", "show", "PER-00000001", "--purpose", "linkage review", "--as", "zoe",
                             "--format", "json").stdout)
    assert nothing["records"] == [] and {w["dataset"] for w in nothing["withheld"]} == set(owners)
    with pytest.raises(AccessDenied, match="no grant on"):
        run("link", "explain", a, a, "--purpose", "linkage review", "--as", "zoe", ok=False)
    reads = json.loads(run("audit", "list", "--action", "read", "--user", "zoe", "--as", "root", "--format",
                           "json").stdout)
    assert len(reads) == len(owners) + 1 and {r["action"] for r in reads} == {"read.denied"}
    again = {r["measure"]: r["value"] for r in json.loads(run("link", "run", "--incremental", "--memory", "256MB",
                                                              "--format", "json").stdout)}
    assert again["kind"] == "incremental" and again["persons"] == summary["persons"]
    assert again["pairs scored (involving new or changed records)"] == 0
    # a memory budget DuckDB cannot read is refused before anything runs, and says what it expected
    with pytest.raises(LinkageError, match="expected a size such as 3GB"):
        run("link", "run", "--memory", "lots", ok=False)
