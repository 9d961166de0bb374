"""The synthetic state: deterministic, internally consistent, in the real C&C layout, loadable by ingest."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest
import yaml

from justicelab.ingest.mapping import load_mapping
from justicelab.standard import load_standard
from justicelab.synth.state import StateManifest, generate_state

REQUIRE = os.environ.get("JUSTICELAB_REQUIRE_SERVICES") == "1"
OFFENSE_COLUMNS = {
    "homicide": ("Homicide_sum", "HomicideClr_sum"),
    "rape": ("ForRape_sum", "ForRapeClr_sum"),
    "robbery": ("Robbery_sum", "RobberyClr_sum"),
    "aggravated_assault": ("AggAssault_sum", "AggAssaultClr_sum"),
    "burglary": ("Burglary_sum", "BurglaryClr_sum"),
    "motor_vehicle_theft": ("VehicleTheft_sum", "VehicleTheftClr_sum"),
    "larceny_theft": ("LTtotal_sum", "LTtotalClr_sum"),
    "arson": ("GrandTotal_sum", "GrandTotClr_sum"),
}


def openjustice_dir() -> Path | None:
    here = Path(__file__).resolve().parents[3] / "shared" / "data" / "openjustice"
    if here.is_dir():
        return here
    env = os.environ.get("JUSTICELAB_OPENJUSTICE_DIR")
    return Path(env) if env and Path(env).is_dir() else None


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> StateManifest:
    # 2017-2022 covers the 2020 census, the pandemic years and DOJ's 2021 change of larceny value bands.
    return generate_state(tmp_path_factory.mktemp("state"), agencies=90, years=6, first_year=2017,
                          incidents=40_000, seed=7)


def con_for(state: StateManifest) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW pop AS SELECT * FROM read_csv('{state.path('population.csv')}', all_varchar=true)")
    con.execute(f"CREATE VIEW cc AS SELECT * FROM read_csv('{state.path('crimes_and_clearances.csv')}')")
    con.execute(f"CREATE VIEW inc_all AS SELECT * FROM read_csv('{state.path('crime_incidents.csv')}', "
                "all_varchar=true)")
    con.execute(f"CREATE VIEW arr_all AS SELECT * FROM read_csv('{state.path('arrests.csv')}', all_varchar=true)")
    con.execute(f"CREATE VIEW ag AS SELECT * FROM read_csv('{state.path('agencies.csv')}', all_varchar=true)")
    bad = [(r.source, r.key) for r in state.expected_invalid]
    con.execute("CREATE TABLE bad (source VARCHAR, key VARCHAR)")
    if bad:
        con.executemany("INSERT INTO bad VALUES (?, ?)", bad)
    con.execute("CREATE VIEW inc AS SELECT * FROM inc_all WHERE INCIDENT_NO NOT IN "
                "(SELECT key FROM bad WHERE source = 'state_crime_incidents')")
    con.execute("CREATE VIEW arr AS SELECT * FROM arr_all WHERE arrest_no NOT IN "
                "(SELECT key FROM bad WHERE source = 'state_arrests')")
    return con


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    kwargs = {"agencies": 64, "years": 3, "first_year": 2019, "incidents": 4_000}
    a = generate_state(tmp_path / "a", seed=3, **kwargs)
    b = generate_state(tmp_path / "b", seed=3, **kwargs)
    c = generate_state(tmp_path / "c", seed=4, **kwargs)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert a.expected_invalid == b.expected_invalid
    da, dc = digest(tmp_path / "a"), digest(tmp_path / "c")
    assert da["crime_incidents.csv"] != dc["crime_incidents.csv"]
    assert da["mappings/crime_incident.yaml"] == dc["mappings/crime_incident.yaml"]
    assert c.incidents == a.incidents == 4_000


def test_manifest_lists_every_file_with_relative_paths(state):
    data = json.loads(state.path("manifest.json").read_text())
    assert {s["entity"] for s in data["sources"]} == {"agency", "population", "crime_incident", "arrest"}
    for s in data["sources"]:
        assert s["department"] == "state_doj"
        assert not Path(s["path"]).is_absolute() and state.path(s["path"]).is_file()
        with state.path(s["path"]).open(newline="") as fh:
            assert sum(1 for _ in fh) - 1 == s["rows"]
    assert data["aggregates"][0]["path"] == "crimes_and_clearances.csv"
    assert data["aggregates"][0]["synthetic_columns"]["SROBact_sum"] == "WEAPON"
    assert data["expected_invalid"]["summary"] == state.invalid_summary()
    assert state.source("crime_incident").invalid_rows == 10
    assert state.source("arrest").invalid_rows == 8


def test_agencies_cover_every_county_with_one_sheriff(state):
    con = con_for(state)
    counties = set(load_standard().codelist("county").values())
    rows = con.execute("SELECT CNTY, count(*) FILTER (WHERE AGENCY_TYPE = 'SO') FROM ag GROUP BY 1").fetchall()
    assert {r[0] for r in rows} == counties
    assert all(r[1] == 1 for r in rows)
    n, codes, oris = con.execute("SELECT count(*), count(DISTINCT AGENCY), count(DISTINCT ORI) FROM ag").fetchone()
    assert n == codes == oris == state.agencies == 90
    assert con.execute("SELECT count(*) FROM ag WHERE NOT regexp_full_match(ORI, 'CA[0-9]{7}')").fetchone()[0] == 0
    assert con.execute("SELECT AGENCY_NAME FROM ag WHERE CNTY = 'los_angeles' AND AGENCY_TYPE = 'SO'"
                       ).fetchone()[0] == "Los Angeles County Sheriff's Office"
    # Every city police department and sheriff names the population area it polices.
    unmatched = con.execute("""
        SELECT count(*) FROM ag LEFT JOIN (SELECT DISTINCT geography_type, geography_code FROM pop) p
          ON p.geography_type = ag.POP_GEO_TYPE AND p.geography_code = ag.POP_GEO_CODE
        WHERE ag.AGENCY_TYPE IN ('PD', 'SO') AND p.geography_code IS NULL""").fetchone()[0]
    assert unmatched == 0


def test_population_parts_sum_to_totals(state):
    con = con_for(state)
    con.execute("CREATE TABLE p AS SELECT * REPLACE (population::BIGINT AS population) FROM pop")
    # Within each area, date and vintage, the cells add up to the totals row.
    assert con.execute("""
        SELECT count(*) FROM (
          SELECT geography_type, geography_code, reference_date, vintage,
                 sum(population) FILTER (WHERE age_group IS NOT NULL) AS parts,
                 sum(population) FILTER (WHERE age_group IS NULL AND sex IS NULL AND race_ethnicity IS NULL) AS total
          FROM p GROUP BY ALL)
        WHERE total IS NULL OR (parts IS NOT NULL AND parts <> total)""").fetchone()[0] == 0
    # Cities and the unincorporated balance add up to their county, cell by cell; counties to the state.
    for child, parent in (("geography_type IN ('city', 'balance_of_county')", "county"),
                          ("geography_type = 'county'", "state")):
        key = "county" if parent == "county" else "'california'"
        bad = con.execute(f"""
            WITH kids AS (SELECT {key} AS code, reference_date, vintage, age_group, sex, race_ethnicity,
                                 sum(population) AS n FROM p WHERE {child} GROUP BY ALL),
                 up AS (SELECT geography_code AS code, reference_date, vintage, age_group, sex, race_ethnicity,
                               population AS n FROM p WHERE geography_type = '{parent}')
            SELECT count(*) FROM up JOIN kids USING (code, reference_date, vintage, age_group, sex, race_ethnicity)
            WHERE up.n <> kids.n""").fetchone()[0]
        assert bad == 0
    kinds = dict(con.execute("SELECT estimate_type, list(DISTINCT strftime(reference_date::DATE, '%m-%d')) "
                             "FROM p GROUP BY 1").fetchall())
    assert kinds == {"estimate": ["01-01"], "census": ["04-01"]}
    census = con.execute("SELECT DISTINCT year FROM p WHERE estimate_type = 'census'").fetchall()
    assert census == [("2020",)]
    assert state.population_vintages == ("2023", "2020")
    # Heavy tail: the largest city is many times the smallest.
    small, large = con.execute("SELECT min(population), max(population) FROM p WHERE geography_type = 'city' "
                               "AND age_group IS NULL AND sex IS NULL AND year = '2017'").fetchone()
    assert large > 20 * small


def test_crimes_and_clearances_has_the_real_header(state):
    with state.path("crimes_and_clearances.csv").open(newline="") as fh:
        header = next(csv.reader(fh))
    assert len(header) == 70 and header[:3] == ["Year", "County", "NCICCode"] and "FEBURact_Sum" in header
    real = openjustice_dir()
    if real is None:
        if REQUIRE:
            pytest.fail("OpenJustice files are required but missing")
        pytest.skip("OpenJustice files not found")
    with (real / "Crimes_and_Clearances_with_Arson-1985-2022.csv").open(newline="", encoding="utf-8-sig") as fh:
        assert header == next(csv.reader(fh))


def test_crimes_and_clearances_totals_equal_incident_counts(state):
    con = con_for(state)
    cmap = yaml.safe_load(state.path("mappings/crime_incident.yaml").read_text())["fields"]["offense"]["code_map"]
    con.execute("CREATE TABLE nibrs (code VARCHAR, offense VARCHAR)")
    con.executemany("INSERT INTO nibrs VALUES (?, ?)", list(cmap.items()))
    counted = con.execute("""
        SELECT o.AGENCY, year(strptime(o.RPT_DATE, '%m/%d/%Y')) AS y, n.offense, count(*) FROM inc o
        JOIN nibrs n ON n.code = o.NIBRS_CODE GROUP BY ALL""").fetchall()
    cleared = con.execute("""
        SELECT o.AGENCY, year(strptime(o.CLR_DATE, '%m/%d/%Y')) AS y, n.offense, count(*) FROM inc o
        JOIN nibrs n ON n.code = o.NIBRS_CODE WHERE o.CLEARED = 'Y' GROUP BY ALL""").fetchall()
    cc = {(r["NCICCode"], r["Year"]): r for r in con.execute("SELECT * FROM cc").fetch_arrow_table().to_pylist()}
    assert len(cc) == state.agencies * 6
    expect: dict[tuple[str, int, str], int] = {}
    for agency, year, offense, n in counted:
        expect[(agency, year, OFFENSE_COLUMNS[offense][0])] = n
    for agency, year, offense, n in cleared:
        expect[(agency, year, OFFENSE_COLUMNS[offense][1])] = n
    for (agency, year), row in cc.items():
        for offense_col, clear_col in OFFENSE_COLUMNS.values():
            assert row[offense_col] == expect.get((agency, year, offense_col), 0), (agency, year, offense_col)
            assert row[clear_col] == expect.get((agency, year, clear_col), 0), (agency, year, clear_col)
    assert sum(r["Violent_sum"] + r["Property_sum"] + r["GrandTotal_sum"] for r in cc.values()) == state.incidents


def test_crimes_and_clearances_breakdowns_add_up_like_the_real_file(state):
    con = con_for(state)
    checks = {
        "Violent_sum": "Homicide_sum + ForRape_sum + Robbery_sum + AggAssault_sum",
        "Property_sum": "Burglary_sum + VehicleTheft_sum + LTtotal_sum",
        "ViolentClr_sum": "HomicideClr_sum + ForRapeClr_sum + RobberyClr_sum + AggAssaultClr_sum",
        "ForRape_sum": "RAPact_sum + ARAPact_sum",
        "Robbery_sum": "FROBact_sum + KROBact_sum + OROBact_sum + SROBact_sum",
        "AggAssault_sum": "FASSact_sum + KASSact_sum + OASSact_sum + HASSact_sum",
        "GrandTotal_sum": "TotalStructural_sum + TotalMobile_sum + TotalOther_sum",
        "Burglary_sum": "FEBURact_Sum + UBURact_sum",
        "RESDBUR_sum": "RNBURnao_sum + RDBURnao_sum + RUBURnao_sum",
        "NRESBUR_sum": "NNBURnao_sum + NDBURnao_sum + NUBURnao_sum",
        "VehicleTheft_sum": "MVTact_sum + TMVTact_sum + OMVTact_sum",
        "LTtotal_sum": "PPLARnao_sum + PSLARnao_sum + SLLARnao_sum + MVLARnao_sum + MVPLARnao_sum + BILARnao_sum "
                       "+ FBLARnao_sum + COMLARnao_sum + AOLARnao_sum",
    }
    checks["LTtotal_sum "] = ("coalesce(LT400nao_sum, 0) + coalesce(LT200400nao_sum, 0) + coalesce(LT200nao_sum, 0)"
                              " + LT50200nao_sum + LT50nao_sum")
    for total, parts in checks.items():
        assert con.execute(f"SELECT count(*) FROM cc WHERE {total.strip()} <> {parts}").fetchone()[0] == 0, total
    # DOJ's 2021 change of larceny value bands: the bands not used in a year are empty.
    bands = con.execute("SELECT Year >= 2021, count(LT400nao_sum), count(LT200400nao_sum), count(LT200nao_sum), "
                        "count(*) FROM cc GROUP BY 1 ORDER BY 1").fetchall()
    n_before, n_after = bands[0][4], bands[1][4]
    assert bands == [(False, n_before, n_before, 0, n_before), (True, 0, 0, n_after, n_after)]
    # Clearance rates look like California's: homicide high, property low.
    hom, larc = con.execute("SELECT sum(HomicideClr_sum) / sum(Homicide_sum), sum(LTtotalClr_sum) / sum(LTtotal_sum) "
                            "FROM cc").fetchone()
    assert 0.4 < hom < 0.8 and 0.03 < larc < 0.2


def test_arrests_match_the_crimes_they_cleared(state):
    con = con_for(state)
    n_arrests = con.execute("SELECT count(*) FROM arr").fetchone()[0]
    assert n_arrests == state.arrests
    assert con.execute("SELECT count(DISTINCT arrest_no) FROM arr_all").fetchone()[0] == state.source("arrest").rows
    mismatched = con.execute("""
        SELECT count(*) FROM arr a LEFT JOIN inc i ON i.INCIDENT_NO = a.incident_no
        WHERE a.incident_no IS NOT NULL AND (i.INCIDENT_NO IS NULL OR i.CLR_TYPE <> 'A'
              OR strptime(i.CLR_DATE, '%m/%d/%Y')::DATE <> a.arrest_date::DATE OR i.AGENCY <> a.agency)""").fetchone()
    assert mismatched[0] == 0
    by_arrest, linked = con.execute("""
        SELECT (SELECT count(*) FROM inc WHERE CLR_TYPE = 'A'),
               (SELECT count(DISTINCT incident_no) FROM arr WHERE incident_no IS NOT NULL)""").fetchone()
    assert by_arrest == linked > 0
    # Plausible demographics: mostly men, few juveniles, status offences only for juveniles.
    male, juvenile, adult_status = con.execute("""
        SELECT avg((sex = 'M')::INT), avg((age::INT < 18)::INT),
               count(*) FILTER (WHERE summary_category = 'STATUS' AND age::INT >= 18) FROM arr""").fetchone()
    assert 0.65 < male < 0.9 and 0.02 < juvenile < 0.15 and adult_status == 0


def test_mappings_validate_and_are_the_packaged_ones(state):
    packaged = Path(__file__).resolve().parents[2] / "src" / "justicelab" / "synth" / "mappings" / "state"
    for source in state.sources:
        path = state.path(source.mapping)
        loaded = load_mapping(path)
        assert loaded.mapping.entity == source.entity
        assert loaded.mapping.department == "state_doj"
        assert loaded.source_name == source.name
        assert path.read_bytes() == (packaged / path.name).read_bytes()
        with state.path(source.path).open(newline="") as fh:
            header = set(next(csv.reader(fh)))
        assert set(loaded.mapping.source_columns()) <= header


def test_ingest_quarantines_exactly_the_spoiled_rows(state, warehouse):
    from justicelab.ingest import ingest_file
    from justicelab.ingest.batches import quarantined_rows

    for source in state.sources:
        if source.entity == "population":
            continue  # large and clean; covered by the parts-and-totals test
        result = ingest_file(warehouse, state.path(source.path), load_mapping(state.path(source.mapping)))
        assert (result.rows_read, result.rows_quarantined) == (source.rows, source.invalid_rows)
        expected = {r.source_row: r for r in state.expected_invalid if r.source == source.name}
        got = quarantined_rows(warehouse, result.batch_id)
        assert {q["source_row"] for q in got} == set(expected)
        for q in got:
            fields = ",".join(r["field"] or "" for r in q["reasons"])
            assert expected[q["source_row"]].field in fields


@pytest.mark.slow
def test_ten_million_incidents(tmp_path):
    m = generate_state(tmp_path, incidents=10_000_000, seed=1)
    assert m.incidents == 10_000_000
    assert m.source("crime_incident").rows == 10_000_000 + m.source("crime_incident").invalid_rows
    con = con_for(m)
    total, clr = con.execute("SELECT sum(Violent_sum + Property_sum + GrandTotal_sum), "
                             "sum(ViolentClr_sum + PropertyClr_sum + GrandTotClr_sum) FROM cc").fetchone()
    assert total == 10_000_000
    assert clr == con.execute("SELECT count(*) FROM inc WHERE CLEARED = 'Y'").fetchone()[0]
