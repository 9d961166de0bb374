"""Fixtures for the indicator tests: a synthetic state loaded once per session."""

from __future__ import annotations

import pytest

from justicelab.ingest import ingest_file, load_mapping
from justicelab.synth import generate_state
from justicelab.warehouse import Warehouse


@pytest.fixture(scope="session")
def state_wh(tmp_path_factory):
    root = tmp_path_factory.mktemp("state")
    m = generate_state(root / "files", agencies=60, years=4, first_year=2020, incidents=40_000, seed=5)
    wh = Warehouse.open(str(root / "wh.duckdb"))
    for s in m.sources:
        ingest_file(wh, m.path(s.path), load_mapping(m.path(s.mapping)))
    yield wh
    wh.close()


