"""Bad input: a clear error naming file, row, column and what was expected — and nothing written."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from justicelab.errors import MappingError, SourceFileError
from justicelab.ingest import ingest_file, load_mapping
from justicelab.warehouse import Warehouse
from tests.conftest import BOOKING_MAPPING, make_mapping
from tests.ingest.test_readers_and_load import ROWS, write_csv, write_xlsx


def nothing_written(warehouse: Warehouse) -> bool:
    tables = warehouse.ibis.list_tables()
    return all(warehouse.count(t) == 0 for t in ("ingest_batches", "ingest_quarantine", "booking") if t in tables)


def test_wrong_encoding_is_an_error_naming_row_and_column(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, {**BOOKING_MAPPING, "source": {"encoding": "utf-8"}})
    src = write_csv(tmp_path / "b.csv", ROWS, encoding="cp1252")
    with pytest.raises(SourceFileError) as err:
        ingest_file(warehouse, src, mapping)
    msg = str(err.value)
    assert "b.csv" in msg and "row 2" in msg and "NAME" in msg and "Windows-1252" in msg
    assert nothing_written(warehouse)


def test_missing_column_names_it_and_the_closest_present(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    header = ["BOOKNO", "NAME", "DOB", "SEX", "BOOKED", "RELEASED"]
    with pytest.raises(SourceFileError) as err:
        ingest_file(warehouse, write_csv(tmp_path / "b.csv", ROWS, header=header), mapping)
    msg = str(err.value)
    assert "BOOK_NO (closest present: BOOKNO" in msg and "row 1" in msg
    assert nothing_written(warehouse)


def test_header_matching_ignores_case_and_spaces(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    header = ["book_no ", "Name", "dob", "Sex", "BOOKED", "released"]
    result = ingest_file(warehouse, write_csv(tmp_path / "b.csv", ROWS, header=header), mapping)
    assert result.rows_loaded == 3


@pytest.mark.parametrize(("content", "expected"), [
    (b"", r"empty \(0 bytes\)"),
    (b"BOOK_NO,NAME,DOB,SEX,BOOKED,RELEASED\n", "no data rows"),
])
def test_empty_files(tmp_path, warehouse, content, expected):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    (tmp_path / "b.csv").write_bytes(content)
    with pytest.raises(SourceFileError, match=expected):
        ingest_file(warehouse, tmp_path / "b.csv", mapping)
    assert nothing_written(warehouse)


def test_unreadable_workbook(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    (tmp_path / "b.xlsx").write_bytes(b"this is not a zip file")
    with pytest.raises(SourceFileError, match="cannot be read as an Excel workbook"):
        ingest_file(warehouse, tmp_path / "b.xlsx", mapping)
    assert nothing_written(warehouse)


def test_excel_header_row_declared_wrongly(tmp_path, warehouse):
    mapping = make_mapping(tmp_path, {**BOOKING_MAPPING, "source": {"header_row": 1}})
    src = write_xlsx(tmp_path / "b.xlsx", ROWS, title="Bookings export")
    with pytest.raises(SourceFileError, match="row 1 \\(the header\\) is missing"):
        ingest_file(warehouse, src, mapping)
    assert nothing_written(warehouse)


def test_unknown_mapping_field_suggests_the_standard_name(tmp_path):
    body = {**BOOKING_MAPPING, "fields": {**BOOKING_MAPPING["fields"], "birth_date": "DOB"}}
    with pytest.raises(MappingError) as err:
        make_mapping(tmp_path, body)
    assert "birth_date" in str(err.value) and "is not a field of booking" in str(err.value)


def test_mapping_errors_name_the_file_and_place(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("entity: booking\nfields:\n  booking_number: {column: A, constant: x}\n", encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(path) in str(err.value) and "exactly one of column, columns or constant" in str(err.value)
    path.write_text("entity: bookings\nfields: {}\n", encoding="utf-8")
    with pytest.raises(MappingError, match="unknown entity type 'bookings'"):
        load_mapping(path)
    path.write_text("entity: booking\nfields:\n  last_name: A\n", encoding="utf-8")
    with pytest.raises(MappingError, match="required field 'booking_number'"):
        load_mapping(path)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import justicelab.ingest.pipeline as pipeline
    from justicelab.ingest import ingest_file, load_mapping
    from justicelab.warehouse import Warehouse

    def then_hang(real):
        def load(*args, **kwargs):
            counts = real(*args, **kwargs)  # every row inserted, the transaction not yet committed
            print("inserted", flush=True)
            time.sleep(120)
            return counts
        return load

    pipeline.load_batch = then_hang(pipeline.load_batch)  # a re-delivery: compared with what is stored
    pipeline.load_fresh = then_hang(pipeline.load_fresh)  # a first delivery: straight from the parse
    with Warehouse.open(sys.argv[1]) as wh:
        ingest_file(wh, Path(sys.argv[2]), load_mapping(Path(sys.argv[3])))
    """
)


@pytest.mark.parametrize("first_delivery", [True, False])
def test_a_load_killed_halfway_leaves_no_partial_batch(tmp_path, first_delivery):
    db = tmp_path / "wh.duckdb"
    mapping = make_mapping(tmp_path, BOOKING_MAPPING)
    with Warehouse.open(str(db)) as wh:
        if not first_delivery:
            ingest_file(wh, write_csv(tmp_path / "small.csv", ROWS), mapping)
    rows = [[f"K{i}", "DOE, JOHN", "01/01/1980", "M", "01/01/2021 10:00", ""] for i in range(50_000)]
    big = write_csv(tmp_path / "big.csv", rows)
    script = tmp_path / "load.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(big), str(mapping.path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "inserted"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with Warehouse.open(str(db)) as wh:
        before = 0 if first_delivery else 3
        assert wh.count("ingest_batches") == (0 if first_delivery else 1)
        assert wh.count("booking") == before
        assert wh.count("ingest_quarantine") == 0
        again = ingest_file(wh, big, mapping)  # and the file loads cleanly afterwards
        assert (again.status, again.rows_loaded) == ("loaded", 50_000)
