"""The Justice Data Standard as shipped: complete, consistent, and grounded in the real DOJ files."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from justicelab.errors import StandardError
from justicelab.standard import EntityKind, FieldType, LegalClass, PrivacyRole, Standard, load_standard
from justicelab.standard.loader import DATA_DIR

PERSON_FIELDS = [
    "source_person_id",
    "last_name",
    "first_name",
    "middle_name",
    "date_of_birth",
    "age",
    "sex",
    "race_ethnicity",
    "address",
    "city",
    "zip",
]

# The entity field spec: kind, legal class of included person fields, default key, and each own
# field as name -> (type, codelist, required). Other code is written against exactly these names.
S, INT, D, TS, B = "string", "integer", "date", "timestamp", "boolean"
SPEC: dict[str, dict] = {
    "citation": {
        "kind": "person_event",
        "legal_class": "cori",
        "key": ["citation_number"],
        "fields": {
            "citation_number": (S, None, True),
            "citation_date": (D, None, True),
            "agency_code": (S, None, False),
            "offense_code": (S, None, False),
            "offense_description": (S, None, False),
            "offense_level": (S, "offense_level", False),
            "location": (S, None, False),
            "officer_badge": (S, None, False),
            "court_date": (D, None, False),
        },
        "rules": [("court_date", ">=", "citation_date")],
    },
    "booking": {
        "kind": "person_event",
        "legal_class": None,
        "key": ["booking_number"],
        "fields": {
            "booking_number": (S, None, True),
            "booking_datetime": (TS, None, True),
            "release_datetime": (TS, None, False),
            "release_type": (S, "release_type", False),
            "facility": (S, None, False),
            "arresting_agency": (S, None, False),
            "charge_code": (S, None, False),
            "charge_description": (S, None, False),
            "charge_level": (S, "offense_level", False),
        },
        "rules": [("release_datetime", ">=", "booking_datetime")],
    },
    "arrest": {
        "kind": "person_event",
        "legal_class": "cori",
        "key": ["arrest_number"],
        "fields": {
            "arrest_number": (S, None, True),
            "arrest_date": (D, None, True),
            "agency_code": (S, None, False),
            "county": (S, "county", False),
            "offense_code": (S, None, False),
            "offense_description": (S, None, False),
            "offense_category": (S, "arrest_offense_category", False),
            "offense_level": (S, "offense_level", False),
            "arrest_disposition": (S, "arrest_disposition", False),
        },
        "rules": [],
    },
    "ems_response": {
        "kind": "person_event",
        "legal_class": "hipaa",
        "key": ["incident_number"],
        "fields": {
            "incident_number": (S, None, True),
            "response_datetime": (TS, None, True),
            "unit": (S, None, False),
            "call_type": (S, "ems_call_type", False),
            "primary_impression": (S, None, False),
            "transported": (B, None, False),
            "destination": (S, None, False),
            "incident_address": (S, None, False),
        },
        "rules": [],
    },
    "ed_visit": {
        "kind": "person_event",
        "legal_class": "hipaa",
        "key": ["visit_id"],
        "fields": {
            "visit_id": (S, None, True),
            "facility": (S, None, False),
            "arrival_datetime": (TS, None, True),
            "discharge_datetime": (TS, None, False),
            "chief_complaint": (S, None, False),
            "diagnosis_code": (S, None, False),
            "substance_use_related": (B, None, False),
            "disposition": (S, "ed_disposition", False),
        },
        "rules": [("discharge_datetime", ">=", "arrival_datetime")],
    },
    "shelter_stay": {
        "kind": "person_event",
        "legal_class": "hmis",
        "key": ["stay_id"],
        "fields": {
            "stay_id": (S, None, True),
            "entry_date": (D, None, True),
            "exit_date": (D, None, False),
            "shelter_name": (S, None, False),
            "program_type": (S, "shelter_program", False),
            "exit_destination": (S, "shelter_exit", False),
        },
        "rules": [("exit_date", ">=", "entry_date")],
    },
    "prosecution_case": {
        "kind": "person_event",
        "legal_class": "cori",
        "key": ["case_number"],
        "fields": {
            "case_number": (S, None, True),
            "filing_date": (D, None, True),
            "referring_agency": (S, None, False),
            "charge_code": (S, None, False),
            "charge_description": (S, None, False),
            "charge_level": (S, "offense_level", False),
            "disposition": (S, "case_disposition", False),
            "disposition_date": (D, None, False),
            "sentence_type": (S, "sentence_type", False),
        },
        "rules": [("disposition_date", ">=", "filing_date")],
    },
    "custody_death": {
        "kind": "person_event",
        "legal_class": "cori",
        "key": ["death_id"],
        "fields": {
            "death_id": (S, None, True),
            "date_of_death": (D, None, True),
            "county": (S, "county", False),
            "agency_code": (S, None, False),
            "agency_name": (S, None, False),
            "custody_stage": (S, "custody_stage", False),
            "facility_type": (S, "custody_facility_type", False),
            "manner_of_death": (S, "manner_of_death", False),
            "doj_agency_number": (S, None, False),
            "reporting_agency_type": (S, "custody_reporting_agency", False),
            "custody_offense": (S, None, False),
            "custody_offense_category": (S, None, False),
            "facility_of_death": (S, "custody_facility_type", False),
            "cause_location": (S, "custody_death_location", False),
            "means_of_death": (S, "means_of_death", False),
        },
        "rules": [],
    },
    "custody_death_county_summary": {
        "kind": "aggregate",
        "key": ["year", "county", "race_group"],
        "fields": {
            "year": (INT, None, True),
            "county": (S, "county", False),
            "race_group": (S, "doj_race_group", False),
            "deaths": (INT, None, False),
            "arrest_related_deaths": (INT, None, False),
            "in_custody_deaths": (INT, None, False),
            "population": (INT, None, False),
            "death_rate": ("number", None, False),
            "arrest_related_death_rate": ("number", None, False),
            "in_custody_death_rate": ("number", None, False),
        },
        "rules": [],
    },
    "officer_assault": {
        "kind": "person_event",
        "legal_class": "personnel",
        "key": ["assault_id"],
        "fields": {
            "assault_id": (S, None, True),
            "incident_date": (D, None, True),
            "agency_code": (S, None, False),
            "county": (S, "county", False),
            "killed": (B, None, False),
            "injured": (B, None, False),
            "weapon": (S, "assault_weapon", False),
            "activity": (S, "officer_activity", False),
        },
        "rules": [],
    },
    "crime_incident": {
        "kind": "incident",
        "key": ["incident_number"],
        "fields": {
            "incident_number": (S, None, True),
            "agency_code": (S, None, True),
            "county": (S, "county", False),
            "occurred_date": (D, None, True),
            "report_date": (D, None, False),
            "offense": (S, "crime_offense", False),
            "offense_category": (S, "crime_category", False),
            "location_type": (S, None, False),
            "cleared": (B, None, False),
            "clearance_type": (S, "clearance_type", False),
            "clearance_date": (D, None, False),
        },
        "rules": [("report_date", ">=", "occurred_date"), ("clearance_date", ">=", "occurred_date")],
    },
    "crime_clearance": {
        "kind": "aggregate",
        "key": ["agency_code", "year", "offense"],
        "fields": {
            "agency_code": (S, None, True),
            "county": (S, "county", False),
            "year": (INT, None, True),
            "offense": (S, "crime_clearance_offense", False),
            "offenses": (INT, None, False),
            "clearances": (INT, None, False),
        },
        "rules": [],
    },
    "population": {
        "kind": "reference",
        "key": [
            "geography_type",
            "geography_code",
            "reference_date",
            "age_group",
            "sex",
            "race_ethnicity",
            "vintage",
        ],
        "fields": {
            "geography_type": (S, "geography_type", False),
            "geography_code": (S, None, True),
            "geography_name": (S, None, False),
            "county": (S, "county", False),
            "year": (INT, None, True),
            "reference_date": (D, None, False),
            "estimate_type": (S, "estimate_type", False),
            "age_group": (S, None, False),
            "sex": (S, "sex", False),
            "race_ethnicity": (S, "race_ethnicity", False),
            "population": (INT, None, True),
            "vintage": (S, None, False),
            "source": (S, None, False),
        },
        "rules": [],
    },
    "agency": {
        "kind": "reference",
        "key": ["agency_code"],
        "fields": {
            "agency_code": (S, None, True),
            "ori": (S, None, False),
            "name": (S, None, True),
            "county": (S, "county", True),
            "agency_type": (S, "agency_type", False),
            "doj_agency_number": (S, None, False),
            "aliases": (S, None, False),
        },
        "rules": [],
    },
    "personnel": {
        "kind": "aggregate",
        "key": ["agency_code", "year", "category", "sex"],
        "fields": {
            "agency_code": (S, None, True),
            "county": (S, "county", False),
            "year": (INT, None, True),
            "category": (S, "personnel_category", False),
            "sex": (S, "sex", False),
            "count": (INT, None, False),
        },
        "rules": [],
    },
}

# Code lists the spec names with the codes it lists (a code list may hold more codes than these).
SPEC_CODES = {
    "arrest_offense_category": {"violent", "property", "drug", "sex", "alcohol", "other"},
    "arrest_disposition": {"released", "turned_over", "complaint_sought"},
    "ems_call_type": {"overdose", "intoxication", "psychiatric", "injury", "medical", "assault", "other"},
    "ed_disposition": {"discharged", "admitted", "transferred", "left_ama", "died", "other"},
    "shelter_program": {"emergency_shelter", "transitional_housing", "safe_haven", "street_outreach"},
    "shelter_exit": {"permanent_housing", "temporary_housing", "institutional", "other", "unknown"},
    "case_disposition": {"convicted", "dismissed", "acquitted", "diverted", "declined", "pending"},
    "sentence_type": {"jail", "prison", "probation", "fine", "diversion", "none", "other"},
    "assault_weapon": {"firearm", "knife", "other_weapon", "hands_fists_feet"},
    "crime_offense": {
        "homicide",
        "rape",
        "robbery",
        "aggravated_assault",
        "burglary",
        "motor_vehicle_theft",
        "larceny_theft",
        "arson",
    },
    "crime_category": {"violent", "property", "arson"},
    "clearance_type": {"arrest", "exceptional"},
    "geography_type": {"state", "county", "city", "balance_of_county"},
    "estimate_type": {"estimate", "census"},
    "agency_type": {
        "police",
        "sheriff",
        "highway_patrol",
        "university",
        "school",
        "transit",
        "park",
        "state",
        "other",
    },
    "sex": {"M", "F", "X", "U"},
}

CODE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture(scope="module")
def std() -> Standard:
    return load_standard()


def _real_file(folder: Path, name: str) -> Path:
    path = folder / name
    assert path.is_file(), f"the OpenJustice folder lacks {name}"
    return path


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh))


# --- entities -------------------------------------------------------------------------------


def test_standard_defines_exactly_the_spec_entities(std: Standard) -> None:
    assert sorted(std.entities) == sorted(SPEC)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_entity_has_exactly_the_spec_fields(std: Standard, name: str) -> None:
    spec = SPEC[name]
    entity = std.entity(name)
    own = list(spec["fields"])
    expected = PERSON_FIELDS + own if spec["kind"] == "person_event" else own
    assert entity.field_names() == expected
    assert entity.kind is EntityKind(spec["kind"])
    assert list(entity.default_key) == spec["key"]
    for field_name, (ftype, codelist, required) in spec["fields"].items():
        f = entity.field(field_name)
        assert f.type is FieldType(ftype), field_name
        assert f.codelist == codelist, field_name
        assert f.required is required, field_name
    assert sorted((r.left, r.op, r.right) for r in entity.rules) == sorted(spec["rules"])


@pytest.mark.parametrize("name", sorted(n for n, s in SPEC.items() if s["kind"] == "person_event"))
def test_person_events_carry_the_person_with_the_entity_legal_class(std: Standard, name: str) -> None:
    entity = std.entity(name)
    assert entity.person_bearing
    assert entity.default_key, f"{name} has no default key"
    legal = SPEC[name]["legal_class"]
    if legal is not None:
        for field_name in PERSON_FIELDS:
            assert entity.field(field_name).legal_class is LegalClass(legal), (name, field_name)


def test_every_field_and_entity_is_described(std: Standard) -> None:
    for entity in std.entities.values():
        assert entity.title.strip() and entity.description.strip(), entity.name
        for f in entity.fields:
            assert len(f.description.strip()) >= 10, (entity.name, f.name)


def test_every_entity_rule_has_a_message(std: Standard) -> None:
    for entity in std.entities.values():
        for rule in entity.rules:
            assert rule.message.strip(), (entity.name, rule.name)


def test_examples_fit_their_fields(std: Standard) -> None:
    """An example is what a data user copies: it must itself pass the field's checks."""
    for entity in std.entities.values():
        for f in entity.fields:
            if f.example is None:
                continue
            where = (entity.name, f.name, f.example)
            if f.codelist:
                assert f.example in std.codelist(f.codelist).values(), where
            if f.pattern:
                assert re.fullmatch(f.pattern, str(f.example)), where
            if f.type is FieldType.integer:
                assert isinstance(f.example, int) and not isinstance(f.example, bool), where
                if isinstance(f.minimum, int):
                    assert f.example >= f.minimum, where
                if isinstance(f.maximum, int):
                    assert f.example <= f.maximum, where
            elif f.type is FieldType.boolean:
                assert isinstance(f.example, bool), where
            elif f.type is FieldType.date:
                dt.date.fromisoformat(str(f.example))
            elif f.type is FieldType.timestamp:
                dt.datetime.fromisoformat(str(f.example))


def test_own_fields_all_have_examples(std: Standard) -> None:
    for name in sorted(set(SPEC) - {"booking"}):  # booking.yaml predates this rule
        entity = std.entity(name)
        missing = [f.name for f in entity.fields if f.name not in PERSON_FIELDS and f.example is None]
        assert not missing, (name, missing)


def test_hierarchies_sit_on_the_right_fields(std: Standard) -> None:
    for entity in std.entities.values():
        for f in entity.fields:
            if (
                f.type in (FieldType.date, FieldType.timestamp)
                and f.privacy_role is PrivacyRole.quasi_identifier
            ):
                assert f.hierarchy == "date", (entity.name, f.name)
            if f.codelist == "county":
                assert f.hierarchy == "county", (entity.name, f.name)
            if f.name in ("agency_code", "arresting_agency", "referring_agency"):
                assert f.hierarchy == "place", (entity.name, f.name)
            if f.hierarchy == "date":
                assert f.type in (FieldType.date, FieldType.timestamp), (entity.name, f.name)


def test_event_dates_are_bounded(std: Standard) -> None:
    for entity in std.entities.values():
        for f in entity.fields:
            if f.type in (FieldType.date, FieldType.timestamp):
                assert f.minimum is not None, (entity.name, f.name)
            if f.type is FieldType.integer and f.name in ("year",):
                assert (f.minimum, f.maximum) == (1900, 2100), (entity.name, f.name)
            if f.type is FieldType.integer and f.name in ("offenses", "clearances", "population", "count"):
                if (entity.name, f.name) == ("crime_clearance", "offenses"):
                    # DOJ's offense counts are net of unfounded reports and can be negative (its
                    # statewide totals include the negative cells), so they have no lower bound.
                    assert f.minimum is None and "negative" in f.description, (entity.name, f.name)
                    continue
                assert f.minimum == 0, (entity.name, f.name)


def test_protected_fields_have_the_protective_classes(std: Standard) -> None:
    ed = std.entity("ed_visit")
    assert ed.field("substance_use_related").legal_class is LegalClass.part2
    assert ed.field("diagnosis_code").legal_class is LegalClass.hipaa
    assert ed.field("diagnosis_code").privacy_role is PrivacyRole.sensitive
    assert std.entity("citation").field("officer_badge").legal_class is LegalClass.personnel
    assert std.entity("ems_response").field("incident_address").privacy_role is PrivacyRole.direct_identifier
    for name in ("citation", "arrest", "prosecution_case"):
        ids = [f.name for f in std.entity(name).fields if f.privacy_role is PrivacyRole.direct_identifier]
        assert SPEC[name]["key"][0] in ids, name


@pytest.mark.parametrize(
    "code", ["F10.129", "F10129", "T40.1X1A", "Z59.0", "U07.1", "R45.851"], ids=lambda c: c
)
def test_diagnosis_pattern_accepts_icd10cm_codes(std: Standard, code: str) -> None:
    pattern = std.entity("ed_visit").field("diagnosis_code").pattern
    assert pattern and re.fullmatch(pattern, code)


@pytest.mark.parametrize("code", ["291.0", "F1", "f10.129", "F10.12345", "HELLO"])
def test_diagnosis_pattern_rejects_other_values(std: Standard, code: str) -> None:
    pattern = std.entity("ed_visit").field("diagnosis_code").pattern
    assert pattern and not re.fullmatch(pattern, code)


# --- code lists -----------------------------------------------------------------------------


def test_every_referenced_codelist_exists_and_is_well_formed(std: Standard) -> None:
    referenced = {f.codelist for e in std.entities.values() for f in e.fields if f.codelist}
    assert referenced <= set(std.codelists)
    for cl in std.codelists.values():
        codes = cl.values()
        assert codes, cl.name
        assert len(codes) == len(set(codes)), cl.name
        assert cl.title.strip() and cl.description.strip(), cl.name
        for code in cl.codes:
            assert code.label.strip(), (cl.name, code.code)
            if cl.name != "sex":
                assert CODE_NAME.match(code.code), (cl.name, code.code)


def test_no_codelist_is_unused(std: Standard) -> None:
    referenced = {f.codelist for e in std.entities.values() for f in e.fields if f.codelist}
    # `region` is reached through the county code list and the county hierarchy.
    assert set(std.codelists) - referenced == {"region"}


@pytest.mark.parametrize("name", sorted(SPEC_CODES))
def test_codelist_holds_the_spec_codes(std: Standard, name: str) -> None:
    assert SPEC_CODES[name] <= set(std.codelist(name).values())


def test_crime_offense_categories_are_crime_categories(std: Standard) -> None:
    categories = set(std.codelist("crime_category").values())
    for code in std.codelist("crime_offense").codes:
        assert code.attributes["category"] in categories, code.code


def test_58_counties_each_with_fips_and_a_known_region(std: Standard) -> None:
    counties = std.codelist("county").codes
    regions = set(std.codelist("region").values())
    assert len(counties) == 58
    fips = [c.attributes["fips"] for c in counties]
    assert len(set(fips)) == 58
    for c in counties:
        assert re.fullmatch(r"06\d{3}", c.attributes["fips"]), c.code
        assert c.attributes["region"] in regions, c.code
        assert c.label.endswith(" County"), c.code
        assert c.code == c.label.removesuffix(" County").lower().replace(" ", "_")
    # every region has at least one county
    assert {c.attributes["region"] for c in counties} == regions


def test_county_codes_and_fips_of_well_known_counties(std: Standard) -> None:
    by_code = {c.code: c for c in std.codelist("county").codes}
    assert by_code["los_angeles"].label == "Los Angeles County"
    assert by_code["los_angeles"].attributes["fips"] == "06037"
    assert by_code["san_luis_obispo"].attributes["fips"] == "06079"
    assert by_code["alameda"].attributes["fips"] == "06001"
    assert by_code["yuba"].attributes["fips"] == "06115"
    assert by_code["san_francisco"].attributes["region"] == by_code["alameda"].attributes["region"]


def test_county_hierarchy_goes_county_region_state(std: Standard) -> None:
    h = std.hierarchies["county"]
    assert h.kind == "lookup"
    assert [lv.name for lv in h.levels] == ["county", "region", "state"]
    assert h.levels[1].lookup == "county.region"


def test_counties_match_the_real_crimes_and_clearances_file(std: Standard, openjustice_dir: Path) -> None:
    path = _real_file(openjustice_dir, "Crimes_and_Clearances_with_Arson-1985-2022.csv")
    con = duckdb.connect()
    names = {
        r[0] for r in con.sql(f"select distinct County from read_csv('{path}', all_varchar=true)").fetchall()
    }
    assert names == {c.label for c in std.codelist("county").codes}


def _doj_codes(std: Standard, codelist: str, attribute: str = "doj_code") -> dict[str, str]:
    return {
        c.attributes[attribute].lower(): c.code
        for c in std.codelist(codelist).codes
        if attribute in c.attributes
    }


@pytest.mark.parametrize(
    ("file", "column", "codelist", "attribute"),
    [
        ("DIC_2005-2018_20190612_data.csv", "custody_status", "custody_stage", "doj_code"),
        (
            "DIC_2005-2018_20190612_data.csv",
            "custodial_responsibilty_at_time_of_death",
            "custody_facility_type",
            "doj_code",
        ),
        ("DIC_2005-2018_20190612_data.csv", "manner_of_death", "manner_of_death", "doj_code"),
        ("DIC_2005-2018_20190612_data.csv", "facility_of_death", "custody_facility_type", "facility"),
        (
            "ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv",
            "custody_status",
            "custody_stage",
            "doj_code",
        ),
        (
            "ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv",
            "custodial_responsibility_at_time_of_death",
            "custody_facility_type",
            "doj_code",
        ),
        (
            "ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv",
            "manner_of_death",
            "manner_of_death",
            "doj_code",
        ),
        (
            "ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv",
            "facility_death_occured",
            "custody_facility_type",
            "facility",
        ),
    ],
)
def test_every_doj_death_in_custody_value_has_a_code(
    std: Standard, openjustice_dir: Path, file: str, column: str, codelist: str, attribute: str
) -> None:
    path = _real_file(openjustice_dir, file)
    with path.open(encoding="utf-8-sig", newline="") as fh:  # small files with a BOM and CRLF
        values = {row[column].strip() for row in csv.DictReader(fh)} - {""}
    known = _doj_codes(std, codelist)
    if attribute == "facility":  # the facility-of-death column: its own word where it differs
        known |= _doj_codes(std, codelist, "doj_facility_code")
    unmapped = sorted(v for v in values if v.lower() not in known)
    assert not unmapped, f"{file} {column}: no {codelist} code for {unmapped}"


_DIC_NEW = "DIC_2005-2018_20190612_data.csv"
_DIC_OLD = "ca_doj_deaths_in_custody_raw_1980-2015_05-14-2016.csv"


@pytest.mark.parametrize(
    ("file", "column", "codelist", "attribute"),
    [
        (file, column, codelist, attribute)
        for file in (_DIC_NEW, _DIC_OLD)
        for column, codelist, attribute in (
            ("reporting_agency", "custody_reporting_agency", "doj_code"),
            ("location_where_cause_of_death_occurred", "custody_death_location", "doj_code"),
            ("means_of_death", "means_of_death", "doj_code"),
            ("race", "race_ethnicity", "doj_codes"),
        )
    ],
)
def test_every_other_doj_death_in_custody_value_has_a_code(
    std: Standard, openjustice_dir: Path, file: str, column: str, codelist: str, attribute: str
) -> None:
    """The categories added for the dashboards: every DOJ value has a code (the older release writes
    the comma inside a means-of-death label as "--"; race codes list several DOJ values each)."""
    path = _real_file(openjustice_dir, file)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        values = {row[column].strip().replace("--", ",") for row in csv.DictReader(fh)} - {""}
    known = {
        v.lower(): c.code
        for c in std.codelist(codelist).codes
        for v in c.attributes.get(attribute, "").split("|")
        if v
    }
    unmapped = sorted(v for v in values if v.lower() not in known)
    assert not unmapped, f"{file} {column}: no {codelist} code for {unmapped}"


def test_doj_race_groups_cover_every_race_code_once(std: Standard) -> None:
    gathered = [
        code for c in std.codelist("doj_race_group").codes for code in c.attributes["race_ethnicity"].split("|")
    ]
    assert sorted(gathered) == sorted(std.codelist("race_ethnicity").values())


def test_crime_clearance_offense_covers_every_count_column(std: Standard, openjustice_dir: Path) -> None:
    path = _real_file(openjustice_dir, "Crimes_and_Clearances_with_Arson-1985-2022.csv")
    count_columns = _header(path)[3:]
    codes = std.codelist("crime_clearance_offense").codes
    offense_columns = [c.attributes["offense_column"] for c in codes]
    clearance_columns = [
        c.attributes["clearance_column"] for c in codes if "clearance_column" in c.attributes
    ]
    assert len(offense_columns) == len(set(offense_columns))
    assert sorted(offense_columns + clearance_columns) == sorted(count_columns)


def _rollup_groups(codes: list, column: str) -> dict[tuple[str, str], list[str]]:
    by_code = {c.code: c for c in codes}
    groups: dict[tuple[str, str], list[str]] = {}
    for c in codes:
        if "parent" in c.attributes:
            assert c.attributes["parent"] in by_code, c.code
            assert c.attributes.get("breakdown"), c.code
            groups.setdefault((c.attributes["parent"], c.attributes["breakdown"]), []).append(
                c.attributes[column]
            )
    return {(by_code[p].attributes[column], b): cols for (p, b), cols in groups.items()}


def test_crime_clearance_breakdowns_add_up_to_their_parent_in_the_real_file(
    std: Standard, openjustice_dir: Path
) -> None:
    path = _real_file(openjustice_dir, "Crimes_and_Clearances_with_Arson-1985-2022.csv")
    groups = _rollup_groups(std.codelist("crime_clearance_offense").codes, "offense_column")
    con = duckdb.connect()
    con.sql(f"create table cc as select * from read_csv('{path}', sample_size=-1)")
    for (parent, breakdown), children in groups.items():
        total = " + ".join(f'coalesce("{c}", 0)' for c in children)
        bad = con.sql(
            f'select count(*) from cc where "{parent}" is not null and "{parent}" <> {total}'
        ).fetchall()
        assert bad[0][0] == 0, f"{parent} by {breakdown}: {children}"


def test_personnel_category_covers_every_count_column_and_adds_up(
    std: Standard, openjustice_dir: Path
) -> None:
    path = _real_file(openjustice_dir, "LE_and_CJ_Personnel_2003-2017.csv")
    codes = std.codelist("personnel_category").codes
    by_code = {c.code: c for c in codes}
    columns = [c.attributes["doj_column"] for c in codes]
    assert sorted(columns) == sorted(_header(path)[2:])
    sums = {
        (c.attributes["doj_column"], "sum_of"): [
            by_code[p].attributes["doj_column"] for p in c.attributes["sum_of"].split(",")
        ]
        for c in codes
        if "sum_of" in c.attributes
    }
    groups = _rollup_groups(codes, "doj_column") | sums
    con = duckdb.connect()
    con.sql(f"create table p as select * from read_csv('{path}', all_varchar=true)")

    def num(col: str) -> str:
        return f"coalesce(try_cast(nullif(trim(\"{col}\"), '') as integer), 0)"

    for (parent, breakdown), children in groups.items():
        total = " + ".join(num(c) for c in children)
        bad = con.sql(f"select count(*) from p where {num(parent)} <> {total}").fetchall()
        assert bad[0][0] == 0, f"{parent} by {breakdown}: {children}"


# --- the loader rejects a bad standard ------------------------------------------------------


def _write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _field(name: str, **extra: object) -> dict:
    return {
        "name": name,
        "type": "string",
        "description": f"The {name}.",
        "privacy_role": "none",
        "legal_class": "public",
        **extra,
    }


def _small_standard(root: Path, fields: list[dict], rules: list[dict] | None = None) -> Path:
    _write(root / "hierarchies.yaml", [])
    _write(
        root / "codelists" / "colour.yaml",
        {
            "name": "colour",
            "title": "Colour",
            "description": "Colours.",
            "codes": [{"code": "red", "label": "Red"}],
        },
    )
    (root / "groups").mkdir(parents=True, exist_ok=True)
    _write(
        root / "entities" / "widget.yaml",
        {
            "name": "widget",
            "title": "Widget",
            "kind": "reference",
            "description": "A test entity.",
            "fields": fields,
            "rules": rules or [],
        },
    )
    return root


def test_a_small_good_standard_loads(tmp_path: Path) -> None:
    root = _small_standard(tmp_path, [_field("widget_id"), _field("colour", codelist="colour")])
    std = Standard.from_directory(root)
    assert std.entity("widget").field_names() == ["widget_id", "colour"]


def test_loader_rejects_an_unknown_codelist(tmp_path: Path) -> None:
    root = _small_standard(tmp_path, [_field("widget_id"), _field("shade", codelist="no_such_list")])
    with pytest.raises(StandardError, match=r"entity widget, field shade: unknown codelist 'no_such_list'"):
        Standard.from_directory(root)


def test_loader_rejects_a_field_defined_twice(tmp_path: Path) -> None:
    root = _small_standard(tmp_path, [_field("widget_id"), _field("colour"), _field("colour")])
    with pytest.raises(StandardError, match=r"entity widget: fields defined twice: colour"):
        Standard.from_directory(root)


def test_loader_rejects_a_rule_on_an_unknown_field(tmp_path: Path) -> None:
    rule = {"name": "made_before_sold", "left": "made_on", "op": "<=", "right": "sold_on", "message": "x"}
    root = _small_standard(tmp_path, [_field("widget_id"), _field("made_on", type="date")], [rule])
    with pytest.raises(StandardError, match=r"entity widget, rule made_before_sold: unknown field 'sold_on'"):
        Standard.from_directory(root)


def test_loader_rejects_a_field_clashing_with_its_group(tmp_path: Path) -> None:
    """A person_event entity must not redefine a field the person group already gives it."""
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    citation = yaml.safe_load((tmp_path / "entities" / "citation.yaml").read_text(encoding="utf-8"))
    citation["fields"].append(_field("zip"))
    _write(tmp_path / "entities" / "citation.yaml", citation)
    with pytest.raises(StandardError, match=r"entity citation: fields defined twice: zip"):
        Standard.from_directory(tmp_path)


def test_loader_rejects_a_codelist_field_that_is_not_a_string(tmp_path: Path) -> None:
    root = _small_standard(
        tmp_path, [_field("widget_id"), _field("colour", type="integer", codelist="colour")]
    )
    with pytest.raises(StandardError, match=r"widget\.yaml.*codelist needs type string"):
        Standard.from_directory(root)


def test_shipped_data_copied_elsewhere_loads_the_same(tmp_path: Path, std: Standard) -> None:
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    copy = Standard.from_directory(tmp_path)
    assert sorted(copy.entities) == sorted(std.entities)
    assert sorted(copy.codelists) == sorted(std.codelists)
