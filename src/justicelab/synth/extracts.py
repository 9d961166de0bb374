"""Each department's extract, written in that department's own format.

One writer per department turns the true events (``events.py``) and the people as the
department recorded them (``recording.py``) into the file its system would export:
column names, codes, date formats, encodings and line ends as such systems write them.
A few rows per file are made deliberately invalid (an extra field, a date that does not
parse, an unknown code, a birth date in the future, a release before the booking) and
listed, so tests can check that ingest quarantines exactly those.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from justicelab.synth import events as E
from justicelab.synth.names import RACE_INDEX, RACES, NameBook
from justicelab.synth.people import (
    CITY,
    FEMALE,
    MALE,
    NONBINARY,
    Population,
    Streets,
    format_address,
    join_parts,
    ymd,
)
from justicelab.synth.recording import Profile, Recorded, record_people

#: The sentinel written where a malformed row needs a raw delimiter; replaced after writing.
_SPLIT = "\x1f"


@dataclass(frozen=True)
class InvalidRecord:
    """One deliberately invalid row: its natural key, why ingest must reject it, and the bad value."""

    record_key: str
    reason: str
    field: str | None
    value: str | None


@dataclass
class Extract:
    """What a writer produced: the file, its records' keys and true people, and what it broke."""

    name: str
    department: str
    entity: str
    path: Path
    format: str
    encoding: str
    keys: pa.Array
    person: np.ndarray
    invalid: list[InvalidRecord]
    errors: dict[str, int]
    profile: Profile

    @property
    def rows(self) -> int:
        return len(self.person)


@dataclass
class Context:
    """Everything a writer needs: the people, the name vocabulary, the streets, where to write."""

    pop: Population
    book: NameBook
    streets: Streets
    out_dir: Path
    rng: np.random.Generator
    #: Runs slow pure-Python file writing (the workbook) elsewhere; None runs it here and now.
    background: Callable[..., object] | None = None


# ----------------------------------------------------------------------------------------------
# small vectorised helpers


def strs(values: Sequence[str], idx: np.ndarray) -> pa.Array:
    """``values[idx]`` as a string array; a negative index gives null."""
    idx = np.asarray(idx)
    return pc.take(pa.array(list(values), type=pa.string()), pa.array(idx, mask=idx < 0, type=pa.int64()))


def zpad(numbers: np.ndarray, width: int, mask: np.ndarray | None = None) -> pa.Array:
    """Zero-padded decimal strings."""
    return pc.utf8_lpad(pc.cast(pa.array(numbers, mask=mask), pa.string()), width=width, padding="0")


def text(numbers: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Decimal strings (null where ``mask``)."""
    return pc.cast(pa.array(numbers, mask=mask), pa.string())


def fmt_date(days: np.ndarray, fmt: str) -> pa.Array:
    """Dates (datetime64[D], NaT = null) as strings in a strftime format."""
    return pc.strftime(pa.array(days.astype("datetime64[D]")), format=fmt)


def fmt_ts(times: np.ndarray, fmt: str) -> pa.Array:
    """Timestamps (datetime64[s], NaT = null) as strings in a strftime format."""
    return pc.strftime(pa.array(times.astype("datetime64[s]")), format=fmt)


def yearly_numbers(time: np.ndarray, template: Callable[[pa.Array, pa.Array], pa.Array], width: int = 6) -> pa.Array:
    """Record numbers that restart each year, in time order: template(two-digit year, sequence)."""
    year = ymd(time.astype("datetime64[D]"))[0]
    order = np.argsort(time, kind="stable")
    sorted_year = year[order]
    first = np.searchsorted(sorted_year, sorted_year, side="left")
    seq = np.empty(len(time), dtype=np.int64)
    seq[order] = np.arange(len(time)) - first + 1
    yy = zpad(year % 100, 2)
    return template(yy, zpad(seq, width))


def source_ids(
    rng: np.random.Generator, pop: Population, person: np.ndarray, *, start: int, dup_rate: float
) -> tuple[np.ndarray, int]:
    """A source's own person number for each record; a few people got a second number by mistake."""
    first = start + rng.permutation(pop.n)
    second = start + pop.n + rng.permutation(pop.n)
    dup = rng.random(pop.n) < dup_rate
    use_second = dup[person] & (rng.random(len(person)) < 0.5)
    return np.where(use_second, second[person], first[person]), int(use_second.sum())


def replace_at(col: pa.Array, idx: np.ndarray, values: Sequence[object], typ: pa.DataType | None = None) -> pa.Array:
    """``col`` with the rows ``idx`` replaced by ``values``."""
    if len(idx) == 0:
        return col
    order = np.argsort(idx)
    mask = np.zeros(len(col), dtype=bool)
    mask[idx] = True
    repl = pa.array([values[i] for i in order], type=typ or col.type)
    return pc.replace_with_mask(col, pa.array(mask), repl)


class Breaker:
    """Chooses distinct rows to make invalid and records what was done to each."""

    def __init__(self, rng: np.random.Generator, keys: pa.Array) -> None:
        self.rng = rng
        self.keys = keys
        self.used = np.zeros(len(keys), dtype=bool)
        self.invalid: list[InvalidRecord] = []

    def pick(self, eligible: np.ndarray) -> np.ndarray:
        """One or two random eligible rows not already broken (none if the file is too small)."""
        cand = np.flatnonzero(eligible & ~self.used)
        if len(cand) < 20:
            return np.zeros(0, dtype=np.int64)
        chosen = np.sort(self.rng.choice(cand, size=int(self.rng.integers(1, 3)), replace=False))
        self.used[chosen] = True
        return chosen

    def note(self, idx: np.ndarray, reason: str, fld: str | None, values: Sequence[object]) -> None:
        for i, v in zip(idx, values, strict=True):
            self.invalid.append(
                InvalidRecord(str(self.keys[int(i)].as_py()), reason, fld, None if v is None else str(v))
            )


def future_birth(dob: np.ndarray) -> np.ndarray:
    """The birth date keyed with the wrong century (1985 -> 2085): eligible where that is clearly future."""
    y, _, _ = ymd(dob)
    return ~np.isnat(dob) & (y >= 1960) & (y <= 1999)


def _wrong_century(day: np.datetime64) -> np.datetime64:
    d = day.astype("datetime64[D]").item()
    return np.datetime64(d.replace(year=d.year + 100), "D")


def _csv_bytes(table: pa.Table, *, delimiter: str, eol: str = "\n", quoting: str = "needed") -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(
        table,
        sink,
        write_options=pacsv.WriteOptions(delimiter=delimiter, eol=eol, quoting_style=quoting, quoting_header="none"),
    )
    return sink.getvalue()


def _sex_codes(rec: Recorded, codes: Sequence[str]) -> pa.Array:
    return strs(codes, rec.sex.astype(np.int64))


def per_person(person: np.ndarray, weights: Sequence[float], salt: int) -> np.ndarray:
    """A choice among ``weights`` that is fixed per person (how they self-identify), not per record."""
    h = ((person.astype(np.uint64) + np.uint64(salt)) * np.uint64(2654435761)) % np.uint64(1 << 32)
    cum = np.cumsum(np.asarray(weights, float))
    return np.searchsorted(cum / cum[-1], h.astype(np.float64) / float(1 << 32), side="right")


def _multiracial_parts(person: np.ndarray) -> np.ndarray:
    """Which two races a multiracial person reports: 0 black+white, 1 asian+white, 2 indian+white."""
    return person % 3


def _names(ctx: Context, rec: Recorded) -> tuple[pa.Array, pa.Array, pa.Array]:
    return ctx.book.strings(rec.first), ctx.book.strings(rec.middle), rec.last_name(ctx.book)


def _city(rng: np.random.Generator, missing: np.ndarray, variants: Sequence[str] = (CITY,)) -> pa.Array:
    pick = np.where(rng.random(len(missing)) < 0.03, len(variants) - 1, 0)
    return strs(variants, np.where(missing, -1, pick))


def _zip(rec: Recorded) -> pa.Array:
    return text(rec.addr_zip, mask=rec.addr_zip < 0)


def _record(ctx: Context, ev: E.Events, profile: Profile) -> Recorded:
    day = ev["time"].astype("datetime64[D]")
    return record_people(ctx.pop, ctx.book, ev["person"], day, profile, ctx.rng)


# ----------------------------------------------------------------------------------------------
# recording habits of each department

POLICE = Profile(
    nickname_pref=0.35, nickname_any=0.04, alias=0.25, typo_first=0.015, typo_last=0.015,
    middle_full=0.55, middle_initial=0.3, fold_accents=True,
    dob_missing=0.01, dob_day_month_swap=0.01, dob_transposed_digits=0.005, dob_year_off=0.004,
    sex_unknown=0.003, race_unknown=0.02, race_observed=True,
    address_missing=0.03, address_stale=0.12, address_transposed_digits=0.005, zip_transposed_digits=0.003,
    unit_dropped=0.3, homeless_marker=0.75,
)  # fmt: skip
JAIL = Profile(
    nickname_pref=0.08, nickname_any=0.01, alias=0.2, typo_first=0.008, typo_last=0.008,
    middle_full=0.85, middle_initial=0.1, compound_first_only=0.08, squash=True,
    dob_missing=0.002, dob_day_month_swap=0.004, dob_transposed_digits=0.003, dob_year_off=0.002,
    sex_unknown=0.001, nonbinary_supported=False, race_unknown=0.01,
    address_missing=0.04, address_stale=0.15, address_transposed_digits=0.004, zip_transposed_digits=0.003,
    unit_dropped=0.2, homeless_marker=0.85,
)  # fmt: skip
EMS = Profile(
    nickname_pref=0.5, nickname_any=0.06, alias=0.1, typo_first=0.03, typo_last=0.035,
    middle_full=0.0, middle_initial=0.0, compound_first_only=0.25, fold_accents=True, name_swap=0.005,
    dob_missing=0.12, dob_day_month_swap=0.015, dob_transposed_digits=0.008, dob_year_off=0.01,
    sex_unknown=0.01, race_unknown=0.25, race_observed=True,
    address_missing=0.15, address_stale=0.1, address_transposed_digits=0.01, zip_transposed_digits=0.006,
    unit_dropped=0.5, homeless_marker=0.9,
)  # fmt: skip
HOSPITAL = Profile(
    nickname_pref=0.05, nickname_any=0.01, alias=0.05, typo_first=0.008, typo_last=0.008,
    middle_full=0.0, middle_initial=0.7, compound_first_only=0.05, compound_other_separator=0.1,
    dob_missing=0.002, dob_day_month_swap=0.003, dob_transposed_digits=0.002, dob_year_off=0.001,
    sex_unknown=0.002, race_unknown=0.06,
    address_missing=0.02, address_stale=0.2, address_transposed_digits=0.003, zip_transposed_digits=0.002,
    unit_dropped=0.25, homeless_marker=0.75,
)  # fmt: skip
HMIS = Profile(
    nickname_pref=0.4, nickname_any=0.05, alias=0.15, typo_first=0.02, typo_last=0.02,
    middle_full=0.35, middle_initial=0.1, compound_first_only=0.15,
    dob_missing=0.04, dob_day_month_swap=0.01, dob_transposed_digits=0.006, dob_year_off=0.006,
    sex_unknown=0.01, race_unknown=0.05,
    address_missing=0.25, zip_transposed_digits=0.004, homeless_marker=0.0,
)  # fmt: skip
PROSECUTOR = Profile(
    nickname_pref=0.1, nickname_any=0.01, alias=0.25, typo_first=0.005, typo_last=0.005,
    middle_full=0.7, middle_initial=0.2, fold_accents=True,
    dob_missing=0.01, dob_day_month_swap=0.004, dob_transposed_digits=0.002, dob_year_off=0.002,
    sex_unknown=0.002, race_unknown=0.03, race_observed=True,
    address_missing=0.05, address_stale=0.2, address_transposed_digits=0.003, zip_transposed_digits=0.002,
    unit_dropped=0.3, homeless_marker=0.8,
)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# police: comma CSV from the records management system

POLICE_RACE = {"hispanic": "H", "white": "W", "black": "B", "pacific_islander": "P",
               "american_indian": "I", "multiracial": "O", "other": "O", "unknown": "X"}  # fmt: skip
#: California-style Asian subgroup letters the RMS uses (all map to asian).
POLICE_ASIAN = ("A", "C", "F", "J", "K", "V")
POLICE_PACIFIC = ("P", "S", "G")


def _police_race(person: np.ndarray, race: np.ndarray) -> pa.Array:
    letters = [POLICE_RACE.get(r, "A") for r in RACES]
    idx = race.astype(np.int64)
    asian = race == RACE_INDEX["asian"]
    sub_asian = len(letters) + per_person(person, [0.3, 0.2, 0.2, 0.05, 0.1, 0.15], salt=11)
    sub_pacific = len(letters) + len(POLICE_ASIAN) + per_person(person, [0.6, 0.3, 0.1], salt=13)
    idx = np.where(asian, sub_asian, np.where(race == RACE_INDEX["pacific_islander"], sub_pacific, idx))
    return strs([*letters, *POLICE_ASIAN, *POLICE_PACIFIC], idx)


def police_citations(ctx: Context, ev: E.Events) -> Extract:
    """``police_citations.csv``: the RMS citation export, one row per citation."""
    rng, streets = ctx.rng, ctx.streets
    off = E.offenses()
    n = len(ev["person"])
    rec = _record(ctx, ev, POLICE)
    first, middle, last = _names(ctx, rec)
    keys = yearly_numbers(ev["time"], lambda yy, seq: pc.binary_join_element_wise(yy, "C", seq, ""))
    cit_day = ev["time"].astype("datetime64[D]")
    no_addr = rec.addr_street < 0
    address = format_address(streets, rec.addr_num, rec.addr_street, rec.addr_unit, "APT ")
    address = pc.if_else(pa.array(rec.transient), "TRANSIENT", address)
    block = (ev["loc_num"] // 100) * 100
    loc_main = format_address(streets, block, ev["loc_street"], np.zeros(n, np.int32))
    loc_main = pc.replace_substring(loc_main, " ", " BLK ", max_replacements=1)
    cross = ev["loc_cross"]
    loc_cross = pc.binary_join_element_wise(strs(streets.names, ev["loc_street"]), strs(streets.names, cross), " / ")
    location = pc.if_else(pa.array(cross >= 0), loc_cross, loc_main)
    cols: dict[str, pa.Array] = {
        "CIT_NO": keys,
        "CIT_DATE": fmt_date(cit_day, "%m/%d/%Y"),
        "CIT_TIME": fmt_ts(ev["time"], "%H%M"),
        "OFFICER_ID": text(ev["officer"]),
        "DEF_NAME": join_parts([last, join_parts([first, middle], " ")], ", "),
        "DEF_DOB": fmt_date(rec.dob, "%m/%d/%Y"),
        "DEF_AGE": pa.array(rec.age),
        "DEF_SEX": _sex_codes(rec, ("M", "F", "X", "U")),
        "DEF_RACE": _police_race(ev["person"], rec.race),
        "DEF_ADDR": address,
        "DEF_CITY": _city(rng, no_addr & ~rec.transient, (CITY, "ALDERBAY")),
        "DEF_ZIP": _zip(rec),
        "VIOL_CODE": strs(list(off.code), ev["offense"]),
        "VIOL_DESC": strs(list(off.description), ev["offense"]),
        "VIOL_CLASS": strs(list(off.level), ev["offense"]),
        "LOCATION": location,
        "COURT_DATE": fmt_date(ev["court_date"], "%m/%d/%Y"),
    }
    brk = Breaker(rng, keys)
    idx = brk.pick(cross < 0)
    vals = [f"{cols['LOCATION'][int(i)].as_py()}{_SPLIT} REAR" for i in idx]
    cols["LOCATION"] = replace_at(cols["LOCATION"], idx, vals)
    brk.note(idx, "extra_field", "location", [v.replace(_SPLIT, ",") for v in vals])
    _, _, dd = ymd(cit_day)
    idx = brk.pick(dd > 12)
    vals = [cit_day[i].astype(dt.date).strftime("%d/%m/%Y") for i in idx]
    cols["CIT_DATE"] = replace_at(cols["CIT_DATE"], idx, vals)
    brk.note(idx, "unparseable_date", "citation_date", vals)
    idx = brk.pick(np.ones(n, bool))
    cols["DEF_SEX"] = replace_at(cols["DEF_SEX"], idx, ["Z"] * len(idx))
    brk.note(idx, "unknown_code", "sex", ["Z"] * len(idx))
    idx = brk.pick(future_birth(rec.dob))
    vals = [_wrong_century(rec.dob[i]).astype(dt.date).strftime("%m/%d/%Y") for i in idx]
    cols["DEF_DOB"] = replace_at(cols["DEF_DOB"], idx, vals)
    brk.note(idx, "future_date", "date_of_birth", vals)
    idx = brk.pick(~np.isnat(ev["court_date"]))
    vals = [
        (cit_day[i] - np.timedelta64(int(rng.integers(3, 60)), "D")).astype(dt.date).strftime("%m/%d/%Y") for i in idx
    ]
    cols["COURT_DATE"] = replace_at(cols["COURT_DATE"], idx, vals)
    brk.note(idx, "rule_violation", "court_date", vals)

    path = ctx.out_dir / "police_citations.csv"
    data = _csv_bytes(pa.table(cols), delimiter=",")
    # Text fields are quoted, so the stray comma also closes and reopens the quotes.
    path.write_bytes(data.replace(_SPLIT.encode(), b'","'))
    return Extract(
        "police_citations",
        "police",
        "citation",
        path,
        "csv",
        "utf-8",
        keys,
        ev["person"],
        brk.invalid,
        rec.counts,
        POLICE,
    )


# ----------------------------------------------------------------------------------------------
# sheriff: pipe-delimited, Windows-1252, CRLF, two-digit years

JAIL_RACE = {"hispanic": "H", "white": "W", "black": "B", "asian": "A", "pacific_islander": "P",
             "american_indian": "I", "multiracial": "M", "other": "O", "unknown": "U"}  # fmt: skip
JAIL_RELEASE = ("CITE", "OR", "BAIL", "TS", "DROP", "XFER", "PTR", "OTH")
JAIL_FACILITIES = ("MAIN JAIL", "NORTH BRANCH JAIL", "WOMENS DETENTION FACILITY")


def jail_bookings(ctx: Context, ev: E.Events) -> Extract:
    """``jail_bookings.txt``: the jail management system's nightly booking export."""
    rng, streets = ctx.rng, ctx.streets
    off = E.offenses()
    n = len(ev["person"])
    rec = _record(ctx, ev, JAIL)
    first, middle, last = _names(ctx, rec)
    keys = yearly_numbers(ev["time"], lambda yy, seq: pc.binary_join_element_wise("B", yy, "-", seq, ""))
    jail_no, dups = source_ids(rng, ctx.pop, ev["person"], start=1_000_000, dup_rate=0.03)
    rec.counts["second_person_number"] = dups
    unit_part = pc.binary_join_element_wise("#", text(rec.addr_unit, mask=rec.addr_unit <= 0), "")
    street_part = join_parts([strs(streets.names, rec.addr_street), unit_part])
    street_part = pc.if_else(pa.array(rec.transient), "TRANSIENT", street_part)
    cols: dict[str, pa.Array] = {
        "BookingNumber": keys,
        "JailPersonNumber": pc.binary_join_element_wise("J", zpad(jail_no, 7), ""),
        "LastName": pc.utf8_upper(last),
        "FirstName": pc.utf8_upper(first),
        "MiddleName": pc.utf8_upper(middle),
        "DOB": fmt_date(rec.dob, "%m/%d/%y"),
        "Sex": _sex_codes(rec, ("M", "F", "U", "U")),
        "Race": strs([JAIL_RACE[r] for r in RACES], rec.race.astype(np.int64)),
        "StreetNo": text(rec.addr_num, mask=rec.addr_num < 0),
        "StreetName": street_part,
        "City": _city(rng, (rec.addr_street < 0) & ~rec.transient),
        "Zip": _zip(rec),
        "BookDateTime": fmt_ts(ev["time"], "%m/%d/%y %H:%M"),
        "ReleaseDateTime": fmt_ts(ev["release"], "%m/%d/%y %H:%M"),
        "ReleaseReason": strs(JAIL_RELEASE, ev["release_type"]),
        "Facility": strs(JAIL_FACILITIES, ev["facility"]),
        "ArrestAgency": strs(E.AGENCIES, ev["agency"]),
        "ChargeCode": strs(list(off.code), ev["charge"]),
        "ChargeDesc": strs(list(off.description), ev["charge"]),
        "ChargeLevel": strs(list(off.level), ev["charge"]),
    }
    brk = Breaker(rng, keys)
    idx = brk.pick(~np.isnat(ev["release"]))
    vals = [
        (ev["time"][i] - np.timedelta64(int(rng.integers(1, 13)) * 3600, "s"))
        .astype(dt.datetime)
        .strftime("%m/%d/%y %H:%M")
        for i in idx
    ]
    cols["ReleaseDateTime"] = replace_at(cols["ReleaseDateTime"], idx, vals)
    brk.note(idx, "rule_violation", "release_datetime", vals)
    idx = brk.pick(np.ones(n, bool))
    vals = [ev["time"][i].astype(dt.datetime).strftime("%m/%d/%y %H%M") for i in idx]
    cols["BookDateTime"] = replace_at(cols["BookDateTime"], idx, vals)
    brk.note(idx, "unparseable_date", "booking_datetime", vals)
    idx = brk.pick(np.ones(n, bool))
    cols["Sex"] = replace_at(cols["Sex"], idx, ["Z"] * len(idx))
    brk.note(idx, "unknown_code", "sex", ["Z"] * len(idx))

    path = ctx.out_dir / "jail_bookings.txt"
    data = _csv_bytes(pa.table(cols), delimiter="|", eol="\r\n", quoting="none")
    path.write_bytes(data.decode("utf-8").encode("cp1252"))
    return Extract(
        "jail_bookings",
        "sheriff",
        "booking",
        path,
        "csv",
        "windows-1252",
        keys,
        ev["person"],
        brk.invalid,
        rec.counts,
        JAIL,
    )


# ----------------------------------------------------------------------------------------------
# fire: tab-separated CAD/ePCR export

#: CAD nature codes for each call type; the first is the most common.
EMS_NATURE = (("OD",), ("ETOH",), ("PSYCH", "5150"), ("FALL", "TRAUMA"), ("SICK", "CHEST", "BREATH"),
              ("ASSLT",), ("WELFARE", "UNK"))  # fmt: skip
EMS_IMPRESSION = (
    ("Poisoning/Drug Ingestion", "Opioid Overdose"),
    ("Alcohol Intoxication", "Altered Mental Status"),
    ("Behavioral/Psychiatric Episode", "Suicidal Ideation"),
    ("Traumatic Injury", "Fall Injury"),
    ("Chest Pain", "Respiratory Distress", "Abdominal Pain", "Weakness", "Syncope"),
    ("Assault Injury",),
    ("No Complaint", "Welfare Check"),
)
EMS_DISPOSITION_TRANSPORT = "Transported by This EMS Unit"
EMS_DISPOSITION_OTHER = ("Patient Refused Care", "Treated and Released")
NEMSIS_RACE = {"hispanic": "2514007", "white": "2514011", "black": "2514005", "asian": "2514003",
               "pacific_islander": "2514009", "american_indian": "2514001", "other": "", "unknown": ""}  # fmt: skip
NEMSIS_MULTI = ("2514005,2514011", "2514003,2514011", "2514001,2514011")


def _pick_variant(rng: np.random.Generator, table: Sequence[Sequence[str]], cat: np.ndarray) -> pa.Array:
    flat = [v for group in table for v in group]
    offset = np.cumsum([0] + [len(g) for g in table])
    size = np.array([len(g) for g in table])
    k = np.minimum((rng.random(len(cat)) ** 2 * size[cat]).astype(np.int64), size[cat] - 1)
    return strs(flat, offset[cat] + k)


def ems_responses(ctx: Context, ev: E.Events) -> Extract:
    """``ems_responses.tsv``: one row per EMS patient contact from the CAD/ePCR system."""
    rng, streets = ctx.rng, ctx.streets
    n = len(ev["person"])
    rec = _record(ctx, ev, EMS)
    first, _, last = _names(ctx, rec)
    keys = yearly_numbers(ev["time"], lambda yy, seq: pc.binary_join_element_wise("F", yy, "-", seq, ""))
    race_codes = np.array([NEMSIS_RACE.get(r, "") for r in RACES], dtype=object)[rec.race]
    multi = rec.race == RACE_INDEX["multiracial"]
    race_codes[multi] = np.array(NEMSIS_MULTI, dtype=object)[_multiracial_parts(ev["person"][multi])]
    hisp_white = (rec.race == RACE_INDEX["hispanic"]) & (rng.random(n) < 0.4)
    race_codes[hisp_white] = "2514007,2514011"
    address = pc.utf8_title(format_address(streets, rec.addr_num, rec.addr_street, rec.addr_unit, "#"))
    address = pc.if_else(pa.array(rec.transient), "Homeless", address)
    unit = np.where(ev["unit"] >= 100, ev["unit"] - 100, ev["unit"])
    unit_s = pc.binary_join_element_wise(strs(("M", "E"), (ev["unit"] >= 100).astype(np.int64)), text(unit), "")
    other = strs(EMS_DISPOSITION_OTHER, (rng.random(n) < 0.4).astype(np.int64))
    cols: dict[str, pa.Array] = {
        "IncidentNumber": keys,
        "PCR_ID": text(ev["pcr"]),
        "UnitID": unit_s,
        "CallDateTime": fmt_ts(ev["time"], "%Y-%m-%dT%H:%M:%S"),
        "NatureCode": _pick_variant(rng, EMS_NATURE, ev["call_type"]),
        "PrimaryImpression": _pick_variant(rng, EMS_IMPRESSION, ev["call_type"]),
        "PatientLastName": pc.utf8_title(last),
        "PatientFirstName": pc.utf8_title(first),
        "PatientDOB": fmt_date(rec.dob, "%Y-%m-%d"),
        "PatientAge": pa.array(rec.age),
        "PatientGender": _sex_codes(rec, ("Male", "Female", "Non-Binary", "Unknown (Unable to Determine)")),
        "PatientRace": pa.array(race_codes, type=pa.string()),
        "PatientAddress": address,
        "PatientCity": _city(rng, (rec.addr_street < 0) & ~rec.transient, ("Alder Bay",)),
        "PatientZip": _zip(rec),
        "IncidentAddress": format_address(streets, ev["scene_num"], ev["scene_street"], ev["scene_unit"], "APT "),
        "Disposition": pc.if_else(pa.array(ev["transported"]), EMS_DISPOSITION_TRANSPORT, other),
        "DestinationName": strs(E.HOSPITALS, ev["destination"]),
    }
    brk = Breaker(rng, keys)
    idx = brk.pick(np.ones(n, bool))
    vals = [f"{cols['PrimaryImpression'][int(i)].as_py()}{_SPLIT}pt combative" for i in idx]
    cols["PrimaryImpression"] = replace_at(cols["PrimaryImpression"], idx, vals)
    brk.note(idx, "extra_field", "primary_impression", [v.replace(_SPLIT, "\\t") for v in vals])
    idx = brk.pick(np.ones(n, bool))
    cols["CallDateTime"] = replace_at(cols["CallDateTime"], idx, ["0000-00-00T00:00:00"] * len(idx))
    brk.note(idx, "unparseable_date", "response_datetime", ["0000-00-00T00:00:00"] * len(idx))
    idx = brk.pick(np.ones(n, bool))
    cols["NatureCode"] = replace_at(cols["NatureCode"], idx, ["TEST"] * len(idx))
    brk.note(idx, "unknown_code", "call_type", ["TEST"] * len(idx))

    path = ctx.out_dir / "ems_responses.tsv"
    data = _csv_bytes(pa.table(cols), delimiter="\t", quoting="none")
    path.write_bytes(data.replace(_SPLIT.encode(), b"\t"))
    return Extract(
        "ems_responses", "fire", "ems_response", path, "csv", "utf-8", keys, ev["person"], brk.invalid, rec.counts, EMS
    )


# ----------------------------------------------------------------------------------------------
# health: hospital data-warehouse extract (Parquet)

ED_SEX = ("Male", "Female", "Nonbinary", "Unknown")
ED_ETHNICITY = ("Hispanic or Latino", "Not Hispanic or Latino", "Unknown", "Patient Declined")
ED_RACE = {"white": "White", "black": "Black or African American", "asian": "Asian",
           "pacific_islander": "Native Hawaiian or Other Pacific Islander",
           "american_indian": "American Indian or Alaska Native", "multiracial": "Multiracial",
           "other": "Other", "unknown": "Unknown"}  # fmt: skip
ED_RACE_VALUES = (*ED_RACE.values(), "Patient Declined")
ED_DISPOSITION = ("Discharge", "Admit", "Transfer to Another Facility", "AMA", "LWBS", "Expired", "Eloped")
ED_COMPLAINT = (
    ("OVERDOSE", "UNRESPONSIVE", "INGESTION"),
    ("ETOH", "INTOXICATED", "ALTERED MENTAL STATUS"),
    ("PSYCHIATRIC EVALUATION", "SUICIDAL", "HALLUCINATIONS", "ANXIETY"),
    ("FALL", "LACERATION", "ANKLE INJURY", "HEAD INJURY", "MVC"),
    ("CHEST PAIN", "ABDOMINAL PAIN", "SHORTNESS OF BREATH", "FEVER", "HEADACHE", "WEAKNESS", "COUGH"),
    ("ASSAULT", "FACIAL INJURY"),
    ("MEDICATION REFILL", "WOUND CHECK", "OTHER"),
)
SHELTER_ADDRESS = ("1150 MISSION ST", 95202)


def ed_visits(ctx: Context, ev: E.Events) -> Extract:
    """``ed_visits.parquet``: ED encounters from the hospital's reporting warehouse."""
    rng, book, streets = ctx.rng, ctx.book, ctx.streets
    dx = E.diagnoses()
    n = len(ev["person"])
    rec = _record(ctx, ev, HOSPITAL)
    # Unconscious trauma patients are registered under a placeholder name and a temporary MRN.
    doe = ev["by_ems"] & (rng.random(n) < 0.005)
    rec.first = np.where(doe, np.where(ctx.pop.sex[ev["person"]] == FEMALE, book.jane, book.john), rec.first)
    rec.last1 = np.where(doe, book.doe, rec.last1)
    rec.last2 = np.where(doe, -1, rec.last2)
    rec.middle = np.where(doe, -1, rec.middle)
    rec.dob = np.where(doe, np.datetime64("NaT", "D"), rec.dob)
    rec.counts["unidentified_patient"] = int(doe.sum())
    first, middle, last = _names(ctx, rec)
    mrn, dups = source_ids(rng, ctx.pop, ev["person"], start=10_000_000, dup_rate=0.02)
    mrn = np.where(doe, 90_000_000 + np.arange(n), mrn)
    rec.counts["second_mrn"] = dups
    csn = 700_000_000 + np.cumsum(rng.integers(1, 60, size=n))
    keys = text(csn)

    race = rec.race
    hisp = race == RACE_INDEX["hispanic"]
    unknown = race == RACE_INDEX["unknown"]
    declined = unknown & (rng.random(n) < 0.4)
    eth = np.where(hisp, 0, np.where(declined, 3, np.where(unknown, 2, 1)))
    race_lookup = [ED_RACE.get(r, "Unknown") for r in RACES]
    race_idx = np.array([ED_RACE_VALUES.index(v) for v in race_lookup])[race]
    hisp_options = np.array([ED_RACE_VALUES.index(v) for v in ("White", "Other", "Unknown")])
    hisp_race = hisp_options[per_person(ev["person"], [0.45, 0.35, 0.2], salt=17)]
    race_idx = np.where(hisp, hisp_race, np.where(declined, len(ED_RACE_VALUES) - 1, race_idx))

    address = format_address(streets, rec.addr_num, rec.addr_street, rec.addr_unit, "APT ")
    zip_col = _zip(rec)
    at_shelter = rec.transient & (rng.random(n) < 0.25)
    address = pc.if_else(pa.array(rec.transient), "HOMELESS", address)
    address = pc.if_else(pa.array(at_shelter), SHELTER_ADDRESS[0], address)
    zip_col = pc.if_else(pa.array(at_shelter), str(SHELTER_ADDRESS[1]), zip_col)
    rec.counts["shelter_address_used"] = int(at_shelter.sum())
    no_city = (rec.addr_street < 0) & ~rec.transient

    cols: dict[str, pa.Array] = {
        "PAT_ENC_CSN_ID": pa.array(csn, type=pa.int64()),
        "PAT_MRN_ID": zpad(mrn, 9),
        "PAT_LAST_NAME": last,
        "PAT_FIRST_NAME": first,
        "PAT_MIDDLE_NAME": middle,
        "BIRTH_DATE": pa.array(rec.dob, type=pa.date32()),
        "AGE_AT_ARRIVAL": pa.array(rec.age, mask=doe, type=pa.int32()),
        "SEX": _sex_codes(rec, ED_SEX),
        "ETHNIC_GROUP": strs(ED_ETHNICITY, eth),
        "PATIENT_RACE": strs(ED_RACE_VALUES, race_idx),
        "ADD_LINE_1": address,
        "CITY": _city(rng, no_city),
        "ZIP": zip_col,
        "DEPARTMENT_NAME": pa.array(np.full(n, "ABGH EMERGENCY DEPT"), type=pa.string()),
        "ED_ARRIVAL_DTTM": pa.array(ev["time"].astype("datetime64[us]"), type=pa.timestamp("us")),
        "ED_DEPARTURE_DTTM": pa.array(ev["departure"].astype("datetime64[us]"), type=pa.timestamp("us")),
        "CHIEF_COMPLAINT": _pick_variant(rng, ED_COMPLAINT, ev["call_type"]),
        "PRIMARY_DX_ICD10": strs(list(dx.code), ev["diagnosis"]),
        "PRIMARY_DX_NAME": strs(list(dx.description), ev["diagnosis"]),
        "SUD_FLAG": pa.array(ev["substance"], type=pa.bool_()),
        "ED_DISPOSITION": strs(ED_DISPOSITION, ev["disposition"]),
        "ARRIVAL_MODE": strs(("Walk-in", "Ambulance"), ev["by_ems"].astype(np.int64)),
    }
    brk = Breaker(rng, keys)
    idx = brk.pick(np.ones(n, bool))
    vals = [ev["time"][i] - np.timedelta64(int(rng.integers(1, 4)) * 3600, "s") for i in idx]
    cols["ED_DEPARTURE_DTTM"] = replace_at(
        cols["ED_DEPARTURE_DTTM"], idx, [v.astype("datetime64[us]").astype(dt.datetime) for v in vals]
    )
    brk.note(idx, "rule_violation", "discharge_datetime", [str(v).replace("T", " ") for v in vals])
    codes = dx.code[ev["diagnosis"]]
    zero_second = np.array([c[1:2] == "0" for c in dx.code])[ev["diagnosis"]]
    idx = brk.pick(zero_second)
    vals = [codes[i][0] + "O" + codes[i][2:] for i in idx]  # letter O keyed for a zero
    cols["PRIMARY_DX_ICD10"] = replace_at(cols["PRIMARY_DX_ICD10"], idx, vals)
    brk.note(idx, "pattern_mismatch", "diagnosis_code", vals)
    idx = brk.pick(future_birth(rec.dob))
    vals = [_wrong_century(rec.dob[i]).astype(dt.date) for i in idx]
    cols["BIRTH_DATE"] = replace_at(cols["BIRTH_DATE"], idx, vals)
    brk.note(idx, "future_date", "date_of_birth", [v.isoformat() for v in vals])

    path = ctx.out_dir / "ed_visits.parquet"
    pq.write_table(pa.table(cols), path, compression="zstd")
    return Extract(
        "ed_visits",
        "health",
        "ed_visit",
        path,
        "parquet",
        "binary",
        keys,
        ev["person"],
        brk.invalid,
        rec.counts,
        HOSPITAL,
    )


# ----------------------------------------------------------------------------------------------
# homeless services: HMIS export workbook

#: Workbooks with more rows than this are written in a second process (openpyxl is pure Python).
XLSX_BACKGROUND_ROWS = 20_000

HMIS_RACE_COLUMNS = ("AmIndAKNative", "Asian", "BlackAfAmerican", "HispanicLatinaeo", "NativeHIPacific", "White")
#: Race flags set for each standard race (indices into HMIS_RACE_COLUMNS).
HMIS_RACE_FLAGS = {"hispanic": (3,), "white": (5,), "black": (2,), "asian": (1,), "pacific_islander": (4,),
                   "american_indian": (0,), "other": (), "unknown": ()}  # fmt: skip
HMIS_MULTI = ((2, 5), (1, 5), (0, 5))
HMIS_GENDER_COLUMNS = ("Woman", "Man", "NonBinary")
#: HUD project types: 0 = emergency shelter (entry/exit), 2 = transitional, 8 = safe haven, 4 = outreach.
HMIS_PROJECT_TYPE = (0, 2, 8, 4)
#: Destination codes by group: permanent, temporary, institutional, other, unknown.
HMIS_DESTINATIONS = ((410, 435, 422), (101, 302, 312, 313), (204, 205, 206, 207), (116, 17), (8, 9, 99, 30))


def shelter_stays(ctx: Context, ev: E.Events) -> Extract:
    """``shelter_stays.xlsx``: the Continuum of Care's HMIS enrolment export (title row, then header)."""
    rng = ctx.rng
    n = len(ev["person"])
    rec = _record(ctx, ev, HMIS)
    first, middle, last = _names(ctx, rec)
    first, middle, last = pc.utf8_title(first), pc.utf8_title(middle), pc.utf8_title(last)
    client, dups = source_ids(rng, ctx.pop, ev["person"], start=100_000, dup_rate=0.05)
    rec.counts["duplicate_client_record"] = dups
    enrollment = 300_000 + np.cumsum(rng.integers(1, 7, size=n))
    keys = text(enrollment)

    flags = np.zeros((n, len(HMIS_RACE_COLUMNS)), dtype=np.int64)
    for r, cols_set in HMIS_RACE_FLAGS.items():
        sel = rec.race == RACE_INDEX[r]
        for c in cols_set:
            flags[sel, c] = 1
    multi = np.flatnonzero(rec.race == RACE_INDEX["multiracial"])
    parts = np.array(HMIS_MULTI)[_multiracial_parts(ev["person"][multi])]
    flags[multi, parts[:, 0]] = 1
    flags[multi, parts[:, 1]] = 1
    hisp_white = (rec.race == RACE_INDEX["hispanic"]) & (per_person(ev["person"], [0.6, 0.4], salt=19) == 1)
    flags[hisp_white, 5] = 1
    race_none = np.where(flags.sum(axis=1) == 0, np.where(rng.random(n) < 0.5, 8, 99), -1)
    gender = np.stack([rec.sex == FEMALE, rec.sex == MALE, rec.sex == NONBINARY], axis=1).astype(np.int64)

    dest_code = np.full(n, -1, dtype=np.int64)
    for g, codes in enumerate(HMIS_DESTINATIONS):
        sel = np.flatnonzero(ev["destination"] == g)
        dest_code[sel] = np.array(codes)[rng.integers(0, len(codes), size=len(sel))]
    program_type = np.array(HMIS_PROJECT_TYPE)[ev["program"]]
    program_type = np.where((program_type == 0) & (rng.random(n) < 0.3), 1, program_type)  # night-by-night

    name_quality = np.where(rng.random(n) < 0.03, 2, 1)  # 2 = partial or street name
    dob_quality = np.where(np.isnat(rec.dob), np.where(rng.random(n) < 0.5, 8, 99), 1)
    columns: dict[str, list[object]] = {
        "PersonalID": text(client).to_pylist(),
        "EnrollmentID": keys.to_pylist(),
        "FirstName": first.to_pylist(),
        "MiddleName": middle.to_pylist(),
        "LastName": last.to_pylist(),
        "NameDataQuality": name_quality.tolist(),
        "DOB": pa.array(rec.dob, type=pa.date32()).to_pylist(),
        "DOBDataQuality": dob_quality.tolist(),
    }
    for c, name in enumerate(HMIS_RACE_COLUMNS):
        columns[name] = flags[:, c].tolist()
    columns["RaceNone"] = [None if v < 0 else int(v) for v in race_none]
    for c, name in enumerate(HMIS_GENDER_COLUMNS):
        columns[name] = gender[:, c].tolist()
    columns.update(
        {
            "ProjectName": [E.SHELTERS[s][0] for s in ev["shelter"]],
            "ProjectType": program_type.tolist(),
            "EntryDate": pa.array(ev["entry"], type=pa.date32()).to_pylist(),
            "ExitDate": pa.array(ev["exit"], type=pa.date32()).to_pylist(),
            "Destination": [None if v < 0 else int(v) for v in dest_code],
            "LastPermanentZIP": _zip(rec).to_pylist(),
        }
    )
    brk = Breaker(rng, keys)
    idx = brk.pick(np.ones(n, bool))
    for i in idx:
        columns["ExitDate"][i] = ev["entry"][i].astype(dt.date) - dt.timedelta(days=int(rng.integers(1, 21)))
    brk.note(idx, "rule_violation", "exit_date", [columns["ExitDate"][i].isoformat() for i in idx])
    idx = brk.pick(np.ones(n, bool))
    for i in idx:
        columns["EntryDate"][i] = f"02/30/{ev['entry'][i].astype(dt.date).year}"
    brk.note(idx, "unparseable_date", "entry_date", [columns["EntryDate"][i] for i in idx])
    idx = brk.pick(future_birth(rec.dob))
    for i in idx:
        columns["DOB"][i] = _wrong_century(rec.dob[i]).astype(dt.date)
    brk.note(idx, "future_date", "date_of_birth", [columns["DOB"][i].isoformat() for i in idx])

    path = ctx.out_dir / "shelter_stays.xlsx"
    title = f"Alder Bay Continuum of Care - HMIS Enrollment Export - through {ctx.pop.end.astype(dt.date):%m/%d/%Y}"
    args = (path, "Enrollments", title, columns)
    created = ctx.pop.end.astype(dt.date)
    if ctx.background is not None and n >= XLSX_BACKGROUND_ROWS:
        ctx.background(write_xlsx, *args, created=created)
    else:
        write_xlsx(*args, created=created)
    return Extract(
        "shelter_stays",
        "homeless_services",
        "shelter_stay",
        path,
        "xlsx",
        "binary",
        keys,
        ev["person"],
        brk.invalid,
        rec.counts,
        HMIS,
    )


def write_xlsx(path: Path, sheet: str, title: str, columns: dict[str, list[object]], *, created: dt.date) -> None:
    """A one-sheet workbook (openpyxl write-only): a title row, the header row, the data; byte-stable."""
    from openpyxl import Workbook

    stamp = dt.datetime.combine(created, dt.time())
    wb = Workbook(write_only=True)
    wb.properties.creator = "HMIS Reporting"
    wb.properties.created = stamp
    ws = wb.create_sheet(sheet)
    ws.append([title])
    ws.append(list(columns))
    for row in zip(*columns.values(), strict=True):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps the save time into the package and each zip entry; pin both so that the
    # same seed always gives the same bytes.
    fixed = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with (
        zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + fixed.encode(), data)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)


# ----------------------------------------------------------------------------------------------
# prosecutor: JSON lines from the case-management API

DA_SEX = ("MALE", "FEMALE", "NONBINARY", "UNKNOWN")
DA_RACE = {"hispanic": "HISPANIC", "white": "WHITE", "black": "BLACK", "asian": "ASIAN",
           "pacific_islander": "PACIFIC ISLANDER", "american_indian": "AMERICAN INDIAN",
           "multiracial": "MULTI-RACIAL", "other": "OTHER", "unknown": "UNKNOWN"}  # fmt: skip
DA_DISPOSITION = ("CONVICTED", "DISMISSED", "ACQUITTED", "DIVERSION", "DECLINED", "OPEN")
DA_SENTENCE = ("STATE PRISON", "COUNTY JAIL", "PROBATION", "FINE", "DIVERSION", "NONE", "OTHER")


def prosecutor_cases(ctx: Context, ev: E.Events) -> Extract:
    """``prosecutor_cases.jsonl``: cases as the case-management system's API returns them."""
    rng, streets = ctx.rng, ctx.streets
    off = E.offenses()
    n = len(ev["person"])
    rec = _record(ctx, ev, PROSECUTOR)
    first, middle, last = _names(ctx, rec)
    prefix = strs(("M", "F"), (ev["level"] == "F").astype(np.int64))
    keys = yearly_numbers(ev["time"], lambda yy, seq: pc.binary_join_element_wise(yy, "-", seq, ""))
    keys = pc.binary_join_element_wise(prefix, keys, "")
    defendant, dups = source_ids(rng, ctx.pop, ev["person"], start=2_000_000, dup_rate=0.02)
    rec.counts["second_defendant_id"] = dups
    address = format_address(streets, rec.addr_num, rec.addr_street, rec.addr_unit, "APT ")
    address = pc.if_else(pa.array(rec.transient), "TRANSIENT", address)
    cols: dict[str, pa.Array] = {
        "caseNumber": keys,
        "defendantId": pc.binary_join_element_wise("D", zpad(defendant, 7), ""),
        "defendantLastName": last,
        "defendantFirstName": first,
        "defendantMiddleName": middle,
        "defendantDob": fmt_date(rec.dob, "%Y-%m-%d"),
        "defendantSex": _sex_codes(rec, DA_SEX),
        "defendantRace": strs([DA_RACE[r] for r in RACES], rec.race.astype(np.int64)),
        "defendantAddress": address,
        "defendantCity": _city(rng, (rec.addr_street < 0) & ~rec.transient),
        "defendantZip": _zip(rec),
        "filedDate": fmt_date(ev["filing"], "%Y-%m-%d"),
        "referringAgency": strs(E.AGENCIES, ev["agency"]),
        "leadChargeCode": strs(list(off.code), ev["charge"]),
        "leadChargeDescription": strs(list(off.description), ev["charge"]),
        "leadChargeLevel": pa.array(ev["level"], type=pa.string()),
        "caseStatus": strs(("CLOSED", "OPEN"), (ev["disposition"] == E.DISPOSITIONS.index("pending")).astype(np.int64)),
        "disposition": strs(DA_DISPOSITION, ev["disposition"]),
        "dispositionDate": fmt_date(ev["disposition_date"], "%Y-%m-%d"),
        "sentenceType": strs(DA_SENTENCE, ev["sentence"]),
    }
    brk = Breaker(rng, keys)
    idx = brk.pick(~np.isnat(ev["disposition_date"]))
    vals = [(ev["filing"][i] - np.timedelta64(int(rng.integers(1, 31)), "D")).astype(dt.date).isoformat() for i in idx]
    cols["dispositionDate"] = replace_at(cols["dispositionDate"], idx, vals)
    brk.note(idx, "rule_violation", "disposition_date", vals)
    idx = brk.pick(ev["disposition"] == E.DISPOSITIONS.index("pending"))
    cols["disposition"] = replace_at(cols["disposition"], idx, ["WARRANT"] * len(idx))
    brk.note(idx, "unknown_code", "disposition", ["WARRANT"] * len(idx))
    truncated = brk.pick(np.ones(n, bool))

    path = ctx.out_dir / "prosecutor_cases.jsonl"
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 1")
        con.register("cases", pa.table(cols))
        con.execute("COPY (SELECT * FROM cases) TO '" + str(path).replace("'", "''") + "' (FORMAT json)")
    finally:
        con.close()
    cut: list[str] = []
    if len(truncated):
        lines = path.read_bytes().split(b"\n")
        for i in truncated:
            line = lines[int(i)].decode("utf-8")
            cut.append(line[: max(40, len(line) * 3 // 5)])
            lines[int(i)] = cut[-1].encode("utf-8")
        path.write_bytes(b"\n".join(lines))
    brk.note(truncated, "malformed_line", None, cut)
    return Extract(
        "prosecutor_cases",
        "prosecutor",
        "prosecution_case",
        path,
        "jsonl",
        "utf-8",
        keys,
        ev["person"],
        brk.invalid,
        rec.counts,
        PROSECUTOR,
    )
