"""A tiny hand-made citation table with its person index, and the expected labels computed independently."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from justicelab.gate import GateSecret
from justicelab.linkage.store import PERSON_INDEX, SCHEMAS
from justicelab.standard import PrivacyRole, load_standard
from justicelab.warehouse import Generaliser, Warehouse, ensure_entity_table, entity_schema

STANDARD = load_standard()
CITATION = STANDARD.entity("citation")
AGENCY_COUNTY = {"ABPD": "sacramento", "CVSO": "yolo", "RVPD": "placer"}
SECRET = GateSecret(bytes(range(32)))  # fixed, so that scans for identifiers are deterministic


def generaliser() -> Generaliser:
    return Generaliser(STANDARD, {"agency.county": AGENCY_COUNTY})


def _row(n: int, person: str | None, last: str, first: str, dob: dt.date | None, age: int | None, sex: str,
         zip_code: str | None, agency: str, level: str, day: dt.date, **extra: Any) -> dict[str, Any]:
    return {
        "_record_id": f"police_citations:C{n:06d}", "_source": "police_citations", "_batch_id": 1,
        "_source_row": n + 1, "source_person_id": f"SP-{last[:3]}-{n % 4}", "last_name": last,
        "first_name": first, "middle_name": extra.get("middle"), "date_of_birth": dob, "age": age, "sex": sex,
        "race_ethnicity": extra.get("race", "white"), "address": f"{100 + n} {extra.get('street', 'W OAK ST')}",
        "city": "ALDER BAY", "zip": zip_code, "citation_number": f"C{n:06d}", "citation_date": day,
        "agency_code": agency, "offense_code": "PC 647(e)", "offense_description": "Illegal lodging",
        "offense_level": level, "location": f"{n}00 BLK K ST", "officer_badge": f"B{4400 + n}",
        "court_date": day + dt.timedelta(days=30 + n), "person_id": person,
    }


D = dt.date
ROWS: list[dict[str, Any]] = [
    _row(1, "P000001", "GARCIA-LOPEZ", "MARIA", D(1987, 4, 12), 34, "F", "95814", "ABPD", "misdemeanor",
         D(2021, 6, 14), middle="ELENA", race="hispanic"),
    _row(2, "P000001", "GARCIA-LOPEZ", "MARIA", D(1987, 4, 12), 35, "F", "95814", "ABPD", "infraction",
         D(2022, 1, 3), race="hispanic"),
    _row(3, "P000002", "O'BRIEN", "SEÁN", D(1960, 12, 31), 60, "M", "95616", "CVSO", "misdemeanor",
         D(2021, 3, 1), street="1ST AVE"),
    _row(4, "P000002", "O'BRIEN", "SEAN", D(1960, 12, 31), 61, "M", None, "CVSO", "misdemeanor", D(2021, 12, 31)),
    _row(5, "P000003", "NGUYỄN", "THỊ", D(2004, 2, 29), 17, "F", "95603", "RVPD", "infraction", D(2021, 7, 4),
         race="asian"),
    _row(6, "P000004", "SMITH", "JOHN", None, None, "M", "95814", "ABPD", "felony", D(2023, 5, 5), middle="Q"),
    _row(7, "P000005", "WASHINGTON", "TYRONE", D(2000, 1, 1), 0, "M", "95820", "ABPD", "misdemeanor",
         D(2020, 2, 2), race="black"),
    _row(8, "P000005", "WASHINGTON", "TY", D(2000, 1, 1), 120, "M", "95820", "RVPD", "infraction", D(2020, 9, 9),
         race="black"),
    _row(9, None, "UNLINKED", "NOBODY", D(1999, 9, 9), 24, "U", "95811", "ABPD", "misdemeanor", D(2023, 9, 9)),
    _row(10, "P000006", "LEE", "KIM", D(1975, 6, 15), 46, "F", "95811", "CVSO", "misdemeanor", D(2021, 10, 10),
         race="asian"),
]


def load_citations(warehouse: Warehouse, rows: list[dict[str, Any]] | None = None) -> None:
    """Create the citation table and the person index holding ``rows`` (default: :data:`ROWS`)."""
    rows = ROWS if rows is None else rows
    ensure_entity_table(warehouse, CITATION)
    schema = entity_schema(CITATION).to_pyarrow()
    warehouse.insert_arrow(CITATION.name, pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows],
                                                              schema=schema))
    warehouse.ensure_table(PERSON_INDEX, SCHEMAS[PERSON_INDEX])
    index = [{"record_id": r["_record_id"], "person_id": r["person_id"], "source": r["_source"],
              "entity": CITATION.name, "run_id": 1, "linkable": True, "fingerprint": "x"}
             for r in rows if r["person_id"] is not None]
    warehouse.insert_arrow(PERSON_INDEX, pa.Table.from_pylist(index, schema=SCHEMAS[PERSON_INDEX].to_pyarrow()))


# -- expected labels, written without the Generaliser ---------------------------------------------------

def month(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else f"{value.year:04d}-{value.month:02d}"


def year(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else f"{value.year:04d}"


def band5(age: int | None) -> str | None:
    return None if age is None else f"{age // 5 * 5}-{age // 5 * 5 + 4}"


def zip3(code: str | None) -> str | None:
    return None if code is None else code[:3]


def county(agency: str | None) -> str | None:
    return None if agency is None else AGENCY_COUNTY.get(agency)


EXPECTED_LABEL = {"date_of_birth": year, "citation_date": month, "court_date": month, "age": band5, "zip": zip3,
                  "agency_code": county}
KEYS = ("_record_id", "citation_number", "source_person_id", "person_id")
DIRECT = tuple(f.name for f in CITATION.fields if f.privacy_role is PrivacyRole.direct_identifier)
DROPPED_AT_DEIDENTIFIED = ("last_name", "first_name", "middle_name", "address", "officer_badge", "city",
                           "location", "_batch_id", "_source_row")
KEPT_AT_DEIDENTIFIED = ("_source", "sex", "race_ethnicity", "offense_code", "offense_description", "offense_level")


def rows_of(table: Any) -> list[dict[str, Any]]:
    """An Ibis table's rows as dicts, sorted so that two engines' results compare equal."""
    rows = table.to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: [(v is None, str(v)) for v in r.values()])
