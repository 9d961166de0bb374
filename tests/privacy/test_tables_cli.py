"""``justicelab privacy suppress`` as a user runs it: a CSV in, a summary and a publishable table out."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from justicelab.cli import app
from justicelab.privacy.tables import TOTAL, attack, read_table

runner = CliRunner()

ROWS = [
    ("alpine", 2020, 3), ("alpine", 2021, 40), ("alpine", 2022, 50),
    ("butte", 2020, 60), ("butte", 2021, 70), ("butte", 2022, 80),
    ("colusa", 2020, 90), ("colusa", 2021, 45), ("colusa", 2022, 55),
]


def write(path: Path, rows, header=("county", "year", "deaths")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def run(*args: str):
    return runner.invoke(app, ["privacy", "suppress", *args], catch_exceptions=False)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "privacy", "suppress",
                           *args], capture_output=True, text=True)


def test_suppress_prints_the_summary_and_writes_a_safe_table(tmp_path):
    src = write(tmp_path / "deaths.csv", ROWS)
    out = tmp_path / "public.csv"
    result = run(str(src), "--threshold", "11", "--totals", "county,year", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "primary" in result.output and "complementary" in result.output
    assert "safe: for each of the 1 sensitive cells the attacker's feasible interval includes 0 and 11" in result.output
    with out.open(encoding="utf-8") as fh:
        published = list(csv.DictReader(fh))
    assert len(published) == 16  # 3 x 3 cells, 3 + 3 margins, the grand total
    totals = [r for r in published if r["county"] == "Total" and r["year"] == "Total"]
    assert totals == [{"county": "Total", "year": "Total", "deaths": "493", "suppressed": "false"}]
    alpine_2020 = next(r for r in published if r["county"] == "alpine" and r["year"] == "2020")
    assert alpine_2020["deaths"] == "" and alpine_2020["suppressed"] == "true"
    # An outsider's view: the file's values on the table's cells (NaN where suppressed) and the relations.
    structure = read_table(src, totals=["county", "year"])
    shown = {(r["county"], r["year"]): np.nan if r["suppressed"] == "true" else float(r["deaths"])
             for r in published}
    keys = [tuple("Total" if k is TOTAL else str(k) for k in structure.key(i)) for i in range(structure.size)]
    iv = attack(np.array([shown[k] for k in keys]), structure.relations())
    assert np.isnan([shown[k] for k in keys]).sum() == 4
    c = keys.index(("alpine", "2020"))
    assert iv.low[c] == 0 and iv.high[c] >= 11


def test_json_and_csv_output(tmp_path):
    src = write(tmp_path / "deaths.csv", ROWS)
    as_json = run(str(src), "--totals", "county,year", "--format", "json")
    doc = json.loads(as_json.stdout)
    assert doc["summary"]["primary"] == 1 and doc["summary"]["complementary"] == 3
    assert doc["summary"]["unsafe_cells"] == 0 and doc["summary"]["optimal"] is True
    primary = [c for c in doc["suppressed"] if c["status"] == "primary"]
    assert primary == [{"county": "alpine", "year": "2020", "value": 3, "status": "primary",
                        "reason": "count below 11", "attacker_low": 0, "attacker_high": primary[0]["attacker_high"],
                        "required_low": 0, "required_high": 11}]
    assert primary[0]["attacker_high"] >= 11
    as_csv = run(str(src), "--totals", "county,year", "--format", "csv")
    lines = as_csv.stdout.strip().splitlines()
    assert lines[0].startswith("county,year,value,status,reason") and len(lines) == 5


def test_margin_rows_in_the_file_are_used_and_checked(tmp_path):
    rows = [*ROWS, ("alpine", "Total", 93), ("butte", "Total", 210), ("colusa", "Total", 190)]
    ok = run(str(write(tmp_path / "t.csv", rows)), "--format", "json")
    assert json.loads(ok.stdout)["summary"]["totals over"] == "year"
    bad = cli(str(write(tmp_path / "bad.csv", [*ROWS[:-1], ("colusa", 2022, 55), ("alpine", "Total", 94)])))
    assert bad.returncode != 0
    assert "bad.csv, row 11, column deaths: the margin county=alpine, year=Total is 94 but the cells it totals " \
           "add up to 93" in " ".join(bad.stderr.split())


def failure(*args: str) -> str:
    """The error a command stops with (what main() prints after 'error:')."""
    result = runner.invoke(app, ["privacy", "suppress", *args])
    assert result.exit_code != 0 and result.exception is not None
    return " ".join(str(result.exception).split())


def test_bad_input_names_file_row_and_column(tmp_path):
    negative = cli(str(write(tmp_path / "neg.csv", [*ROWS[:4], ("butte", 2021, -70)])))
    assert negative.returncode == 2
    assert "neg.csv, row 6, column deaths: -70 is negative; expected a count" in " ".join(negative.stderr.split())
    assert "frac.csv, row 4, column deaths: 2.5 is not a whole number" in failure(
        str(write(tmp_path / "frac.csv", [*ROWS[:2], ("alpine", 2022, "2.5")])))
    assert "missing the mapped column(s) n" in failure(str(write(tmp_path / "m.csv", ROWS)), "--count-column", "n")
    assert "x.csv, row 4, column deaths: 'many' is not a number" in failure(
        str(write(tmp_path / "x.csv", [*ROWS[:2], ("alpine", 2022, "many")])))
    assert "row 3: the cell county=alpine, year=2020 is already given on row 2" in failure(
        str(write(tmp_path / "dup.csv", [ROWS[0], ROWS[0]])))
    assert "cannot total over 'offence'" in failure(str(write(tmp_path / "t.csv", ROWS)), "--totals", "offence")


def test_parquet_in_rounded_parquet_out(tmp_path):
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"county": [r[0] for r in ROWS], "year": [r[1] for r in ROWS],
                             "n": [r[2] for r in ROWS]}), src)
    out = tmp_path / "public.parquet"
    result = run(str(src), "--count-column", "n", "--totals", "county,year", "--round", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    published = pq.read_table(out).to_pylist()
    shown = [r["n"] for r in published if r["n"] is not None]
    assert shown and all(v % 5 == 0 for v in shown)
    assert next(r for r in published if r["county"] == "Total" and r["year"] == "Total")["n"] == 495  # 493


def test_method_option_runs_the_modular_method_on_a_three_way_table_and_rejects_an_unknown_one(tmp_path):
    rows = [(c, y, o, 3 if (c, y, o) == ("alpine", 2020, "theft") else 40 + 7 * i)
            for i, (c, y, o) in enumerate((c, y, o) for c in ("alpine", "butte", "colusa") for y in (2020, 2021)
                                          for o in ("theft", "assault"))]
    src = write(tmp_path / "arrests.csv", rows, header=("county", "year", "offence", "arrests"))
    result = run(str(src), "--totals", "county,year,offence", "--method", "modular", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["summary"]
    assert summary["method"] == "modular" and summary["unsafe_cells"] == 0 and summary["primary"] == 1
    assert summary["complementary"] >= 7  # a lone hidden cell in a 2 x 2 x 2 corner needs its whole cube
    bad = cli(str(src), "--totals", "county,year,offence", "--method", "fastest")
    assert bad.returncode != 0 and "--method 'fastest': expected auto, exact or modular" in bad.stderr
