"""A workspace whose justicelab.toml names a PostgreSQL warehouse: the CLI ingests the synthetic city there."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.warehouse import Warehouse
from justicelab.workspace import Workspace

pytestmark = pytest.mark.integration
runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_ingests_the_synthetic_city_into_postgres(tmp_path, monkeypatch, pg_url):
    monkeypatch.chdir(tmp_path)
    run("init", "city")
    ws = Workspace.load(tmp_path / "city")
    ws.config.warehouse = pg_url
    ws.save()
    monkeypatch.chdir(ws.root)
    run("synth", "city", "data", "--people", "1500", "--seed", "2", "--register")
    batches = json.loads(run("ingest", "--all", "--format", "json"))
    assert len(batches) == 6 and all(b["status"] == "loaded" for b in batches)
    assert all(b["read"] == b["loaded"] + b["quarantined"] for b in batches)
    status = json.loads(run("status", "--format", "json"))
    assert status["warehouse"] == pg_url
    with Warehouse.open(pg_url) as pg:
        assert pg.kind == "postgres"
        assert {t["table"] for t in status["tables"]} <= set(pg.ibis.list_tables())
        assert sum(t["rows"] for t in status["tables"]) == sum(b["loaded"] for b in batches)
    again = json.loads(run("ingest", "--all", "--format", "json"))
    assert all(b["status"] == "skipped" for b in again)
