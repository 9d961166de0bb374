"""Ingest as a user sees it: every reader, every transform, quarantine with reasons, idempotence, updates."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from justicelab.ingest import ingest_file
from justicelab.ingest.batches import export_quarantine, quarantined_rows
from tests.conftest import BOOKING_HEADER, BOOKING_MAPPING, make_mapping

ROWS = [
    ["B1", "NÚÑEZ, JOSÉ ANTONIO", "07/02/1985", "M", "03/14/2021 22:05", "03/15/2021 10:00"],
    ["B2", "O’BRIEN, MAEVE", "11/30/1990", "F", "01/01/2022 01:00", ""],
    ["B3", "LEE, AMY", "01/02/1999", "", "06/01/2022 08:00", "06/02/2022 08:00"],
]


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8",
              newline: str = "\n", header: list[str] = BOOKING_HEADER) -> Path:
    def quote(v: str) -> str:
        return f'"{v}"' if (delimiter in v or "\n" in v or '"' in v) else v

    lines = [delimiter.join(quote(v) for v in r) for r in [header, *rows]]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def loaded_rows(warehouse, order: str = "booking_number") -> list[dict]:
    return warehouse.ibis.table("booking").order_by(order).to_pyarrow().to_pylist()


@pytest.mark.parametrize(
    ("encoding", "declared", "newline", "delimiter"),
    [
        ("utf-8", "auto", "\n", ","),
        ("utf-8-sig", "auto", "\r\n", ","),
        ("cp1252", "windows-1252", "\r\n", "|"),
        ("cp1252", "auto", "\r\n", ";"),
        ("utf-8", "utf-8", "\n", "\t"),
    ],
)
def test_csv_encodings_delimiters_and_line_ends(tmp_path, warehouse, encoding, declared, newline, delimiter):
    mapping = make_mapping(tmp_path, {**BOOKING_MAPPING, "source": {"encoding": declared}})
    src = write_csv(tmp_path / "b.csv", ROWS, delimiter=delimiter, encoding=encoding, newline=newline)
    result = ingest_file(warehouse, src, mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 3, 0)
    rows = loaded_rows(warehouse)
    assert [r["last_name"] for r in rows] == ["NÚÑEZ", "O’BRIEN", "LEE"]  # ’ exists in cp1252, not latin-1
    assert rows[0]["first_name"] == "JOSÉ"
    assert rows[2]["sex"] == "U"  # the default fills an empty value
    assert [r["_source_row"] for r in rows] == [2, 3, 4]
    assert all(r["_batch_id"] == result.batch_id for r in rows)
    assert rows[0]["_record_id"] == "jail:B1"


def test_quoted_fields_with_delimiters_and_newlines_keep_row_numbers(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    rows = [
        ["B1", "SMITH, ANN", "01/01/1980", "F", "01/01/2020 10:00", ""],
        ["B2", "JONES,\nBOB", "01/01/1981", "M", "01/01/2020 10:00", ""],
        ["B3", "GARCIA LOPEZ, ANA", "13/13/1982", "F", "01/01/2020 10:00", ""],
    ]
    result = ingest_file(warehouse, write_csv(tmp_path / "b.csv", rows), mapping)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert [r["last_name"] for r in loaded_rows(warehouse)] == ["SMITH", "JONES"]
    (bad,) = quarantined_rows(warehouse, result.batch_id)
    assert bad["source_row"] == 4  # record 3 after the header, even though record 2 spans two lines
    assert bad["record"]["NAME"] == "GARCIA LOPEZ, ANA"


def test_every_reason_is_recorded_with_column_value_and_rule(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    rows = [["B9", "DOE, JOHN", "31/12/1980", "Q", "01/02/2021 10:00", "01/01/2021 10:00"],
            ["", "DOE, JANE", "01/01/1980", "F", "", ""]]
    result = ingest_file(warehouse, write_csv(tmp_path / "b.csv", rows), mapping)
    assert result.rows_quarantined == 2 and result.rows_loaded == 0
    first, second = quarantined_rows(warehouse, result.batch_id)
    rules = {(r["rule"], r["column"], r["value"]) for r in first["reasons"]}
    assert ("type", "DOB", "31/12/1980") in rules
    assert ("codelist", "SEX", "Q") in rules
    assert any(r["rule"] == "release_after_booking" for r in first["reasons"])
    assert {r["rule"] for r in second["reasons"]} == {"required"}
    assert {r["column"] for r in second["reasons"]} == {"BOOK_NO", "BOOKED"}


def test_same_file_twice_is_a_no_op(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    src = write_csv(tmp_path / "b.csv", ROWS)
    first = ingest_file(warehouse, src, mapping)
    again = ingest_file(warehouse, src, mapping)
    assert again.status == "skipped" and again.batch_id == first.batch_id
    assert warehouse.count("booking") == 3
    assert warehouse.count("ingest_batches") == 1


def test_corrected_redelivery_updates_by_natural_key_and_says_what_changed(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    first = ingest_file(warehouse, write_csv(tmp_path / "b1.csv", ROWS), mapping)
    corrected = [list(r) for r in ROWS]
    corrected[1][5] = "01/03/2022 09:30"  # B2 released
    corrected.append(["B4", "KIM, SOO", "02/02/1992", "F", "07/01/2022 08:00", ""])
    second = ingest_file(warehouse, write_csv(tmp_path / "b2.csv", corrected), mapping)
    assert (second.rows_inserted, second.rows_updated, second.rows_unchanged) == (1, 1, 2)
    assert second.changed_fields == {"release_datetime": 1}
    rows = {r["booking_number"]: r for r in loaded_rows(warehouse)}
    assert len(rows) == 4
    assert rows["B2"]["release_datetime"].isoformat() == "2022-01-03T09:30:00"
    assert rows["B2"]["_batch_id"] == second.batch_id
    assert rows["B1"]["_batch_id"] == first.batch_id  # unchanged rows keep their lineage
    changes = warehouse.ibis.table("ingest_changes").to_pyarrow().to_pylist()
    assert [(c["record_id"], c["field"], c["old_value"], c["previous_batch_id"]) for c in changes] == [
        ("jail:B2", "release_datetime", None, first.batch_id)
    ]


def test_duplicate_key_in_one_delivery_keeps_the_first(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    rows = [ROWS[0], ROWS[1], [*ROWS[0][:5], "03/16/2021 10:00"]]
    result = ingest_file(warehouse, write_csv(tmp_path / "b.csv", rows), mapping)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    (dup,) = quarantined_rows(warehouse, result.batch_id)
    assert dup["source_row"] == 4 and dup["reasons"][0]["rule"] == "duplicate_key"
    assert "row 2" in dup["reasons"][0]["message"]


def test_two_digit_years_land_in_the_past(tmp_path, warehouse):
    body = json.loads(json.dumps(BOOKING_MAPPING))
    body["fields"]["date_of_birth"] = {"column": "DOB", "date_format": "%m/%d/%y"}
    body["fields"]["booking_datetime"] = {"column": "BOOKED", "date_format": "%m/%d/%y %H:%M"}
    body["fields"]["release_datetime"] = {"column": "RELEASED", "date_format": "%m/%d/%y %H:%M"}
    mapping = make_mapping(tmp_path, body)
    rows = [["B1", "A, B", "07/02/45", "M", "03/14/21 22:05", ""],
            ["B2", "C, D", "07/02/05", "F", "01/01/99 01:00", ""]]
    ingest_file(warehouse, write_csv(tmp_path / "b.csv", rows), mapping)
    got = {r["booking_number"]: r for r in loaded_rows(warehouse)}
    assert got["B1"]["date_of_birth"].year == 1945
    assert got["B2"]["date_of_birth"].year == 2005
    assert got["B2"]["booking_datetime"].year == 1999


def test_transforms_concat_code_map_case_constant(tmp_path, warehouse):
    body = {
        "entity": "booking", "name": "jail2", "natural_key": ["booking_number"],
        "source": {"null_values": ["NULL", "N/A"]},
        "fields": {
            "booking_number": "BOOK_NO",
            "last_name": {"column": "LAST", "case": "upper"},
            "first_name": {"column": "FIRST", "case": "title"},
            "address": {"columns": ["HOUSE", "STREET"]},
            "race_ethnicity": {"column": "RACE", "code_map": {"H": "hispanic", "W": "white"}},
            "facility": {"constant": "MAIN JAIL"},
            "booking_datetime": "BOOKED",
        },
    }
    mapping = make_mapping(tmp_path, body)
    header = ["BOOK_NO", "LAST", "FIRST", "HOUSE", "STREET", "RACE", "BOOKED"]
    rows = [["1", " garcia ", "mARIA elena", "12", "OAK ST", "H", "2021-01-01 10:00:00"],
            ["2", "NULL", "N/A", "N/A", "ELM ST", "W", "2021-01-02 10:00:00"]]
    ingest_file(warehouse, write_csv(tmp_path / "b.csv", rows, header=header), mapping)
    a, b = loaded_rows(warehouse)
    assert (a["last_name"], a["first_name"], a["address"], a["race_ethnicity"], a["facility"]) == (
        "GARCIA", "Maria Elena", "12 OAK ST", "hispanic", "MAIN JAIL")
    assert (b["last_name"], b["first_name"], b["address"]) == (None, None, "ELM ST")


def test_parquet(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, {**BOOKING_MAPPING, "fields": {
        **BOOKING_MAPPING["fields"],
        "date_of_birth": "DOB", "booking_datetime": "BOOKED", "release_datetime": "RELEASED"}})
    import datetime as dt

    table = pa.table({
        "BOOK_NO": ["P1", "P2"], "NAME": ["A, B", "C, D"], "DOB": [dt.date(1980, 1, 1), None],
        "SEX": ["M", "F"], "BOOKED": [dt.datetime(2021, 1, 1, 10), dt.datetime(2021, 2, 1, 10)],
        "RELEASED": [None, dt.datetime(2021, 1, 1)],
    })
    pq.write_table(table, tmp_path / "b.parquet")
    result = ingest_file(warehouse, tmp_path / "b.parquet", mapping)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    (bad,) = quarantined_rows(warehouse, result.batch_id)
    assert bad["source_row"] == 2 and bad["reasons"][0]["rule"] == "release_after_booking"


def test_json_lines_with_a_broken_line(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    good = {"BOOK_NO": "J1", "NAME": "A, B", "DOB": "01/01/1980", "SEX": "M", "BOOKED": "01/01/2021 10:00"}
    lines = [json.dumps(good), '{"BOOK_NO": "J2", "NAME": ', json.dumps({**good, "BOOK_NO": "J3"})]
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(warehouse, tmp_path / "b.jsonl", mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    (bad,) = quarantined_rows(warehouse, result.batch_id)
    assert bad["source_row"] == 2 and bad["reasons"][0]["rule"] == "malformed"


def write_xlsx(path: Path, rows: list[list], title: str | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(BOOKING_HEADER)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_excel_with_an_extra_title_row_finds_its_header(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    src = write_xlsx(tmp_path / "b.xlsx", ROWS, title="Jail bookings export — run 2024-01-02")
    result = ingest_file(warehouse, src, mapping)
    assert (result.rows_read, result.rows_loaded) == (3, 3)
    assert "header found on row 2" in result.notes
    assert [r["_source_row"] for r in loaded_rows(warehouse)] == [3, 4, 5]  # the rows Excel shows


def test_quarantine_export_round_trips_the_original_columns(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    rows = [*ROWS, ["B5", "X, Y", "99/99/1999", "M", "01/01/2021 10:00", ""]]
    result = ingest_file(warehouse, write_csv(tmp_path / "b.csv", rows), mapping)
    out = tmp_path / "fix.csv"
    assert export_quarantine(warehouse, result.batch_id, out) == 1
    import csv

    (row,) = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["_source_row"] == "5" and row["DOB"] == "99/99/1999" and "DOB" in row["_reasons"]


def test_adapter_copy_keeps_the_original_file_in_lineage(tmp_path, warehouse):
    """An adapter reshapes a file, carries its row numbers along, and names the original as the origin."""
    original = write_csv(tmp_path / "original.csv", ROWS)
    reshaped = tmp_path / "reshaped.csv"
    header = [*BOOKING_HEADER, "ORIG_ROW"]
    write_csv(reshaped, [[*r, str(n)] for r, n in zip(ROWS, (12, 14, 20), strict=True)], header=header)
    mapping = make_mapping(tmp_path, {**BOOKING_MAPPING, "source": {"row_number_column": "ORIG_ROW"}})
    result = ingest_file(warehouse, reshaped, mapping, origin=original)
    assert [r["_source_row"] for r in loaded_rows(warehouse)] == [12, 14, 20]
    batch = warehouse.ibis.table("ingest_batches").to_pyarrow().to_pylist()[0]
    assert batch["file_path"] == str(original) and result.file == str(original)
    assert ingest_file(warehouse, reshaped, mapping, origin=original).status == "skipped"
