"""The synthetic city: deterministic, complete answer key, realistic formats and a heavy tail."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from justicelab.ingest.mapping import LoadedMapping, load_mapping
from justicelab.standard import load_standard
from justicelab.standard.reference import given_name_variants
from justicelab.synth import extracts
from justicelab.synth.city import CityManifest, SourceFile, generate_city, mapping_files

DATA = Path(__file__).resolve().parents[2] / "src" / "justicelab" / "synth" / "data"
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> CityManifest:
    return generate_city(tmp_path_factory.mktemp("city"), people=5000, seed=1)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------------------------------
# reading the extracts back the way their formats say (an oracle independent of ingest)


def _cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == "":
        return None
    return value


def read_source(src: SourceFile, mapping: LoadedMapping) -> tuple[list[str], list[tuple[str, dict | None]]]:
    """(header, [(raw natural key, row or None when the line itself is malformed)])."""
    opts = mapping.mapping.source
    key_col = mapping.mapping.field_mappings[mapping.key[0]].column
    rows: list[tuple[str, dict | None]] = []
    if src.format == "csv":
        enc = "cp1252" if opts.encoding == "windows-1252" else "utf-8"
        with src.path.open(encoding=enc, newline="") as fh:
            reader = csv.reader(fh, delimiter=opts.delimiter or ",")
            header = next(reader)
            for raw in reader:
                row = dict(zip(header, raw, strict=False))
                rows.append((row[key_col], row if len(raw) == len(header) else None))
        return header, rows
    if src.format == "parquet":
        table = pq.read_table(src.path)
        return table.column_names, [(str(r[key_col]), r) for r in table.to_pylist()]
    if src.format == "xlsx":
        wb = openpyxl.load_workbook(src.path, read_only=True)
        ws = wb[opts.sheet] if opts.sheet else wb.worksheets[0]
        values = list(ws.iter_rows(min_row=opts.header_row, values_only=True))
        wb.close()
        header = [str(h) for h in values[0]]
        for raw in values[1:]:
            cells = list(raw) + [None] * (len(header) - len(raw))  # trailing empty cells are omitted
            row = {h: _cell(v) for h, v in zip(header, cells, strict=True)}
            rows.append((str(row[key_col]), row))
        return header, rows
    assert src.format == "jsonl"
    header: list[str] = []
    for line in src.path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            found = re.search(r'"' + key_col + r'":"([^"]*)"', line)
            assert found, line
            rows.append((found.group(1), None))
            continue
        header = header or list(row)
        rows.append((row[key_col], row))
    return header, rows


def _parse_time(value: Any, formats: list[str], two_digit_past: bool) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    for fmt in formats:
        try:
            parsed = dt.datetime.strptime(str(value), fmt)
        except ValueError:
            continue
        if two_digit_past and "%y" in fmt and parsed.date() > TODAY:
            parsed = parsed.replace(year=parsed.year - 100)
        return parsed
    return None


def check_row(row: dict, mapping: LoadedMapping) -> set[str]:
    """Why a row would be rejected under its mapping and the standard (empty when it loads)."""
    entity = load_standard().entity(mapping.mapping.entity)
    problems: set[str] = set()
    values: dict[str, Any] = {}
    for name, fm in mapping.mapping.field_mappings.items():
        fdef = entity.field(name)
        if fm.constant is not None:
            value: Any = fm.constant
        elif fm.columns:
            parts = [_cell(row.get(c)) for c in fm.columns]
            value = fm.separator.join(str(p) for p in parts if p is not None) or None
        else:
            value = _cell(row.get(fm.column))
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and fm.split_name:
            last, _, rest = str(value).partition(",")
            given = rest.split()
            value = {"last": last.strip(), "first": given[0] if given else None,
                     "middle": " ".join(given[1:]) or None}[fm.split_name]  # fmt: skip
        if isinstance(value, str) and fm.case == "upper":
            value = value.upper()
        if value is not None and fm.code_map is not None:
            value = fm.code_map.get(str(value), value)
        if value is None and fm.default is not None:
            value = fm.default
        if value is None:
            if fdef.required:
                problems.add("missing_required")
            values[name] = None
            continue
        kind = fdef.type.value
        if kind in ("date", "timestamp"):
            formats = [fm.date_format] if isinstance(fm.date_format, str) else list(fm.date_format or [])
            if not formats and isinstance(value, str):
                formats = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]
            parsed = _parse_time(value, formats, fm.two_digit_year == "past")
            if parsed is None:
                problems.add("unparseable_date")
                values[name] = None
                continue
            value = parsed if kind == "timestamp" else dt.datetime.combine(parsed.date(), dt.time())
            if fdef.maximum == "today" and value.date() > TODAY:
                problems.add("future_date")
            if isinstance(fdef.minimum, dt.date) and value.date() < fdef.minimum:
                problems.add("too_early")
        elif kind == "integer":
            value = int(value)
            low, high = fdef.minimum, fdef.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                problems.add("out_of_range")
        elif kind == "boolean":
            if not isinstance(value, bool):
                assert str(value) in ("true", "false"), (name, value)
                value = str(value) == "true"
        else:
            value = str(value)
            if fdef.codelist and value not in load_standard().codelist(fdef.codelist).values():
                problems.add("unknown_code")
            if fdef.pattern and not re.fullmatch(fdef.pattern, value):
                problems.add("pattern_mismatch")
            if fdef.max_length and len(value) > fdef.max_length:
                problems.add("too_long")
        values[name] = value
    ops = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
           "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}  # fmt: skip
    for rule in entity.rules:
        left, right = values.get(rule.left), values.get(rule.right)
        if left is not None and right is not None and not ops[rule.op](left, right):
            problems.add("rule_violation")
    return problems


# ------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = generate_city(tmp_path / "a", people=1500, seed=7)
    with monkeypatch.context() as m:  # big cities write the workbook in a second process: same bytes
        m.setattr(extracts, "XLSX_BACKGROUND_ROWS", 10)
        b = generate_city(tmp_path / "b", people=1500, seed=7)
    c = generate_city(tmp_path / "c", people=1500, seed=8)
    da, db, dc = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert da == db
    for src in a.sources:
        name = src.path.name
        assert da[name] != dc[name], f"{name} did not change with the seed"
    assert da["answer_key/people.csv"] != dc["answer_key/people.csv"]
    assert a.to_dict() == b.to_dict()
    assert c.total_rows != a.total_rows or da["answer_key/answer_key.csv"] != dc["answer_key/answer_key.csv"]


def test_manifest_lists_every_source_and_round_trips(city: CityManifest) -> None:
    assert [(s.name, s.department, s.entity) for s in city.sources] == [
        ("police_citations", "police", "citation"),
        ("jail_bookings", "sheriff", "booking"),
        ("ems_responses", "fire", "ems_response"),
        ("ed_visits", "health", "ed_visit"),
        ("shelter_stays", "homeless_services", "shelter_stay"),
        ("prosecutor_cases", "prosecutor", "prosecution_case"),
    ]
    on_disk = json.loads((city.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == city.to_dict()
    assert on_disk["sources"][0]["path"] == "police_citations.csv"
    assert CityManifest.load(city.out_dir / "manifest.json") == city
    for src in city.sources:
        assert src.path.exists() and src.mapping.exists()
        assert src.rows > 50
        assert 1 <= len(src.expected_invalid) <= 12
        assert src.mapping.read_bytes() == next(p for p in mapping_files() if p.stem == src.name).read_bytes()
    assert city.people_file.exists() and city.readme.exists()


def test_answer_key_covers_every_record_of_every_extract_exactly_once(city: CityManifest) -> None:
    with city.answer_key.open(encoding="utf-8", newline="") as fh:
        key_rows = list(csv.DictReader(fh))
    assert list(key_rows[0]) == ["source", "record_key", "person_id"]
    with city.people_file.open(encoding="utf-8", newline="") as fh:
        people = {r["person_id"] for r in csv.DictReader(fh)}
    assert len(people) == city.people
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    for r in key_rows:
        by_source[r["source"]][r["record_key"]] += 1
        assert r["person_id"] in people
    assert set(by_source) == {s.name for s in city.sources}
    for src in city.sources:
        _, rows = read_source(src, load_mapping(src.mapping))
        in_file = Counter(k for k, _ in rows)
        assert len(rows) == src.rows
        assert max(in_file.values()) == 1, f"{src.name}: duplicate natural keys"
        assert in_file == by_source[src.name], src.name


def test_exactly_the_listed_rows_are_invalid(city: CityManifest) -> None:
    for src in city.sources:
        mapping = load_mapping(src.mapping)
        _, rows = read_source(src, mapping)
        found: dict[str, set[str]] = {}
        for key, row in rows:
            problems = {"malformed"} if row is None else check_row(row, mapping)
            if problems:
                found[key] = problems
        expected = {r.record_key: r.reason for r in src.expected_invalid}
        assert set(found) == set(expected), src.name
        for key, reason in expected.items():
            if reason in ("extra_field", "malformed_line"):
                assert found[key] == {"malformed"}
            else:
                assert found[key] == {reason}, (src.name, key, found[key])


def test_a_heavy_tail_of_contacts(city: CityManifest) -> None:
    """Some people are cited or booked 11+ times in five years and also use EMS, ED and shelters."""
    with city.answer_key.open(encoding="utf-8", newline="") as fh:
        owner = {(r["source"], r["record_key"]): r["person_id"] for r in csv.DictReader(fh)}
    contacts: dict[str, list[dt.date]] = defaultdict(list)
    for name, column, fmt in (("police_citations", "CIT_DATE", "%m/%d/%Y"),
                              ("jail_bookings", "BookDateTime", "%m/%d/%y %H:%M")):  # fmt: skip
        src = city.source(name)
        _, rows = read_source(src, load_mapping(src.mapping))
        for key, row in rows:
            if row is None:
                continue
            try:
                when = dt.datetime.strptime(row[column], fmt).date()
            except ValueError:
                continue
            contacts[owner[(name, key)]].append(when)
    services = defaultdict(set)
    for (source, _), person in owner.items():
        if source in ("ems_responses", "ed_visits", "shelter_stays"):
            services[person].add(source)

    def most_in_five_years(days: list[dt.date]) -> int:
        days = sorted(days)
        best, lo = 0, 0
        for hi, day in enumerate(days):
            while (day - days[lo]).days > 5 * 365:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    heavy = {p for p, days in contacts.items() if most_in_five_years(days) >= 11}
    assert 1 <= len(heavy) <= 0.01 * city.people, len(heavy)
    assert any(services[p] for p in heavy)
    assert any(len(services[p]) == 3 for p in heavy), "no heavy user is in EMS, ED and shelter data"
    few = sum(1 for p in range(city.people) if len(contacts.get(f"P{p + 1:07d}", [])) <= 2)
    assert few >= 0.95 * city.people


def test_booking_file_is_windows_1252_with_crlf_and_two_digit_years(city: CityManifest) -> None:
    data = city.source("jail_bookings").path.read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") > 100
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert set("ÑÉÓÚÁ") & set(text), "no accented names in the jail file"
    assert any(ch in text for ch in "ÑÉ") and "Ñ".encode("cp1252") in data
    header, first = text.split("\r\n")[:2]
    assert header.split("|")[:3] == ["BookingNumber", "JailPersonNumber", "LastName"]
    fields = dict(zip(header.split("|"), first.split("|"), strict=True))
    assert re.fullmatch(r"\d\d/\d\d/\d\d \d\d:\d\d", fields["BookDateTime"])
    assert re.fullmatch(r"(\d\d/\d\d/\d\d)?", fields["DOB"])


def test_other_formats_are_what_their_systems_write(city: CityManifest) -> None:
    police = city.source("police_citations").path.read_text(encoding="utf-8")
    assert police.startswith("CIT_NO,CIT_DATE,") and "\r\n" not in police
    assert re.search(r'"[A-Z\'\- ]+, [A-Z]+', police), "names are not 'LAST, FIRST'"
    ems = city.source("ems_responses").path.read_text(encoding="utf-8")
    assert ems.split("\n", 1)[0].split("\t")[0] == "IncidentNumber"
    assert re.search(r"\t20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\t", ems)
    ed = pq.read_table(city.source("ed_visits").path)
    assert str(ed.schema.field("ED_ARRIVAL_DTTM").type) == "timestamp[us]"
    assert ed.schema.field("SUD_FLAG").type == "bool"
    assert any(str(v).startswith("F1") for v in ed.column("PRIMARY_DX_ICD10").to_pylist())
    line = city.source("prosecutor_cases").path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert json.loads(line)["caseNumber"]


def test_shelter_workbook_has_a_title_row_above_the_header(city: CityManifest) -> None:
    src = city.source("shelter_stays")
    wb = openpyxl.load_workbook(src.path, read_only=True)
    ws = wb["Enrollments"]
    first, second = (list(r) for r in ws.iter_rows(min_row=1, max_row=2, values_only=True))
    wb.close()
    assert isinstance(first[0], str) and "HMIS" in first[0]
    assert all(v is None for v in first[1:])
    assert load_mapping(src.mapping).mapping.source.header_row == 2
    assert second[:3] == ["PersonalID", "EnrollmentID", "FirstName"]


def test_every_shipped_mapping_validates_and_names_real_columns(city: CityManifest) -> None:
    shipped = mapping_files()
    assert {p.stem for p in shipped} == {s.name for s in city.sources}
    for src in city.sources:
        loaded = load_mapping(src.mapping)
        assert loaded.source_name == src.name
        m = loaded.mapping
        assert (m.entity, m.department) == (src.entity, src.department)
        assert m.description and m.natural_key and m.fields
        header, _ = read_source(src, loaded)
        missing = [c for c in m.source_columns() if c not in header]
        assert not missing, f"{src.name}: mapping names columns the file lacks: {missing}"
        assert len(set(m.fields) & set(header)) <= 1, "mappings should rename, not pass through"
    transforms = Counter()
    for p in shipped:
        for fm in load_mapping(p).mapping.field_mappings.values():
            transforms.update(
                k
                for k, on in (
                    ("split_name", fm.split_name),
                    ("date_format", fm.date_format),
                    ("code_map", fm.code_map),
                    ("case", fm.case != "keep"),
                    ("columns", fm.columns),
                    ("constant", fm.constant is not None),
                    ("default", fm.default is not None),
                )
                if on
            )
    assert set(transforms) == {"split_name", "date_format", "code_map", "case", "columns", "constant", "default"}


def test_people_have_households_twins_and_compound_surnames(city: CityManifest) -> None:
    with city.people_file.open(encoding="utf-8", newline="") as fh:
        people = list(csv.DictReader(fh))
    households = Counter(p["household_id"] for p in people)
    assert max(households.values()) >= 4
    twins = [p for p in people if p["twin"] == "true"]
    assert twins
    by_house = defaultdict(list)
    for p in twins:
        by_house[p["household_id"]].append(p)
    for pair in by_house.values():
        assert len({p["date_of_birth"] for p in pair}) == 1
        assert len({p["first_name"] for p in pair}) == len(pair)
        assert len({(p["last_name"], p["address"]) for p in pair}) == 1
    names = [p["last_name"] for p in people]
    assert any(" " in n for n in names) and any("-" in n for n in names)
    assert {p["race_ethnicity"] for p in people} >= {"hispanic", "white", "black", "asian"}


def test_nickname_table_ships_for_linkage() -> None:
    pairs = set(given_name_variants())
    assert {("ROBERT", "BOB"), ("WILLIAM", "BILL"), ("ELIZABETH", "LIZ"), ("JOSE", "PEPE")} <= pairs


def test_rejects_a_future_end_date_and_an_empty_city(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="future"):
        generate_city(tmp_path, people=100, end_date=TODAY + dt.timedelta(days=30))
    with pytest.raises(ValueError, match="people"):
        generate_city(tmp_path, people=0)


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    generate_city(tmp_path, people=300, seed=3, progress=lambda s, d, t: seen.append((s, d, t)))
    assert seen[0][0] == "people" and seen[-1][1] == seen[-1][2]
    assert [d for _, d, _ in seen] == list(range(1, len(seen) + 1))


@pytest.mark.slow
def test_scale_two_hundred_thousand_people(tmp_path: Path) -> None:
    manifest = generate_city(tmp_path, people=200_000, seed=1)
    assert manifest.total_rows > 300_000
    with manifest.answer_key.open("rb") as fh:
        assert sum(1 for _ in fh) == manifest.total_rows + 1
