"""What an attacker already knows: press releases and court calendars about a synthetic city's people.

``generate_external`` reads a synthetic city (its extracts through their ingest mappings, and the answer
key with the true identities) and writes a file shaped like the public notices a linkage attacker
collects: the person's name, age at the event, sex, race, county and city, and the exact date of the
event, for a sample of the records of chosen sources (bookings become arrest press releases, prosecutor
cases become court calendar entries). Serious offences are far more likely to be announced (felonies
are weighted 20 to 1 over misdemeanours), minors are never named, and the notices carry the noise real
ones do: an age off by one, a race left out, a release dated the day after the event.

Each row also carries the record it was drawn from (``record_id``, as ingest names it:
``source:natural key``) and the true ``person_id``: the evaluation truth, never used for matching.
Deterministic by seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from justicelab.errors import JusticelabError, SynthError
from justicelab.standard import FieldType, PrivacyRole, ResolvedEntity, Standard, load_standard
from justicelab.synth.city import CityManifest, _write_csv

DEFAULT_SOURCES = ("jail_bookings", "prosecutor_cases")
#: What kind of public notice a record of each entity becomes.
KINDS = {"booking": "arrest press release", "prosecution_case": "court calendar",
         "citation": "citation notice"}
#: How likely a record is to be announced, by offence level (relative weights).
SERIOUSNESS = {"felony": 1.0, "misdemeanor": 0.05, "infraction": 0.01}
UNKNOWN_LEVEL_WEIGHT = 0.05
COLUMNS = ("external_id", "kind", "name", "age", "sex", "race", "county", "city", "date", "offense",
           "source", "record_id", "person_id")
TRUTH_COLUMNS = ("record_id", "person_id")


@dataclass(frozen=True)
class Noise:
    """Share of notices with each kind of error real press releases and calendars show."""

    age_off_by_one: float = 0.10
    race_missing: float = 0.25
    date_next_day: float = 0.05

    def check(self) -> None:
        """Every rate is a probability."""
        for name, rate in asdict(self).items():
            if not 0.0 <= rate <= 1.0:
                raise SynthError(f"noise {name} must be between 0 and 1, got {rate}")


@dataclass(frozen=True)
class ExternalFile:
    """What ``generate_external`` wrote."""

    path: Path
    rows: int
    eligible: int
    share: float
    seed: int
    sources: tuple[str, ...]
    by_kind: dict[str, int]
    by_offense_level: dict[str, int]
    noise: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"path": str(self.path), "rows": self.rows, "eligible": self.eligible, "share": self.share,
                "seed": self.seed, "sources": list(self.sources), "by_kind": self.by_kind,
                "by_offense_level": self.by_offense_level, "noise": self.noise}


def _event_date(entity: ResolvedEntity) -> str:
    """The entity's event date: its required date quasi-identifier on the date hierarchy."""
    for f in entity.fields:
        if (f.type in (FieldType.date, FieldType.timestamp) and f.hierarchy == "date" and f.required
                and f.privacy_role is PrivacyRole.quasi_identifier):
            return f.name
    raise SynthError(f"{entity.name} has no event date (a required date quasi-identifier), "
                     "so its records cannot become dated notices")


def _optional(entity: ResolvedEntity, *, codelist: str | None = None, suffix: str | None = None) -> str:
    """SQL for the entity's offence level (by code list) or description (by name suffix), NULL if none."""
    from justicelab.ingest.sql import ident

    for f in entity.fields:
        if (codelist and f.codelist == codelist) or (suffix and f.name.endswith(suffix)):
            return ident(f.name)
    return "CAST(NULL AS VARCHAR)"


def _stage_events(con: duckdb.DuckDBPyConnection, manifest: CityManifest, sources: Sequence[str],
                  standard: Standard) -> None:
    """``_jl_events``: every loadable record of the chosen sources with its date, level and description."""
    # ingest is imported here, not at the top, so that importing the synthetic generators stays light.
    from justicelab.ingest import load_mapping, stage_loadable
    from justicelab.ingest.sql import ident, literal

    con.execute("CREATE TEMP TABLE _jl_events (record_id VARCHAR, source VARCHAR, kind VARCHAR, "
                "event_date DATE, offense_level VARCHAR, offense VARCHAR)")
    for name in sources:
        try:
            source = manifest.source(name)
        except KeyError as exc:
            raise SynthError(str(exc.args[0])) from None
        entity = standard.entity(source.entity)
        if "person" not in entity.includes:
            raise SynthError(f"source {name} ({entity.name}) names nobody, so it gives no notices about people")
        stage_loadable(con, source.path, load_mapping(source.mapping), standard)
        kind = KINDS.get(entity.name, f"{entity.name.replace('_', ' ')} notice")
        con.execute(f"""
            INSERT INTO _jl_events
            SELECT _record_id, {literal(name)}, {literal(kind)}, CAST({ident(_event_date(entity))} AS DATE),
                   {_optional(entity, codelist='offense_level')}, {_optional(entity, suffix='_description')}
            FROM jl_loadable""")
        con.execute("DROP TABLE jl_loadable")


def _candidates(con: duckdb.DuckDBPyConnection, manifest: CityManifest, min_age: int) -> pa.Table:
    """The staged records joined to their true person, with the age at the event; adults only, in a fixed order."""
    from justicelab.ingest.sql import literal

    key = manifest.answer_key
    people = manifest.people_file
    for path in (key, people):
        if not path.is_file():
            raise SynthError(f"{path}: missing; the external file is drawn from the city's answer key")
    unknown = con.execute(f"""
        SELECT count(*), min(e.record_id) FROM _jl_events e
        WHERE e.record_id NOT IN (SELECT source || ':' || record_key
                                  FROM read_csv({literal(str(key))}, all_varchar = true))""").fetchone()
    if unknown and unknown[0]:
        raise SynthError(f"{key}: {unknown[0]} record(s) of the extracts are not in the answer key "
                         f"(e.g. {unknown[1]}); regenerate the city")
    return con.execute(f"""
        WITH k AS (SELECT source || ':' || record_key AS record_id, person_id
                   FROM read_csv({literal(str(key))}, all_varchar = true)),
             p AS (SELECT person_id, first_name, last_name, sex, race_ethnicity,
                          CAST(date_of_birth AS DATE) AS dob
                   FROM read_csv({literal(str(people))}, all_varchar = true)),
             j AS (SELECT e.*, k.person_id, p.first_name || ' ' || p.last_name AS name, p.sex,
                          p.race_ethnicity AS race,
                          CAST(date_part('year', age(CAST(e.event_date AS TIMESTAMP), CAST(p.dob AS TIMESTAMP)))
                               AS INTEGER) AS age
                   FROM _jl_events e JOIN k USING (record_id) JOIN p USING (person_id))
        SELECT * FROM j WHERE age >= {int(min_age)} ORDER BY record_id""").to_arrow_table()


def _weights(levels: pa.ChunkedArray, weights: Mapping[str, float]) -> np.ndarray:
    values = levels.to_pylist()
    return np.array([weights.get(v, UNKNOWN_LEVEL_WEIGHT) if v is not None else UNKNOWN_LEVEL_WEIGHT
                     for v in values], dtype=float)


def generate_external(
    city_dir: Path,
    out: Path,
    *,
    share: float = 0.05,
    seed: int = 1,
    sources: Sequence[str] = DEFAULT_SOURCES,
    county: str = "san_joaquin",
    noise: Noise | None = None,
    min_age: int = 18,
    weights: Mapping[str, float] | None = None,
    standard: Standard | None = None,
) -> ExternalFile:
    """Write ``out``: public notices (name, age, sex, race, county, city, date) for ``share`` of the adults'
    records of ``sources`` in the synthetic city at ``city_dir``, sampled by seriousness, with noise."""
    noise = noise or Noise()
    noise.check()
    if not 0.0 < share <= 1.0:
        raise SynthError(f"share must be above 0 and at most 1, got {share}")
    if not sources:
        raise SynthError("name at least one source of the city (e.g. jail_bookings)")
    standard = standard or load_standard()
    counties = {c.code for c in standard.codelists["county"].codes}
    if county not in counties:
        raise SynthError(f"county {county!r} is not a code of the county code list (e.g. san_joaquin, alameda)")
    weights = dict(SERIOUSNESS if weights is None else weights)
    manifest_path = Path(city_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise SynthError(f"{city_dir}: not a synthetic city (no manifest.json); make one with justicelab synth city")
    manifest = CityManifest.load(manifest_path)

    con = duckdb.connect()
    try:
        try:
            _stage_events(con, manifest, sources, standard)
        except SynthError:
            raise
        except JusticelabError as exc:
            raise SynthError(f"{city_dir}: cannot read the city's extracts: {exc}") from None
        pool = _candidates(con, manifest, min_age)
    finally:
        con.close()

    rng = np.random.default_rng([seed, zlib.crc32(b"external")])
    w = _weights(pool["offense_level"], weights)
    n = min(round(share * pool.num_rows), int((w > 0).sum()))
    picked = np.sort(rng.choice(pool.num_rows, size=n, replace=False, p=w / w.sum())) if n else np.array([], int)
    chosen = pool.take(pa.array(picked, type=pa.int64()))
    chosen = chosen.sort_by([("event_date", "ascending"), ("record_id", "ascending")])

    age = np.asarray(chosen["age"].to_numpy(zero_copy_only=False), dtype=np.int64)
    off = rng.random(n) < noise.age_off_by_one
    age = age + np.where(off, rng.choice(np.array([-1, 1]), size=n), 0)
    no_race = rng.random(n) < noise.race_missing
    later = rng.random(n) < noise.date_next_day
    dates = chosen["event_date"].cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    dates = dates + later.astype("timedelta64[D]")

    table = pa.table({
        "external_id": pa.array([f"X{i + 1:06d}" for i in range(n)], pa.string()),
        "kind": chosen["kind"],
        "name": chosen["name"],
        "age": pa.array(age, pa.int64()),
        "sex": chosen["sex"],
        "race": pc.if_else(pa.array(no_race), pa.scalar(None, pa.string()), chosen["race"].cast(pa.string())),
        "county": pa.array([county] * n, pa.string()),
        "city": pa.array([manifest.city] * n, pa.string()),
        "date": pa.array(dates, pa.date32()),
        "offense": chosen["offense"],
        "source": chosen["source"],
        "record_id": chosen["record_id"],
        "person_id": chosen["person_id"],
    })
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(table.select(list(COLUMNS)), out)
    kinds = table["kind"].value_counts().to_pylist()
    levels = chosen["offense_level"].value_counts().to_pylist()
    return ExternalFile(
        path=out, rows=n, eligible=pool.num_rows, share=share, seed=seed, sources=tuple(sources),
        by_kind={str(k["values"]): int(k["counts"]) for k in sorted(kinds, key=lambda k: str(k["values"]))},
        by_offense_level={str(k["values"]): int(k["counts"]) for k in sorted(levels, key=lambda k: str(k["values"]))},
        noise={"age_off_by_one": int(off.sum()), "race_missing": int(no_race.sum()),
               "date_next_day": int(later.sum())},
    )
