"""The issue's application: DOJ's real deaths-in-custody file (2005-2018 release) released to the public by the
example release policy (docs/examples/releases/custody_death.yaml), read through the gate, twice: its risk as
published and after, and the second release checked together with the first."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.sources.openjustice import load_agencies, load_custody_deaths, load_population
from justicelab.warehouse import Warehouse
from tests.privacy.gated import PURPOSE, READER, allow

runner = CliRunner()
POLICY = Path(__file__).resolve().parents[2] / "docs" / "examples" / "releases" / "custody_death.yaml"


def test_the_public_release_of_the_real_file(tmp_path, monkeypatch, openjustice_dir):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "ws"]).exit_code == 0
    root = tmp_path / "ws"
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        for load in (load_agencies, load_custody_deaths, load_population):
            load(wh, openjustice_dir)
    allow(root)
    monkeypatch.chdir(root)
    args = ["release", "build", "custody_death", "--tier", "public", "-p", str(POLICY), "--as", READER,
            "--purpose", PURPOSE, "--format", "json"]
    first = runner.invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    meta = json.loads(first.stdout)
    held, achieved = meta["risk_as_held"], meta["records"]["achieved"]
    table = meta["tables"][0]
    print(f"\nas published: {held['records']} deaths, k={held['k']}, unique {held['sample_uniqueness']:.4f}, "
          f"prosecutor risk {held['prosecutor_risk_highest']:.3f}; public release: levels {meta['records']['levels']},"
          f" {meta['records']['released']} released ({meta['records']['suppressed']} left out), k={achieved['k']}, "
          f"unique {achieved['sample_uniqueness']:.4f}, prosecutor risk {achieved['prosecutor_risk_highest']:.3f}; "
          f"county x year: {table['cells']} cells, {table['primary']} small, {table['suppressed']} suppressed, "
          f"{table['verified']}")
    assert held["records"] == 9_910 and held["k"] == 1 and held["sample_uniqueness"] > 0.95
    assert achieved["k"] >= 11 and achieved["sample_uniqueness"] == 0
    assert achieved["prosecutor_risk_highest"] <= 1 / 11
    assert table["unsafe_cells"] == 0 and table["recoverable_cells"] == 0
    counts = pd.read_csv(root / "releases" / "custody_death-public-1" / "data" / "county_year.csv",
                         dtype=str, keep_default_na=False)
    assert not counts["n"].map(lambda v: v.isdigit() and 1 <= int(v) <= 10).any()
    second = runner.invoke(app, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    joint = json.loads(second.stdout)["joint_check"]
    assert joint["safe"] and len(joint["artifacts"]) == 4
