"""Property: for any messy CSV, read = loaded + quarantined, and nothing but that batch changes."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from justicelab.errors import SourceFileError
from justicelab.ingest import ingest_file
from justicelab.warehouse import Warehouse
from tests.conftest import BOOKING_HEADER, BOOKING_MAPPING, make_mapping

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=12)
dates = st.one_of(st.dates().map(lambda d: d.strftime("%m/%d/%Y")), text)
stamps = st.one_of(st.datetimes().map(lambda d: d.strftime("%m/%d/%Y %H:%M")), text)
good_row = st.tuples(st.text("ABC123", min_size=1, max_size=4), text, dates, st.sampled_from(["M", "F", "", "Q"]),
                     stamps, stamps).map(list)
# A messy row: the right shape with junk values, or the wrong number of fields.
messy_row = st.one_of(good_row, st.lists(text, min_size=1, max_size=9))


def render(rows: list[list[str]], delimiter: str, crlf: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(BOOKING_HEADER)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def snapshot(wh: Warehouse) -> dict[str, int]:
    tables = wh.ibis.list_tables()
    return {t: wh.count(t) for t in ("booking", "ingest_batches", "ingest_quarantine") if t in tables}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(messy_row, min_size=1, max_size=25), delimiter=st.sampled_from([",", ";", "|", "\t"]),
       crlf=st.booleans())
def test_messy_csv_accounts_for_every_row(rows, delimiter, crlf):
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        mapping = make_mapping(tmp_path, {**BOOKING_MAPPING, "source": {"delimiter": delimiter}})
        src = tmp_path / "messy.csv"
        src.write_bytes(render(rows, delimiter, crlf))
        with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
            before = snapshot(wh)
            try:
                result = ingest_file(wh, src, mapping)
            except SourceFileError as exc:  # a refusal must leave the warehouse untouched
                assert snapshot(wh) == before, exc
                return
            after = snapshot(wh)
            assert result.rows_read == result.rows_loaded + result.rows_quarantined
            assert after["booking"] - before.get("booking", 0) == result.rows_inserted
            assert after["ingest_quarantine"] - before.get("ingest_quarantine", 0) == result.rows_quarantined
            assert after["ingest_batches"] - before.get("ingest_batches", 0) == 1
            # every source row number is accounted for exactly once
            loaded = [r[0] for r in wh.execute("SELECT _source_row FROM booking")]
            quarantined = [r[0] for r in wh.execute("SELECT source_row FROM ingest_quarantine")]
            assert len(set(loaded) | set(quarantined)) == result.rows_read
            assert not set(loaded) & set(quarantined)
