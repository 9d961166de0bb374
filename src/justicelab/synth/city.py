"""The synthetic city: six departments' extracts about one population, with the answer key.

``generate_city`` draws a population (``people.py``), what happened to them over the
study window (``events.py``), and writes each department's extract in its own format
with a ready-made mapping (``extracts.py``), plus the answer key that says which true
person every record belongs to. It is deterministic by seed: the same arguments give
byte-identical files. It serves the demo, the tests and the benchmarks, so all bulk
work is vectorised (numpy, pyarrow, duckdb).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import multiprocessing
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from justicelab.errors import SynthError
from justicelab.synth import events as E
from justicelab.synth import extracts as X
from justicelab.synth.extracts import InvalidRecord
from justicelab.synth.names import NameBook
from justicelab.synth.people import (
    CITY,
    Population,
    Streets,
    generate_people,
    load_streets,
    people_table,
    window,
)

MAPPINGS_DIR = Path(__file__).with_name("mappings") / "city"
MANIFEST_VERSION = 1

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SourceFile:
    """One department's extract as written: where it is, its mapping, and what is wrong in it."""

    name: str
    department: str
    entity: str
    path: Path
    mapping: Path
    format: str
    encoding: str
    rows: int
    #: Rows made invalid on purpose: ingest must quarantine exactly these.
    expected_invalid: tuple[InvalidRecord, ...]
    #: How many records each recording error touched (typos, nicknames, swapped DOBs, ...).
    errors_injected: dict[str, int]
    #: The recording profile (intended rates) behind those errors.
    error_rates: dict[str, float | bool]

    @property
    def invalid_keys(self) -> set[str]:
        return {r.record_key for r in self.expected_invalid}

    def to_dict(self, base: Path) -> dict[str, Any]:
        reasons = Counter(r.reason for r in self.expected_invalid)
        return {
            "name": self.name,
            "department": self.department,
            "entity": self.entity,
            "path": self.path.relative_to(base).as_posix(),
            "mapping": self.mapping.relative_to(base).as_posix(),
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.rows,
            "expected_invalid": {
                "count": len(self.expected_invalid),
                "by_reason": dict(sorted(reasons.items())),
                "records": [
                    {"record_key": r.record_key, "reason": r.reason, "field": r.field, "value": r.value}
                    for r in self.expected_invalid
                ],
            },
            "errors_injected": dict(sorted(self.errors_injected.items())),
            "error_rates": self.error_rates,
        }


@dataclass(frozen=True)
class CityManifest:
    """What ``generate_city`` wrote; ``manifest.json`` holds the same with paths relative to ``out_dir``."""

    out_dir: Path
    seed: int
    people: int
    years: int
    start_date: dt.date
    end_date: dt.date
    city: str
    sources: tuple[SourceFile, ...]
    answer_key: Path
    people_file: Path
    readme: Path

    def source(self, name: str) -> SourceFile:
        """The source called ``name``."""
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(f"no source {name!r}; the city has {', '.join(s.name for s in self.sources)}")

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        base = self.out_dir
        return {
            "generator": "justicelab.synth.city",
            "version": MANIFEST_VERSION,
            "seed": self.seed,
            "people": self.people,
            "years": self.years,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "city": self.city,
            "answer_key": self.answer_key.relative_to(base).as_posix(),
            "people_file": self.people_file.relative_to(base).as_posix(),
            "readme": self.readme.relative_to(base).as_posix(),
            "total_rows": self.total_rows,
            "sources": [s.to_dict(base) for s in self.sources],
        }

    @classmethod
    def load(cls, path: Path) -> CityManifest:
        """Read a ``manifest.json`` written by :func:`generate_city`."""
        data = json.loads(path.read_text(encoding="utf-8"))
        base = path.parent
        sources = tuple(
            SourceFile(
                name=s["name"],
                department=s["department"],
                entity=s["entity"],
                path=base / s["path"],
                mapping=base / s["mapping"],
                format=s["format"],
                encoding=s["encoding"],
                rows=s["rows"],
                expected_invalid=tuple(InvalidRecord(**r) for r in s["expected_invalid"]["records"]),
                errors_injected=s["errors_injected"],
                error_rates=s["error_rates"],
            )
            for s in data["sources"]
        )
        return cls(
            out_dir=base,
            seed=data["seed"],
            people=data["people"],
            years=data["years"],
            start_date=dt.date.fromisoformat(data["start_date"]),
            end_date=dt.date.fromisoformat(data["end_date"]),
            city=data["city"],
            sources=sources,
            answer_key=base / data["answer_key"],
            people_file=base / data["people_file"],
            readme=base / data["readme"],
        )


def mapping_files() -> list[Path]:
    """The shipped mapping YAML files of the synthetic city's sources."""
    return sorted(MAPPINGS_DIR.glob("*.yaml"))


def _rng(seed: int, stage: str) -> np.random.Generator:
    """An independent random stream per stage, so one stage's draws never shift another's."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


def _write_csv(table: pa.Table, path: Path) -> None:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(quoting_header="none"))
    path.write_bytes(sink.getvalue())


_README = """\
Synthetic city of {city}: answer key
====================================

Generated by justicelab.synth.city (seed {seed}, {people} people, {start} to {end}).
Everything here is invented; no real person is described.

people.csv      the true identities: one row per person, with household, true name, sex,
                date of birth, race/ethnicity, address history (address, address_2 after
                moved_on_2, address_3 after moved_on_3), whether homeless, the latent
                utilizer class (none, occasional, repeat, chronic), twins, juniors, the
                nickname the person goes by and any alias they give.
answer_key.csv  one row per record of every extract: source (the source name), record_key
                (the record's natural key as written in the extract; several key fields
                would be joined by '|') and person_id (the true person in people.csv).
                Deliberately invalid rows are included: they still belong to someone.

The extracts themselves sit one folder up, each with its mapping under mappings/, and
manifest.json lists rows, expected invalid rows and recording error counts per source.
Do not give this folder to the linkage under test: it is what linkage is scored against.
"""


def generate_city(
    out_dir: Path,
    *,
    people: int = 50_000,
    years: int = 6,
    seed: int = 1,
    end_date: dt.date = dt.date(2025, 12, 31),
    progress: Progress | None = None,
) -> CityManifest:
    """Write a synthetic city's six departmental extracts, their mappings and the answer key.

    ``people`` residents are followed for ``years`` years up to ``end_date``. ``progress``
    is called as ``progress(stage, done, total)`` after each stage. Same arguments, same bytes.
    """
    if people < 1:
        raise SynthError("people must be at least 1")
    if years < 1:
        raise SynthError("years must be at least 1")
    if end_date > dt.date.today():
        raise SynthError(
            f"end_date {end_date} is in the future: records dated after today would fail the standard's date checks"
        )
    out_dir = Path(out_dir)
    (out_dir / "answer_key").mkdir(parents=True, exist_ok=True)
    (out_dir / "mappings").mkdir(parents=True, exist_ok=True)
    stages = ["people", "events", *(w[0] for w in _WRITERS), "answer_key"]
    total = len(stages)
    step = 0

    def advance(stage: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(stage, step, total)

    start, end = window(end_date, years)
    book = NameBook(seed)
    streets = load_streets()
    pop = generate_people(people, start=start, end=end, rng=_rng(seed, "people"), book=book, streets=streets)
    advance("people")

    cit = E.citations(_rng(seed, "events/citations"), pop, streets)
    bk = E.bookings(_rng(seed, "events/bookings"), pop)
    ems = E.ems(_rng(seed, "events/ems"), pop, streets)
    true_events: dict[str, E.Events] = {
        "police_citations": cit,
        "jail_bookings": bk,
        "ems_responses": ems,
        "ed_visits": E.ed_visits(_rng(seed, "events/ed"), pop, ems),
        "shelter_stays": E.shelter_stays(_rng(seed, "events/shelter"), pop),
        "prosecutor_cases": E.prosecutions(_rng(seed, "events/prosecutor"), pop, cit, bk),
    }
    advance("events")

    # The workbook writer is pure Python and slow on big cities: it goes first, to a second
    # process when big, so the other extracts are written meanwhile.
    pending: list[Future[object]] = []
    pool: ProcessPoolExecutor | None = None

    def background(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
        nonlocal pool
        try:
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            pending.append(pool.submit(fn, *args, **kwargs))
        except (OSError, NotImplementedError, RuntimeError):  # no second process here: do it now
            fn(*args, **kwargs)

    written: dict[str, tuple[X.Extract, Path]] = {}
    try:
        for name, writer in sorted(_WRITERS, key=lambda w: w[0] != "shelter_stays"):
            ctx = X.Context(
                pop=pop,
                book=book,
                streets=streets,
                out_dir=out_dir,
                rng=_rng(seed, f"extract/{name}"),
                background=background,
            )
            extract = writer(ctx, true_events[name])
            mapping = out_dir / "mappings" / f"{name}.yaml"
            mapping.write_bytes((MAPPINGS_DIR / f"{name}.yaml").read_bytes())
            written[name] = (extract, mapping)
            advance(name)
        _write_answer_key(out_dir, pop, book, streets, [written[n] for n, _ in _WRITERS], seed, people, start, end)
        for job in pending:
            job.result()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    manifest = CityManifest(
        out_dir=out_dir,
        seed=seed,
        people=people,
        years=years,
        start_date=start.astype(dt.date),
        end_date=end_date,
        city=CITY,
        sources=tuple(
            SourceFile(
                name=ex.name,
                department=ex.department,
                entity=ex.entity,
                path=ex.path,
                mapping=mapping,
                format=ex.format,
                encoding=ex.encoding,
                rows=ex.rows,
                expected_invalid=tuple(ex.invalid),
                errors_injected=dict(ex.errors),
                error_rates=ex.profile.rates(),
            )
            for ex, mapping in (written[n] for n, _ in _WRITERS)
        ),
        answer_key=out_dir / "answer_key" / "answer_key.csv",
        people_file=out_dir / "answer_key" / "people.csv",
        readme=out_dir / "answer_key" / "README.txt",
    )
    (out_dir / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    advance("answer_key")
    return manifest


def _write_answer_key(
    out_dir: Path,
    pop: Population,
    book: NameBook,
    streets: Streets,
    written: list[tuple[X.Extract, Path]],
    seed: int,
    people: int,
    start: np.datetime64,
    end: np.datetime64,
) -> None:
    """``answer_key/``: the record -> person table, the true identities and a README."""
    key_table = pa.concat_tables(
        pa.table(
            {
                "source": pa.array([ex.name] * ex.rows, type=pa.string()),
                "record_key": ex.keys,
                "person_id": pop.person_ids(ex.person),
            }
        )
        for ex, _ in written
    )
    _write_csv(key_table, out_dir / "answer_key" / "answer_key.csv")
    _write_csv(people_table(pop, book, streets), out_dir / "answer_key" / "people.csv")
    (out_dir / "answer_key" / "README.txt").write_text(
        _README.format(city=CITY.title(), seed=seed, people=people, start=start, end=end), encoding="utf-8"
    )


_WRITERS: tuple[tuple[str, Callable[[X.Context, E.Events], X.Extract]], ...] = (
    ("police_citations", X.police_citations),
    ("jail_bookings", X.jail_bookings),
    ("ems_responses", X.ems_responses),
    ("ed_visits", X.ed_visits),
    ("shelter_stays", X.shelter_stays),
    ("prosecutor_cases", X.prosecutor_cases),
)
