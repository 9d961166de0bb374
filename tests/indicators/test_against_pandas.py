"""Every indicator with data in the synthetic state, at several grains, agrees with an independent
pandas implementation of the same definitions (bench/pandas_indicators.py)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from justicelab.indicators import compute
from justicelab.standard import load_standard

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from indicators import export, requests
from pandas_indicators import compute_pandas, load_tables


def test_engine_and_pandas_agree(state_wh, tmp_path):
    export(state_wh, tmp_path)
    tables = load_tables(tmp_path, [p.stem for p in tmp_path.glob("*.parquet")])
    std = load_standard()
    reqs = requests(state_wh)
    assert {name for name, _ in reqs} >= {"arrest_rate", "arrest_count", "incidents_reported",
                                          "incident_clearance_rate", "population"}
    for name, by in [*reqs, ("arrest_rate", ["year", "sex", "race"]), ("arrest_rate", ["year", "age_group"])]:
        ours = {tuple(r[d] for d in by): r["value"] for r in compute(state_wh, name, by).to_pyarrow().to_pylist()}
        theirs = compute_pandas(tables, std.indicator(name), by)
        theirs = {tuple(int(v) if isinstance(v, float) and d == "year" else v for d, v in zip(by, key, strict=True)):
                  val for key, val in zip(theirs[by].itertuples(index=False), theirs["value"], strict=True)}
        assert ours.keys() == theirs.keys(), name
        for k, v in ours.items():
            if v is None or (isinstance(theirs[k], float) and math.isnan(theirs[k])):
                assert v is None and math.isnan(theirs[k]), (name, k)
            else:
                assert v == pytest.approx(theirs[k]), (name, k)
