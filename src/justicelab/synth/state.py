"""The synthetic state: what a state justice department holds, generated deterministically from a seed.

``generate_state`` writes, into one folder, a state DOJ's sources in their own (system-like) formats
with the mappings that load them into the standard — the agency directory, population estimates,
incident-level reported crimes and arrests — plus the same crimes aggregated into the exact layout
of DOJ's real Crimes and Clearances file, so that indicators, the dashboard and the OpenJustice
adapters can be tested and benchmarked against a known truth at any scale (up to tens of millions
of crimes: every step works on whole columns, never a Python loop per record).

A handful of rows are spoiled on purpose (unknown codes, impossible dates, unparseable values);
the manifest lists each one so a test can check that ingest quarantines exactly those.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from justicelab.errors import SynthError
from justicelab.synth import state_tables as T
from justicelab.synth.state_cc import FROM_LOCATION_TYPE, SYNTHETIC_ONLY, write_crimes_and_clearances
from justicelab.synth.state_crime import (
    ARREST_SCHEMA,
    INCIDENT_SCHEMA,
    ArrestParts,
    Corruption,
    InvalidRow,
    SplicingWriter,
    Strings,
    arrest_people,
    build_crime_model,
    compact_for_aggregation,
    day_number,
    format_arrests,
    format_incidents,
    incident_chunk,
    linked_arrests,
    other_arrests,
)
from justicelab.synth.state_geo import agencies_table, build_agencies, build_population, load_counties

__all__ = ["InvalidRow", "StateAggregate", "StateManifest", "StateSource", "generate_state"]

Progress = Callable[[str, int, int], None]
DEPARTMENT = "state_doj"
MAPPINGS_DIR = Path(__file__).with_name("mappings") / "state"
# Spoiled rows per kind and file.
INVALID_PER_KIND = 2
NOTES = (
    "agency_code is the agency as the Crimes and Clearances file names it in NCICCode (e.g. \"Alameda Co. "
    "Sheriff's Department\", or a city's name for its police); agencies.csv also gives a six-digit NCIC-style "
    "number and the ORI",
    "population.csv: geography_code is 'california' for the state, the county code for a county or its "
    "unincorporated balance, the city's name in lower snake case for a city; agencies.csv POP_GEO_TYPE and "
    "POP_GEO_CODE name the area each city police department or sheriff polices",
    "population.csv holds two vintages: the current one (every area, by age group, sex and race/ethnicity) "
    "and, when the years include a census, an earlier one with county and state totals only for the years "
    "up to that census; pick one vintage before summing",
    "age groups: 0-9, 10-17, 18-19, then 5-year groups to 65-69, then 70+",
    "arrests.csv incident_no links an arrest to the crime it cleared (arrest date = clearance date); other "
    "arrests have none; a crime cleared by arrest has one or more arrests",
    "offense counts follow DOJ: the eight offenses include attempts; rape uses the broader definition "
    "from 2014 (about a third more rapes)",
)


@dataclass(frozen=True)
class StateSource:
    """One source file the state generator wrote, with the mapping that loads it."""

    name: str  # the source name (the mapping's ``name``)
    department: str
    entity: str  # the standard entity type it fills
    path: str  # relative to the output folder (a city manifest's paths are absolute: out_dir / path serves both)
    mapping: str  # path of the mapping file, relative to the output folder
    rows: int  # data rows in the file (header excluded), spoiled rows included
    invalid_rows: int  # rows that ingest must quarantine


@dataclass(frozen=True)
class StateAggregate:
    """An aggregate file in a real published layout, computed from the generated records."""

    name: str
    path: str
    rows: int
    layout: str
    counting: str
    # Columns whose split comes from a source column the standard has no field for (column -> source column).
    synthetic_columns: dict[str, str] = field(default_factory=dict)
    # Columns split by a field the standard does have.
    standard_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class StateManifest:
    """What ``generate_state`` wrote: sources, aggregates, sizes, and the rows spoiled on purpose."""

    out_dir: Path
    seed: int
    first_year: int
    last_year: int
    agencies: int
    incidents: int  # valid crime incidents (spoiled rows not counted)
    arrests: int  # valid arrests
    population: int  # state population at January 1 of the first year
    population_vintages: tuple[str, ...]  # current vintage first
    census_years: tuple[int, ...]
    sources: tuple[StateSource, ...]
    aggregates: tuple[StateAggregate, ...]
    expected_invalid: tuple[InvalidRow, ...]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    def source(self, entity: str) -> StateSource:
        """The source that fills ``entity`` (agency, population, crime_incident, arrest)."""
        for s in self.sources:
            if s.entity == entity or s.name == entity:
                return s
        raise KeyError(entity)

    def path(self, relative: str) -> Path:
        """Absolute path of a file named in the manifest."""
        return self.out_dir / relative

    def invalid_summary(self) -> dict[str, dict[str, int]]:
        """Spoiled rows per source name and kind."""
        out: dict[str, Counter[str]] = {}
        for row in self.expected_invalid:
            out.setdefault(row.source, Counter())[row.kind] += 1
        return {k: dict(v) for k, v in out.items()}

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-ready data with paths relative to the output folder."""
        data = asdict(self)
        data.pop("out_dir")
        data["expected_invalid"] = {
            "summary": self.invalid_summary(),
            "rows": [asdict(r) for r in self.expected_invalid],
        }
        return data


def _write_csv(table: pa.Table, path: Path) -> None:
    """Write an all-plain-values table as CSV without quotes (values never hold commas or quotes)."""
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none", batch_size=1 << 16)
    pacsv.write_csv(table, str(path), write_options=options)


def _us_date_minus(text: str, rng: np.random.Generator) -> str:
    d = dt.datetime.strptime(text, "%m/%d/%Y").date() - dt.timedelta(days=int(rng.integers(1, 31)))
    return d.strftime("%m/%d/%Y")


def _incident_corruptions() -> list[Corruption]:
    def cleared(t: pa.Table) -> np.ndarray:
        return pc.equal(t.column("CLEARED"), "Y").to_numpy(zero_copy_only=False)

    return [
        Corruption("unknown_offense", "offense", "NIBRS_CODE", lambda t, r, g: "90Z"),
        Corruption("clearance_before_occurrence", "clearance_date", "CLR_DATE",
                   lambda t, r, g: _us_date_minus(t.column("OCC_DATE")[r].as_py(), g), cleared),
        Corruption("report_before_occurrence", "report_date", "RPT_DATE",
                   lambda t, r, g: _us_date_minus(t.column("OCC_DATE")[r].as_py(), g)),
        Corruption("unparseable_date", "occurred_date", "OCC_DATE",
                   lambda t, r, g: "02/30/" + t.column("RPT_DATE")[r].as_py()[-4:]),
        Corruption("missing_agency", "agency_code", "AGENCY", lambda t, r, g: ""),
    ]


def _arrest_corruptions() -> list[Corruption]:
    return [
        Corruption("negative_age", "age", "age", lambda t, r, g: "-" + t.column("age")[r].as_py()),
        Corruption("unparseable_age", "age", "age", lambda t, r, g: t.column("age")[r].as_py()[0] + "O"),
        Corruption("unknown_sex", "sex", "sex", lambda t, r, g: "Z"),
        Corruption("unparseable_date", "arrest_date", "arrest_date",
                   lambda t, r, g: t.column("arrest_date")[r].as_py()[:4] + "-02-30"),
    ]


def _plan(rng: np.random.Generator, corruptions: list[Corruption], chunks: int) -> dict[int, list[Corruption]]:
    """Spread INVALID_PER_KIND spoiled rows of each kind over the chunks (years) of a file."""
    plan: dict[int, list[Corruption]] = {}
    for c in corruptions:
        for _ in range(INVALID_PER_KIND):
            plan.setdefault(int(rng.integers(0, chunks)), []).append(c)
    return plan


def _width(max_count: int) -> int:
    return max(6, len(str(max(int(max_count), 1) + 100)))


def generate_state(out_dir: Path, *, agencies: int = 120, years: int = 10, first_year: int = 2013,
                   incidents: int = 500_000, seed: int = 1, progress: Progress | None = None,
                   population: int | None = None,
                   other_arrests_per_incident: float = 0.75) -> StateManifest:
    """Generate a synthetic state DOJ's data in ``out_dir``; the same arguments give the same bytes.

    ``incidents`` crimes are spread over ``agencies`` agencies (at least 58: one sheriff per county)
    and ``years`` years from ``first_year``. The state population defaults to what gives California's
    crime rate (about 2,850 per 100,000 a year), so per-capita rates stay plausible at any scale.
    Arrests are those that cleared crimes plus ``other_arrests_per_incident`` arrests for other
    offences per crime. ``progress(stage, done, total)`` is called as work advances.
    """
    started = dt.datetime.now()
    if years < 1 or incidents < 1:
        raise SynthError("years and incidents must be at least 1")
    last_year = first_year + years - 1
    if last_year >= dt.date.today().year:
        raise SynthError(f"the years must end before the current year (the standard rejects dates after today); "
                         f"got {first_year}-{last_year}")
    report = progress or (lambda stage, done, total: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    year_list = list(range(first_year, last_year + 1))
    state_pop = population or round(incidents / years * 100_000 / T.CRIMES_PER_100K)
    ss = np.random.SeedSequence(seed)
    s_agency, s_pop, s_model, s_inc, s_other, s_arr, s_bad = ss.spawn(7)

    # Agencies and population.
    counties = load_counties()
    ag, leaves = build_agencies(np.random.default_rng(s_agency), counties, agencies, state_pop)
    _write_csv(agencies_table(ag, counties, leaves), out_dir / "agencies.csv")
    report("agencies", 1, 1)
    pop = build_population(np.random.default_rng(s_pop), leaves, counties, year_list)
    _write_csv(pop.table, out_dir / "population.csv")
    report("population", 1, 1)

    # Crimes, one report year at a time.
    model = build_crime_model(np.random.default_rng(s_model), ag, pop, year_list, incidents)
    strings = Strings(ag, counties, day_number(dt.date(first_year - 11, 1, 1)), model.end_day)
    inc_width = _width(model.counts.sum(axis=2).max())
    bad_rng = np.random.default_rng(s_bad)
    inc_writer = SplicingWriter(out_dir / "crime_incidents.csv", INCIDENT_SCHEMA, "state_crime_incidents",
                                "INCIDENT_NO")
    inc_plan = _plan(bad_rng, _incident_corruptions(), years)
    compact: list[pa.Table] = []
    parts = ArrestParts()
    try:
        for yi, (year, child) in enumerate(zip(year_list, s_inc.spawn(years), strict=True)):
            rng = np.random.default_rng(child)
            chunk = incident_chunk(rng, model, yi)
            compact.append(compact_for_aggregation(chunk, year))
            linked_arrests(rng, chunk, year, parts)
            inc_writer.write(format_incidents(chunk, year, strings, inc_width), bad_rng, inc_plan.get(yi))
            report("incidents", yi + 1, years)
    finally:
        inc_writer.close()

    # Crimes and Clearances, aggregated from the crimes with DuckDB.
    cc_rows = write_crimes_and_clearances(
        out_dir / "crimes_and_clearances.csv", pa.concat_tables(compact), ag.code,
        [counties[c].label for c in ag.county], year_list)
    del compact
    report("crimes_and_clearances", 1, 1)

    # Arrests: numbered per agency and arrest year, written one year at a time.
    other_arrests(np.random.default_rng(s_other), model, ag, round(other_arrests_per_incident * incidents), parts)
    arr = parts.concat()
    del parts
    arr_year = (np.array(arr["date"], dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
                - first_year)
    order = np.lexsort((arr["inc_seq"], arr["offense"], arr["date"], arr["agency"], arr_year))
    arr = {k: v[order] for k, v in arr.items()}
    arr_year = arr_year[order]
    group = arr_year.astype(np.int64) * len(ag) + arr["agency"]
    arr["seq"] = (np.arange(len(group)) - np.searchsorted(group, group, side="left") + 1).astype(np.int32)
    arr_width = _width(arr["seq"].max() if len(group) else 1)
    bounds = np.searchsorted(arr_year, np.arange(years + 1))
    arr_writer = SplicingWriter(out_dir / "arrests.csv", ARREST_SCHEMA, "state_arrests", "arrest_no")
    arr_plan = _plan(bad_rng, _arrest_corruptions(), years)
    try:
        for yi, child in enumerate(s_arr.spawn(years)):
            sl = slice(int(bounds[yi]), int(bounds[yi + 1]))
            part = {k: v[sl] for k, v in arr.items()}
            people = arrest_people(np.random.default_rng(child), part["offense"], ag.county[part["agency"]],
                                   pop.race_share)
            arr_writer.write(format_arrests(part, people, strings, arr_width, inc_width), bad_rng,
                             arr_plan.get(yi))
            report("arrests", yi + 1, years)
    finally:
        arr_writer.close()

    # Mappings: one definition, shipped in the package, copied next to the data.
    mdir = out_dir / "mappings"
    mdir.mkdir(exist_ok=True)
    for name in ("agency", "population", "crime_incident", "arrest"):
        shutil.copyfile(MAPPINGS_DIR / f"{name}.yaml", mdir / f"{name}.yaml")
    report("mappings", 1, 1)

    n_arrests = len(arr["agency"])
    invalid = tuple(inc_writer.invalid + arr_writer.invalid)
    sources = (
        StateSource("state_agencies", DEPARTMENT, "agency", "agencies.csv", "mappings/agency.yaml", len(ag), 0),
        StateSource("state_population", DEPARTMENT, "population", "population.csv", "mappings/population.yaml",
                    pop.table.num_rows, 0),
        StateSource("state_crime_incidents", DEPARTMENT, "crime_incident", "crime_incidents.csv",
                    "mappings/crime_incident.yaml", inc_writer.rows, len(inc_writer.invalid)),
        StateSource("state_arrests", DEPARTMENT, "arrest", "arrests.csv", "mappings/arrest.yaml",
                    arr_writer.rows, len(arr_writer.invalid)),
    )
    cc = StateAggregate(
        name="crimes_and_clearances",
        path="crimes_and_clearances.csv",
        rows=cc_rows,
        layout="Crimes_and_Clearances_with_Arson-1985-2022.csv (California DOJ OpenJustice): same 70 columns, "
               "same order and spelling; County is the county label, NCICCode the agency_code",
        counting="one row per agency and year, zeros included; a crime counts in the year of RPT_DATE, a "
                 "clearance in the year of CLR_DATE (CLEARED = Y); spoiled rows are not counted; larceny "
                 f"value bands: over $400 and $200-$400 before {T.LARCENY_VALUE_BANDS_CHANGE}, $200 and over "
                 "from then on (the unused bands empty); burglary at night is 18:00-05:59 by OCC_TIME, "
                 "time unknown when OCC_TIME is empty; attempted forcible entry counts as forcible entry",
        synthetic_columns=dict(SYNTHETIC_ONLY),
        standard_columns=tuple(FROM_LOCATION_TYPE),
    )
    manifest = StateManifest(
        out_dir=out_dir, seed=seed, first_year=first_year, last_year=last_year, agencies=len(ag),
        incidents=int(model.counts.sum()), arrests=n_arrests, population=int(pop.county_jan1[:, 0].sum()),
        population_vintages=tuple(v for v in (pop.vintage, pop.previous_vintage) if v),
        census_years=tuple(pop.census_years), sources=sources, aggregates=(cc,), expected_invalid=invalid,
        notes=NOTES,
        seconds=round((dt.datetime.now() - started).total_seconds(), 3),
    )
    data = manifest.to_json()
    data.pop("seconds")  # the file must not change between identical runs
    (out_dir / "manifest.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return manifest
