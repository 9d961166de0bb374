"""Aggregate reads: `indicators compute --as USER --purpose ...` counts only the rows the grants admit, adds
totals, suppresses every cell under the agreement's minimum cell size (and enough others that none can be
worked out from the published cells and totals), refuses without an aggregate grant, and leaves exactly one
audit-ledger entry either way. Without --as the command is unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from justicelab.control import ControlDB, entries, open_workspace_control
from justicelab.control.accounts import add_department, add_user, get_user
from justicelab.control.agreements import add_agreement
from justicelab.control.consent import record_consent
from justicelab.control.datasets import add_dataset
from justicelab.errors import AccessDenied
from justicelab.indicators import compute_gated
from justicelab.linkage.store import PERSON_INDEX, SCHEMAS
from justicelab.standard import load_standard
from justicelab.warehouse import Warehouse, ensure_entity_table
from justicelab.workspace import Workspace
from tests.cli.test_cli import run
from tests.gate.access import TODAY, agreement, grant, new_workspace

PURPOSE = "program evaluation"
# Arrests by county and year; alameda 2021 (3) is under the minimum cell size of 11, inyo 2020 is empty.
COUNTS = {("alameda", 2020): 30, ("alameda", 2021): 3, ("kern", 2020): 25, ("kern", 2021): 40, ("inyo", 2021): 12}
STANDARD = load_standard()


def load_arrests(wh: Warehouse, counts: dict[tuple[str, int], int]) -> None:
    """Replace the arrest table with ``counts`` arrests per (county, year), one per day from 1 March."""
    ensure_entity_table(wh, STANDARD.entity("arrest"))
    wh.execute("DELETE FROM arrest")
    for (county, year), n in counts.items():
        if n:
            wh.execute(f"INSERT INTO arrest (_record_id, _source, arrest_number, arrest_date, county) "
                       f"SELECT '{county}{year}-' || i, 'arrests', '{county}{year}-' || i, "
                       f"DATE '{year}-03-01' + CAST(i AS INTEGER), '{county}' FROM range({n}) t(i)")


def seed(db: ControlDB, folder: Path, sizes: tuple[int, ...] = (11,)) -> None:
    """root (admin), police with pat (steward), the arrest dataset, agreement dsa (cells of 11) and one agreement
    dsa-N per other minimum cell size N, all for purpose 'program evaluation'."""
    with db.session() as s:
        root = add_user(s, None, "root", roles=["admin"])
        add_department(s, root, "police", "Police")
        add_user(s, root, "pat", roles=["steward"], departments=["police"])
        add_dataset(s, root, "arrest", "police")
        for size in sizes:
            code = "dsa" if size == 11 else f"dsa-{size}"
            add_agreement(s, get_user(s, "pat"), agreement(folder, code, parties=["police"], purposes=[PURPOSE],
                                                           datasets=[{"dataset": "arrest"}], minimum_cell_size=size))


def analyst(db: ControlDB, name: str, level: str | None = None, agreement_code: str = "dsa", **kwargs: Any) -> None:
    """A researcher of police; with ``level``, a grant on arrest to them under ``agreement_code``."""
    with db.session() as s:
        add_user(s, get_user(s, "root"), name, roles=["researcher"], departments=["police"])
    if level:
        grant(db, dataset="arrest", agreement=agreement_code, principal=f"user:{name}", level=level, **kwargs)


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A workspace with COUNTS arrests and users: bob (aggregate), dee (deidentified), ida (identified), rita
    (aggregate on alameda and inyo rows only), cal (aggregate on arrest dates only), nora (no grant), old (an
    aggregate grant that expired yesterday)."""
    root = new_workspace(tmp_path, monkeypatch)
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        load_arrests(wh, COUNTS)
    db = open_workspace_control(Workspace.load(root))
    seed(db, root)
    analyst(db, "bob", "aggregate")
    analyst(db, "dee", "deidentified")
    analyst(db, "ida", "identified")
    analyst(db, "rita", "aggregate", row_rule="field_in: {field: county, values: [alameda, inyo]}")
    analyst(db, "cal", "aggregate", fields=["arrest_date"])
    analyst(db, "nora")
    analyst(db, "old", "aggregate", starts=TODAY - dt.timedelta(days=30), expires=TODAY - dt.timedelta(days=1),
            today=TODAY - dt.timedelta(days=30))
    db.close()
    return root


def gated(root: Path, user: str, by=("county", "year"), **kwargs: Any):
    db = open_workspace_control(Workspace.load(root))
    try:
        with Warehouse.open(Workspace.load(root).warehouse_url, root=root) as wh:
            return compute_gated(wh, db, user, kwargs.pop("indicator", "arrest_count"), by,
                                 purpose=kwargs.pop("purpose", PURPOSE), **kwargs)
    finally:
        db.close()


def ledger(root: Path) -> list[Any]:
    db = open_workspace_control(Workspace.load(root))
    try:
        with db.session() as s:
            return [e for e in entries(s) if e.action.startswith("read")]
    finally:
        db.close()


def cells(table) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Answer rows by (county, year), a total's dimension as 'Total'."""
    out = {}
    for r in table.to_pylist():
        totalled = (r["total_of"] or "").split(", ")
        out[tuple("Total" if d in totalled else r[d] for d in ("county", "year"))] = r
    return out


def test_an_aggregate_user_gets_counts_and_totals_with_small_cells_suppressed(workspace):
    answer = gated(workspace, "bob")
    got = cells(answer.table)
    small = got[("alameda", 2021)]
    assert small["suppressed"] and small["value"] is None and small["numerator"] is None
    assert "fewer than 11 records" in small["suppression"] and "agreement dsa" in small["suppression"]
    published = {k: r["numerator"] for k, r in got.items() if not r["suppressed"]}
    truth = {**COUNTS, ("alameda", "Total"): 33, ("kern", "Total"): 65, ("inyo", "Total"): 12,
             ("Total", 2020): 55, ("Total", 2021): 55, ("Total", "Total"): 110}
    assert published and all(v == truth.get(k, 0) and (v == 0 or v >= 11) for k, v in published.items())
    assert answer.suppressed == sum(r["suppressed"] for r in got.values()) >= 2  # it is never hidden alone
    rows = answer.table.to_pylist()
    low, high = interval(rows, rows.index(small))  # what the cells and totals published say about it
    assert low == pytest.approx(0) and high >= 11
    assert (answer.min_cell_size, answer.agreements, answer.datasets) == (11, ("dsa",), ("arrest",))
    (entry,) = ledger(workspace)
    details = json.loads(entry.details)
    assert (entry.action, entry.actor, entry.target) == ("read", "bob", "arrest")
    assert details["level"] == "aggregate" and details["indicator"] == "arrest_count"
    assert (details["cells"], details["suppressed"], details["min_cell_size"]) == (answer.cells, answer.suppressed, 11)
    assert details["purpose"] == PURPOSE and details["datasets"] == ["arrest"]


@pytest.mark.parametrize("user", ["dee", "ida"])
def test_higher_levels_include_aggregate_with_the_same_suppression(workspace, user):
    assert gated(workspace, user).table == gated(workspace, "bob").table


@pytest.mark.parametrize(("user", "reason"), [
    ("nora", "nora may not compute arrest_count from arrest for purpose 'program evaluation': no grant on arrest"),
    ("old", rf"grant #6 \(user:old, aggregate\): expired on {TODAY - dt.timedelta(days=1)}"),
    ("ghost", "no user 'ghost'"),
])
def test_no_valid_grant_is_refused_with_the_reason_and_recorded(workspace, user, reason):
    with pytest.raises(AccessDenied, match=reason) as info:
        gated(workspace, user)
    (entry,) = ledger(workspace)
    assert (entry.action, entry.actor, entry.target) == ("read.denied", user, "arrest")
    details = json.loads(entry.details)
    assert details["reason"] == str(info.value) and details["indicator"] == "arrest_count"


def test_another_purpose_is_refused(workspace):
    with pytest.raises(AccessDenied, match="purpose 'marketing'"):
        gated(workspace, "bob", purpose="marketing")


def test_a_breakdown_by_a_field_not_granted_is_refused(workspace):
    assert gated(workspace, "cal", ("year",)).table.column("numerator").to_pylist()[:2] == [55, 55]
    with pytest.raises(AccessDenied, match=r"it reads county, arrest_date, and county is none"):
        gated(workspace, "cal")
    assert [e.action for e in ledger(workspace)] == ["read", "read.denied"]


def test_a_row_rule_restricts_the_rows_counted(workspace):
    answer = gated(workspace, "rita", ("county",))
    got = {r["county"]: r for r in answer.table.to_pylist()}
    assert set(got) == {"alameda", "inyo", None}  # kern's rows are not counted at all
    assert got["alameda"]["numerator"] == 33 and got["inyo"]["numerator"] == 12
    assert got[None]["total_of"] == "county" and got[None]["numerator"] == 45
    assert "county in (alameda, inyo)" in answer.rows["arrest"]
    assert "county in (alameda, inyo)" in json.loads(ledger(workspace)[-1].details)["rows"]["arrest"]


def test_a_consent_rule_counts_only_the_consenting_persons_records(workspace):
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        wh.ensure_table(PERSON_INDEX, SCHEMAS[PERSON_INDEX])
        wh.execute("INSERT INTO person_index SELECT _record_id, CASE WHEN county = 'kern' THEN 'P1' ELSE 'P2' END, "
                   "'arrests', 'arrest', 1, true, 'x' FROM arrest")
    db = open_workspace_control(Workspace.load(workspace))
    analyst(db, "cora", "aggregate", row_rule="consent: {program: mdt, scope: cori}")
    with db.session() as s:
        record_consent(s, get_user(s, "pat"), "P1", program="mdt", scope="cori")
    db.close()
    got = cells(gated(workspace, "cora").table)
    assert {k: r["numerator"] for k, r in got.items()} == {
        ("kern", 2020): 25, ("kern", 2021): 40, ("kern", "Total"): 65, ("Total", 2020): 25, ("Total", 2021): 40,
        ("Total", "Total"): 65}


def test_year_over_year_change_never_gives_a_suppressed_year_away(workspace):
    got = cells(gated(workspace, "bob", change=True).table)
    assert got[("kern", 2021)]["change"] == 15  # kern 2020 and 2021 are published...
    hidden = [k for k, r in got.items() if r["suppressed"] and k[1] == 2020]
    for county, _ in hidden:  # ...but no change from a hidden 2020
        assert got[(county, 2021)]["previous"] is None and got[(county, 2021)]["change"] is None


def test_a_rate_per_resident_totals_over_counties_with_the_state_population(workspace):
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        ensure_entity_table(wh, STANDARD.entity("population"))
        for code, county, pop in [("06", None, 1_000_000), ("06001", "alameda", 500_000), ("06029", "kern", 400_000),
                                  ("06027", "inyo", 100_000)]:
            for year in (2020, 2021):
                wh.execute(f"INSERT INTO population (_record_id, geography_type, geography_code, county, year, "
                           f"reference_date, estimate_type, population, vintage) VALUES ('{code}{year}', "
                           f"'{'county' if county else 'state'}', '{code}', {f'{county!r}' if county else 'NULL'}, "
                           f"{year}, DATE '{year}-01-01', 'estimate', {pop}, '2024')")
    got = cells(gated(workspace, "bob", indicator="arrest_rate").table)
    assert ("alameda", "Total") not in got  # no rate per resident over several years
    assert got[("alameda", 2021)]["suppressed"] and got[("alameda", 2021)]["denominator"] == 500_000
    state = got[("Total", 2021)]
    assert state["numerator"] == 55 and state["value"] == pytest.approx(55 / 1_000_000 * 100_000)
    assert any(got[(c, 2021)]["suppressed"] for c in ("kern", "inyo"))  # or alameda = state - the others


def test_the_command_line_with_and_without_as(workspace):
    with pytest.raises(AccessDenied, match=r"arrest_count counts arrest \(shared by police\)"):
        run("indicators", "compute", "arrest_count", "--by", "county,year", ok=False)  # 3 in alameda, 2021
    assert not ledger(workspace)
    result = run("indicators", "compute", "arrest_count", "--by", "county,year", "--as", "bob", "--purpose", PURPOSE,
                 "--format", "csv")
    rows = {(r["county"], r["year"], r["total_of"]): r for r in csv.DictReader(result.stdout.splitlines())}
    assert rows[("alameda", "2021", "")]["suppressed"] == "True" and rows[("alameda", "2021", "")]["value"] == ""
    assert "suppressed (minimum cell size 11, agreement dsa); audit entry #" in result.stderr
    with pytest.raises(Exception, match="--as needs --purpose"):
        run("indicators", "compute", "arrest_count", "--as", "bob", ok=False)
    denied = subprocess.run([sys.executable, "-c", "from justicelab.cli import main; main()", "indicators", "compute",
                             "arrest_count", "--by", "county", "--as", "nora", "--purpose", PURPOSE],
                            capture_output=True, text=True, cwd=workspace)
    assert denied.returncode == 3 and denied.stdout == ""
    assert "nora may not compute arrest_count from arrest" in denied.stderr
    assert [e.action for e in ledger(workspace)] == ["read", "read.denied"]


def test_an_indicator_of_published_tables_needs_no_grant(workspace):
    with Warehouse.open(str(workspace / "warehouse.duckdb")) as wh:
        ensure_entity_table(wh, STANDARD.entity("crime_clearance"))
        wh.execute("INSERT INTO crime_clearance (_record_id, agency_code, county, year, offense, offenses, "
                   "clearances) VALUES ('1', 'x', 'inyo', 2021, 'homicide', 2, 1)")
    answer = gated(workspace, "nora", ("year",), indicator="crime_count", where={"offense": ["homicide"]})
    assert answer.datasets == () and answer.table.column("numerator").to_pylist() == [2] and not ledger(workspace)


# --- property: nothing small is published and nothing suppressed can be worked out -----------------------------

SIZES = (3, 5, 11)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """One workspace for every drawn table: users u3, u5, u11 with an aggregate grant under agreements whose
    minimum cell size is 3, 5 and 11."""
    root = Workspace.init(tmp_path_factory.mktemp("prop") / "prop").root
    db = open_workspace_control(Workspace.load(root))
    seed(db, root, SIZES)
    for size in SIZES:
        analyst(db, f"u{size}", "aggregate", agreement_code="dsa" if size == 11 else f"dsa-{size}")
    db.close()
    return root


def interval(rows: list[dict[str, Any]], target: int) -> tuple[float, float]:
    """An independent attacker: the least and greatest value the hidden row ``target`` can have, given every
    published row, that totals add up (each total row = the sum of the rows one dimension finer) and that
    counts are not negative. Combinations with no row are zeros (the engine lists no empty group)."""
    dims = ("county", "year")
    keys = [tuple("*" if d in (r["total_of"] or "") else r[d] for d in dims) for r in rows]
    hidden = [i for i, r in enumerate(rows) if r["suppressed"]]
    var = {i: j for j, i in enumerate(hidden)}
    position = {k: i for i, k in enumerate(keys)}
    a_eq, b_eq = [], []
    for t, key in enumerate(keys):
        for axis, d in enumerate(dims):
            if key[axis] != "*":
                continue
            parts = [i for i, k in enumerate(keys) if k[axis] != "*"
                     and all(k[o] == key[o] for o in range(len(dims)) if o != axis)]
            row = np.zeros(len(hidden))
            rhs = 0.0
            for i, sign in [(t, 1.0), *((p, -1.0) for p in parts)]:
                if i in var:
                    row[var[i]] += sign
                else:
                    rhs -= sign * rows[i]["numerator"]
            assert position[key] == t and d in rows[t]["total_of"]
            a_eq.append(row)
            b_eq.append(rhs)
    c = np.zeros(len(hidden))
    c[var[target]] = 1.0
    bounds = [(0, None)] * len(hidden)
    low = linprog(c, A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None, bounds=bounds, method="highs")
    high = linprog(-c, A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None, bounds=bounds, method="highs")
    return low.fun, (np.inf if high.status == 3 else -high.fun)


tables = st.dictionaries(st.tuples(st.sampled_from(["alameda", "inyo", "kern", "mono"]), st.integers(2019, 2021)),
                         st.integers(0, 25), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=tables, size=st.sampled_from(SIZES))
def test_no_published_cell_is_small_and_no_suppressed_cell_can_be_worked_out(shared, counts, size):
    with Warehouse.open(Workspace.load(shared).warehouse_url, root=shared) as wh:
        load_arrests(wh, counts)
    rows = gated(shared, f"u{size}").table.to_pylist()
    truth = Counter()
    for (county, year), n in counts.items():
        for key in [(county, year), (county, "*"), ("*", year), ("*", "*")]:
            truth[key] += n
    for i, r in enumerate(rows):
        key = tuple("*" if d in (r["total_of"] or "") else r[d] for d in ("county", "year"))
        if not r["suppressed"]:
            assert r["numerator"] == truth[key] and (r["numerator"] == 0 or r["numerator"] >= size)
            continue
        assert r["numerator"] is None and r["value"] is None
        low, high = interval(rows, i)
        assert high - low >= 1 - 1e-6, f"{key} is pinned to {low}..{high}"
        if 0 < truth[key] < size:  # a small cell could be empty, or as big as the minimum
            assert low <= 1e-6 and high >= size - 1e-6, f"{key} = {truth[key]} narrowed to {low}..{high}"


def test_a_departments_dataset_is_counted_only_through_access_control(tmp_path, monkeypatch):
    from tests.gate.access import citation_workspace

    citation_workspace(tmp_path, monkeypatch)
    with pytest.raises(AccessDenied, match=r"citation_count counts citation \(shared by police\): departments' "
                                           "datasets are counted through access control"):
        run("indicators", "compute", "citation_count", "--by", "year", ok=False)
    answer = run("indicators", "compute", "citation_count", "--by", "year,offense_level", "--as", "bob",
                 "--purpose", "MDT case review", "--format", "json")
    cells = json.loads(answer.stdout)
    assert cells and all(c["suppressed"] for c in cells if c["numerator"] is None)
    assert all(c["numerator"] is None or c["numerator"] >= 11 for c in cells)  # the agreement's minimum
    assert "audit entry #" in answer.stderr
