"""Privacy-preserving encodings as a department and the platform see them: encode, check, load, compare."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from justicelab.ingest import ingest_file, load_mapping
from justicelab.linkage.bloom import bit_sql, dice_sql
from justicelab.linkage.encoded_file import read_encoded
from justicelab.linkage.encoding import FILTER_COLUMNS, FILTERS, dice, key_check, read_secret
from justicelab.linkage.pprl import encode_extract, encode_rows, load_encodings
from justicelab.linkage.records import PERSON_FIELDS
from justicelab.linkage.store import LinkageError
from justicelab.synth import CityManifest, generate_city

SECRET = b"departments-only-secret-0001"
OTHER = b"a-different-secret-of-32-bytes!!"
SOURCES = ("ed_visits", "police_citations", "ems_responses", "jail_bookings", "prosecutor_cases", "shelter_stays")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> CityManifest:
    return generate_city(tmp_path_factory.mktemp("city"), people=600, years=2, seed=11)


def encode(city: CityManifest, source: str, out: Path, secret: bytes = SECRET) -> Path:
    s = city.source(source)
    encode_extract(s.path, load_mapping(s.mapping), secret, out)
    return out


@pytest.fixture(scope="module")
def encoded(city, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("encoded")
    return {name: encode(city, name, out / f"{name}.parquet") for name in SOURCES}


def encode_people(people: list[dict], secret: bytes = SECRET) -> list[dict]:
    """Encode hand-made citation records (person fields by name, the rest null), in order."""
    schema = pa.schema([("_record_id", pa.string()), *((f, pa.date32() if f == "date_of_birth" else pa.string())
                                                       for f in PERSON_FIELDS)])
    rows = [{"_record_id": f"t:{i:04d}", **{f: p.get(f) for f in PERSON_FIELDS}} for i, p in enumerate(people)]
    return encode_rows(pa.Table.from_pylist(rows, schema=schema), "t", "citation", secret).to_pylist()


def person(first: str, last: str, dob: str | None = "1985-03-04", address: str | None = "12 OAK ST",
           zip_: str | None = "94601") -> dict:
    return {"first_name": first, "last_name": last, "address": address, "zip": zip_,
            "date_of_birth": dt.date.fromisoformat(dob) if dob else None}


# --- the round trip ----------------------------------------------------------------------------------------


def test_encode_then_load_round_trip(city, encoded, warehouse):
    ed = city.source("ed_visits")
    ingest_file(warehouse, ed.path, load_mapping(ed.mapping))
    enc = read_encoded(encoded["ed_visits"])
    assert enc.source == "ed_visits" and enc.meta["entity"] == "ed_visit" and enc.key_check == key_check(SECRET)
    assert enc.table.column_names == ["record_id", "name_bf", "dob_bf", "address_bf", "person_key"]

    summary = load_encodings(warehouse, encoded["ed_visits"])
    assert (summary.batch, summary.rows, summary.replaced) == (1, enc.table.num_rows, 0)
    # Every encoding joins to the record ingest loaded, and every loaded record has one.
    assert summary.in_warehouse == summary.rows == warehouse.count("ed_visit")
    stored = warehouse.execute("SELECT record_id, name_bf, dob_bf, address_bf, person_key, source, key_check "
                               "FROM person_encodings ORDER BY record_id")
    assert [r[:5] for r in stored] == [tuple(r.values()) for r in enc.table.sort_by("record_id").to_pylist()]
    assert {r[5:] for r in stored} == {("ed_visits", key_check(SECRET))}


def test_reloading_replaces_encodings_instead_of_adding_them(encoded, warehouse):
    first = load_encodings(warehouse, encoded["jail_bookings"])
    again = load_encodings(warehouse, encoded["jail_bookings"])
    assert (again.batch, again.replaced) == (2, first.rows)
    assert warehouse.count("person_encodings") == first.rows
    load_encodings(warehouse, encoded["ems_responses"])
    assert warehouse.count("person_encodings", "batch = 2") == first.rows


def test_a_file_encoded_with_another_secret_is_refused(city, encoded, warehouse, tmp_path):
    load_encodings(warehouse, encoded["ed_visits"])
    load_encodings(warehouse, encoded["police_citations"])
    wrong = encode(city, "ems_responses", tmp_path / "ems.parquet", OTHER)
    before = warehouse.count("person_encodings")
    message = (f"{wrong} was encoded with a different secret than the 2 earlier uploads "
               f"(key check {key_check(OTHER)} ≠ {key_check(SECRET)})")
    with pytest.raises(LinkageError, match=re.escape(message)):
        load_encodings(warehouse, wrong)
    assert warehouse.count("person_encodings") == before


# --- what the encodings say ---------------------------------------------------------------------------------


def test_one_persons_records_agree_and_different_peoples_do_not(city, encoded):
    con = duckdb.connect()
    files = [str(p) for p in encoded.values()]
    bits = ", ".join(f"{bit_sql(c)} AS {c}" for c in FILTER_COLUMNS)
    con.execute(f"CREATE TABLE r AS SELECT e.record_id, split_part(e.record_id, ':', 1) AS source, k.person_id, "
                f"{bits} FROM read_parquet({files}) e JOIN read_csv('{city.answer_key}', all_varchar = true) k "
                "ON e.record_id = k.source || ':' || k.record_key")
    same = "a.person_id = b.person_id"
    for c in FILTER_COLUMNS:
        def quantile(pairs: str, q: float, column: str = c) -> float:
            row = con.execute(f"SELECT quantile_cont({dice_sql('a.' + column, 'b.' + column)}, {q}) FROM r a "
                              f"JOIN r b ON a.source < b.source AND {pairs}").fetchone()
            assert row is not None
            return float(row[0])
        assert quantile(same, 0.5) == 1.0, c
        assert quantile(f"NOT ({same})", 0.95) < 0.5, c
        assert quantile(same, 0.25) > quantile(f"NOT ({same})", 0.75), c


def test_nicknames_date_slips_and_typos_agree_partly():
    bob, robert, alice = encode_people([person("BOB", "SMITH"), person("ROBERT", "SMITH"), person("ALICE", "SMITH")])
    assert dice(bob["name_bf"], robert["name_bf"]) > dice(bob["name_bf"], alice["name_bf"]) + 0.1
    dates = encode_people([person("A", "B", d) for d in ("1985-03-04", "1985-04-03", "1985-03-05", "1986-03-04",
                                                          "1962-11-27")])
    exact, swapped, day_typo, year_typo, other = (d["dob_bf"] for d in dates)
    assert dice(exact, exact) == 1.0
    for partial in (swapped, day_typo, year_typo):
        assert 0.3 < dice(exact, partial) < 0.6
    assert dice(exact, other) < 0.25
    streets = encode_people([person("A", "B", address=a) for a in ("12 OAK ST", "12 OAKS ST", "940 PINE AVE")])
    assert dice(streets[0]["address_bf"], streets[1]["address_bf"]) > 0.8
    assert dice(streets[0]["address_bf"], streets[2]["address_bf"]) < 0.5


def test_missing_values_are_null_never_an_encoding_of_nothing():
    full, no_dob, nothing = encode_people([
        {**person("ANA", "RUIZ"), "source_person_id": "MRN1"},
        person("ANA", "RUIZ", dob=None, address="HOMELESS", zip_=None),
        {},
    ])
    assert all(full[c] for c in (*FILTER_COLUMNS, "person_key"))
    assert (no_dob["dob_bf"], no_dob["address_bf"], no_dob["person_key"]) == (None, None, None)
    assert no_dob["name_bf"] == full["name_bf"]
    assert [nothing[c] for c in (*FILTER_COLUMNS, "person_key")] == [None] * 4


def test_the_file_holds_no_cleartext(city, encoded):
    ed = pq.read_table(city.source("ed_visits").path).to_pylist()
    data = encoded["ed_visits"].read_bytes()
    clear: set[str] = set()
    for r in ed:
        clear |= {v for v in (r["PAT_LAST_NAME"], r["PAT_FIRST_NAME"], r["ADD_LINE_1"]) if v and len(v) >= 6}
        clear |= {str(r["PAT_MRN_ID"])}
        if r["BIRTH_DATE"]:
            clear |= {r["BIRTH_DATE"].isoformat(), r["BIRTH_DATE"].strftime("%m/%d/%Y")}
    assert len(clear) > 100
    # The file is uncompressed, so a grep finds what it does hold: the record ids.
    ids = read_encoded(encoded["ed_visits"]).table["record_id"].to_pylist()
    assert all(i.encode() in data for i in ids[:50])
    found = [v for v in clear if v.encode() in data or v.upper().encode() in data]
    assert found == []


# --- every damaged file is refused, naming file, row and column ------------------------------------------------


def _set(column: str, value: Callable[[pa.Table], object], row: int = 0) -> Callable[[pa.Table], pa.Table]:
    def mutate(t: pa.Table) -> pa.Table:
        values = t[column].to_pylist()
        values[row] = value(t)
        return t.set_column(t.column_names.index(column), column, pa.array(values, pa.string()))
    return mutate


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _swap_name_filters(t: pa.Table) -> pa.Table:
    values = t["name_bf"].to_pylist()
    i = next(i for i in range(1, len(values)) if values[i] != values[0])
    values[0], values[i] = values[i], values[0]
    return t.set_column(1, "name_bf", pa.array(values, pa.string()))


def at(row: int, column: str) -> Callable[[pa.Table], str]:
    """What a row problem's message starts with: the row, its record id and the column."""
    return lambda t: rf"row {row} \(record {re.escape(t['record_id'][row - 1].as_py())}\), column {column}: "


def plain(text: str) -> Callable[[pa.Table], str]:
    return lambda t: text


Mutation = Callable[[pa.Table], pa.Table] | None
CORRUPTIONS: dict[str, tuple[Mutation, Callable[[dict], dict] | None, Callable[[pa.Table], str], str]] = {
    "wrong filter length": (_set("name_bf", lambda t: _b64(b"\x01" * 64), row=1), None, at(2, "name_bf"),
                            r"is 88 characters long; expected 172 \(a 1024-bit filter in base64\)"),
    "invalid characters": (_set("dob_bf", lambda t: "!" + t["dob_bf"][2].as_py()[1:], row=2), None,
                           at(3, "dob_bf"), "holds characters other than base64"),
    "all zeros": (_set("dob_bf", lambda t: _b64(bytes(64))), None, at(1, "dob_bf"), "has no bit set"),
    "saturated": (_set("address_bf", lambda t: _b64(b"\xff" * 128)), None, at(1, "address_bf"),
                  "has 1024 of 1024 bits set; the encoder sets at most 200"),
    "bad person key": (_set("person_key", lambda t: "MRN 700123"), None, at(1, "person_key"),
                       "expected 64 lowercase hex characters"),
    "another source's record": (_set("record_id", lambda t: "police_citations:24C000001"), None, plain("row 1 "),
                                r"\(record police_citations:24C000001\), column record_id: is police_citations:"
                                "24C000001; expected a record id of source ed_visits"),
    "duplicate record": (_set("record_id", lambda t: t["record_id"][0].as_py(), row=1), None,
                         lambda t: rf"rows 1, 2 \(record {re.escape(t['record_id'][0].as_py())}\), column record_id: ",
                         "the record is encoded more than once; expected one row per record"),
    "rows cut off": (lambda t: t.slice(0, t.num_rows - 1), None, lambda t: f"has {t.num_rows - 1} rows, ",
                     "but {n} were written: the file was truncated or edited"),
    "edited": (_swap_name_filters, None, plain(""), "the rows do not match the checksum written with them"),
    "extra column": (lambda t: t.append_column("first_name", pa.array(["ANA"] * t.num_rows)), None, plain(""),
                     r"unexpected column\(s\) first_name"),
    "missing column": (lambda t: t.drop_columns(["dob_bf"]), None, plain(""), "column dob_bf is missing"),
    "no metadata": (None, lambda m: {}, plain(""), "the Parquet metadata lacks justicelab.pprl.format_version"),
    "unknown version": (None, lambda m: {**m, b"justicelab.pprl.format_version": b"9"}, plain(""),
                        "format version '9' is unknown; this platform reads version 1"),
    "other scheme": (None, lambda m: {**m, b"justicelab.pprl.scheme": b"0" * 64}, plain(""),
                     "encoded with scheme 0000000000000000…, but this platform's is"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_a_damaged_file_is_refused_with_file_row_and_column(case, encoded, tmp_path):
    rows, meta, where, what = CORRUPTIONS[case]
    good = pq.read_table(encoded["ed_visits"])
    metadata = meta(dict(good.schema.metadata)) if meta else good.schema.metadata
    bad = tmp_path / "bad.parquet"
    pq.write_table((rows(good) if rows else good).replace_schema_metadata(metadata), bad)
    expected = f"{re.escape(str(bad))}: {where(good)}{what.replace('{n}', str(good.num_rows))}"
    with pytest.raises(LinkageError, match=expected):
        read_encoded(bad)


@pytest.mark.parametrize(("content", "expected"), [
    (b"record_id,name_bf\nx,y\n", "not a readable Parquet file"),
    (None, "not a readable Parquet file"),
])
def test_a_file_that_is_not_parquet_or_cut_short_is_refused(content, expected, encoded, tmp_path):
    bad = tmp_path / "bad.parquet"
    whole = encoded["ed_visits"].read_bytes()
    bad.write_bytes(content if content is not None else whole[: len(whole) // 2])
    with pytest.raises(LinkageError, match=f"{re.escape(str(bad))}: {expected}"):
        read_encoded(bad)


# --- properties --------------------------------------------------------------------------------------------------

names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12)


@settings(max_examples=25, deadline=None)
@given(first=names, last=names, other_first=names, other_last=names)
def test_dice_is_one_for_the_same_value_symmetric_and_bounded(first, last, other_first, other_last):
    a, same, b = encode_people([person(first, last), person(first, last), person(other_first, other_last)])
    for c in FILTER_COLUMNS:
        assert a[c] == same[c] and dice(a[c], same[c]) == 1.0
        assert dice(a[c], b[c]) == dice(b[c], a[c])
        assert 0.0 <= dice(a[c], b[c]) <= 1.0


@settings(max_examples=15, deadline=None)
@given(first=names, last=names, secret=st.binary(min_size=16, max_size=40))
def test_encodings_depend_on_the_secret_and_nothing_else(first, last, secret):
    p = {**person(first, last), "source_person_id": "42"}
    (mine,), (again,) = encode_people([p], secret), encode_people([p], secret)
    assert mine == again
    (theirs,) = encode_people([p], secret + b"!")
    assert all(mine[c] != theirs[c] for c in (*FILTER_COLUMNS, "person_key"))
    assert key_check(secret) != key_check(secret + b"!")


filters = st.binary(min_size=128, max_size=128).filter(any)


@settings(max_examples=50, deadline=None)
@given(a=filters, b=filters)
def test_duckdb_dice_is_the_dice_coefficient(a, b):
    left, right = _b64(a), _b64(b)
    got = duckdb.execute(f"SELECT {dice_sql(bit_sql('$1'), bit_sql('$2'))}", [left, right]).fetchone()
    assert got is not None and got[0] == pytest.approx(dice(left, right))
    assert 0.0 <= got[0] <= 1.0


def test_no_filter_can_reach_the_ceiling_its_checks_enforce():
    # The load check "saturated" relies on this: a genuine encoding never sets more bits than max_bits.
    for f in FILTERS:
        assert f.max_bits < f.length / 2 and f.length & (f.length - 1) == 0


# --- the secret ----------------------------------------------------------------------------------------------------


def test_secret_files_shorter_than_16_bytes_are_refused(tmp_path):
    short = tmp_path / "short.key"
    short.write_bytes(b"too-short\n")
    with pytest.raises(LinkageError, match=f"{re.escape(str(short))}: the secret is 9 bytes; at least 16"):
        read_secret(short)
    with pytest.raises(LinkageError, match="cannot read the secret file"):
        read_secret(tmp_path / "missing.key")
    good = tmp_path / "good.key"
    good.write_bytes(SECRET + b"\n")
    assert read_secret(good) == SECRET  # an editor's newline is not part of the secret
