"""The linkage attack on hand-built tables: exact counts, level detection, metadata, and clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from justicelab.privacy.attack import AttackError, attack

RELEASE_HEAD = ("record_id", "age", "sex", "race_ethnicity", "county", "date_of_death")
# Released at 5-year age bands, months and regions; R6's age is suppressed (empty).
RELEASE = [
    ("R1", "30-34", "M", "black", "bay_area", "2021-03"),
    ("R2", "30-34", "M", "black", "bay_area", "2021-04"),
    ("R3", "35-39", "F", "white", "bay_area", "2021-03"),
    ("R4", "35-39", "F", "white", "bay_area", "2021-03"),
    ("R5", "20-24", "M", "hispanic", "los_angeles", "2021-05"),
    ("R6", "", "M", "hispanic", "los_angeles", "2021-05"),
    ("R7", "60-64", "F", "asian", "central_coast", "2021-07"),
]
EXTERNAL_HEAD = ("external_id", "name", "age", "sex", "race", "county", "date", "record_id")
# Exact values, as a press release gives them.
EXTERNAL = [
    ("X1", "ANN ONE", "33", "M", "black", "alameda", "2021-03-14", "R1"),  # only R1: correct
    ("X2", "BOB TWO", "31", "M", "black", "contra_costa", "2021-04-02", "R2"),  # only R2: correct
    ("X3", "CAT THREE", "36", "F", "white", "marin", "2021-03-20", "R3"),  # R3 and R4
    ("X4", "DAN FOUR", "22", "M", "hispanic", "los_angeles", "2021-05-01", "R5"),  # R5 and R6 (age suppressed)
    ("X5", "EVE FIVE", "34", "M", "", "alameda", "2021-03-01", "R9"),  # race left out: only R1, wrongly
    ("X6", "FAY SIX", "50", "F", "asian", "fresno", "2021-06-01", "R7"),  # age and place wrong: nothing
    ("X7", "GUS SEVEN", "62", "F", "asian", "monterey", "2021-07-09", "R7"),  # only R7: correct
]


def write(path: Path, head: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        w.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return (write(tmp_path / "release.csv", RELEASE_HEAD, RELEASE),
            write(tmp_path / "press.csv", EXTERNAL_HEAD, EXTERNAL))


def test_exact_counts_on_a_hand_built_release(files):
    release, press = files
    r = attack(release, press, qi="age,sex,race,county,date", truth_column="record_id", show=True)
    levels = {q.release_column: (q.hierarchy, q.level, q.found_by) for q in r.quasi_identifiers}
    assert levels == {"age": ("age", "band_5", "labels"), "sex": (None, None, "as recorded"),
                      "race_ethnicity": (None, None, "as recorded"), "county": ("county", "region", "labels"),
                      "date_of_death": ("date", "month", "labels")}
    assert (r.release_records, r.external_records) == (7, 7)
    assert r.matched == 6
    assert r.unique == 4
    assert (r.correct, r.incorrect, r.unverified) == (3, 1, 0)
    assert r.reidentified_records == 3
    assert r.reidentified_share == pytest.approx(3 / 7)
    assert r.precision == pytest.approx(3 / 4)
    assert r.external_in_release == 6  # X5's R9 is not released
    assert r.true_match_compatible == 5  # X6's age and county exclude its true record
    assert dict(r.sizes) == {"0": 1, "1": 4, "2": 2, "3": 0, "4": 0, "5": 0, "6-10": 0, "11-20": 0,
                             "21-50": 0, "51-100": 0, "101+": 0}
    claims = [(c.name, c.release_row, c.release_truth, c.correct) for c in r.claims]
    assert claims == [("ANN ONE", 1, "R1", True), ("EVE FIVE", 1, "R1", False), ("BOB TWO", 2, "R2", True),
                      ("GUS SEVEN", 7, "R7", True)]
    assert r.claims[0].values == {"age": "30-34", "sex": "M", "race_ethnicity": "black", "county": "bay_area",
                                  "date_of_death": "2021-03"}


def test_default_quasi_identifiers_leave_out_truth_names_and_ids(files):
    release, press = files
    r = attack(release, press, truth_column="record_id")
    assert [(q.release_column, q.external_column) for q in r.quasi_identifiers] == [
        ("age", "age"), ("sex", "sex"), ("race_ethnicity", "race"), ("county", "county"), ("date_of_death", "date")]
    assert (r.unique, r.correct) == (4, 3)


def test_without_truth_claims_are_counted_but_not_scored(files):
    release, press = files
    r = attack(release, press)
    assert (r.unique, r.correct, r.reidentified_share) == (4, None, None)
    assert [m["measure"] for m in r.measures()][-1] == "unique share of external"


def test_the_same_records_at_full_detail_are_all_unique(tmp_path):
    release = write(tmp_path / "full.csv", ("record_id", "age", "sex", "county", "date"), [
        ("R1", "33", "M", "alameda", "2021-03-14"), ("R2", "31", "M", "contra_costa", "2021-04-02"),
        ("R3", "36", "F", "marin", "2021-03-20"), ("R4", "37", "F", "marin", "2021-03-21")])
    press = write(tmp_path / "press.csv", ("age", "sex", "county", "date", "record_id"), [
        ("33", "M", "alameda", "2021-03-14", "R1"), ("36", "F", "marin", "2021-03-20", "R3"),
        ("37", "F", "marin", "2021-03-21", "R4")])
    full = attack(release, press, truth_column="record_id")
    assert [q.level for q in full.quasi_identifiers] == ["years", None, "county", "day"]
    assert (full.unique, full.correct, full.reidentified_records) == (3, 3, 3)
    coarse_file = write(tmp_path / "coarse.csv", ("record_id", "age", "sex", "county", "date"), [
        ("R1", "30-39", "M", "bay_area", "2021"), ("R2", "30-39", "M", "bay_area", "2021"),
        ("R3", "30-39", "F", "bay_area", "2021"), ("R4", "30-39", "F", "bay_area", "2021")])
    coarse = attack(coarse_file, press, truth_column="record_id")
    assert [q.level for q in coarse.quasi_identifiers] == ["band_10", None, "region", "year"]
    assert (coarse.unique, coarse.correct) == (0, 0)
    assert dict(coarse.sizes)["2"] == 3


def test_parquet_and_arrow_inputs_give_the_same_result(files, tmp_path):
    release, press = files
    table = pa.table({h: [row[i] or None for row in RELEASE] for i, h in enumerate(RELEASE_HEAD)})
    pq.write_table(table, tmp_path / "release.parquet")
    from_parquet = attack(tmp_path / "release.parquet", press, truth_column="record_id")
    ext = pa.table({h: [row[i] or None for row in EXTERNAL] for i, h in enumerate(EXTERNAL_HEAD)})
    from_arrow = attack(table, ext, truth_column="record_id", release_name="release", external_name="press")
    assert (from_parquet.unique, from_parquet.correct) == (from_arrow.unique, from_arrow.correct) == (4, 3)
    assert from_arrow.release.name == "release" and from_arrow.release.sha256 is None
    assert len(attack(release, press).release.sha256 or "") == 64


def test_typed_parquet_ages_and_dates_match_exact_values(tmp_path):
    import datetime as dt

    pq.write_table(pa.table({"id": ["a", "b"], "age": [34.0, 35.0],
                             "when": [dt.date(2021, 3, 14), dt.date(2021, 3, 14)]}), tmp_path / "r.parquet")
    press = write(tmp_path / "p.csv", ("age", "date", "id"), [("34", "2021-03-14", "a")])
    r = attack(tmp_path / "r.parquet", press, qi="age,when=date", truth_column="id")
    assert [q.level for q in r.quasi_identifiers] == ["years", "day"]
    assert (r.unique, r.correct) == (1, 1)


def test_ambiguous_labels_take_the_finer_level_and_metadata_settles_it(tmp_path):
    # los_angeles and orange are both county codes and region codes.
    release = write(tmp_path / "r.csv", ("id", "county", "sex"), [("1", "los_angeles", "M"), ("2", "orange", "M")])
    press = write(tmp_path / "p.csv", ("county", "sex", "id"), [("los_angeles", "M", "1")])
    r = attack(release, press, truth_column="id")
    county = r.quasi_identifiers[0]
    assert (county.level, county.found_by, county.also_fits) == ("county", "labels", ("region",))
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"quasi_identifiers": [{"column": "county", "hierarchy": "county",
                                                       "level": "region"}]}))
    m = attack(release, press, truth_column="id", metadata=meta)
    assert (m.quasi_identifiers[0].level, m.quasi_identifiers[0].found_by) == ("region", "metadata")
    meta.write_text(json.dumps({"quasi_identifiers": {"county": "county.state"}}))
    with pytest.raises(AttackError, match=r"r\.csv, row 1, column county: 'los_angeles' is not a label of "
                                          r"hierarchy county at level state \(expected e\.g\. state\)"):
        attack(release, press, metadata=meta)


def test_a_level_given_with_qi_overrides_detection_and_is_checked(files):
    release, press = files
    with pytest.raises(AttackError) as exc:
        attack(release, press, qi="age:band_10,sex")
    assert str(exc.value).startswith(f"{release}, row 1, column age: '30-34' is not a label of hierarchy age at "
                                     "level band_10 (expected e.g. 30-39)")


# -- bad input: every message names the file, the row and the column, and what was expected ----------


def test_missing_quasi_identifier_column(files):
    release, press = files
    with pytest.raises(AttackError, match=rf"{release} has no column 'zip' \(--qi\); it has: record_id, age, sex, "
                                          r"race_ethnicity, county, date_of_death"):
        attack(release, press, qi="age,zip")


def test_labels_of_no_known_level(tmp_path, files):
    _, press = files
    rows = [list(r) for r in RELEASE]
    rows[2][1] = "31-37"
    release = write(tmp_path / "bad.csv", RELEASE_HEAD, [tuple(r) for r in rows])
    with pytest.raises(AttackError) as exc:
        attack(release, press, qi="age,sex")
    assert str(exc.value) == (f"{release}, row 3, column age: '31-37' is not a label of hierarchy age at any level "
                              "(expected one of: years e.g. 34; band_5 e.g. 30-34; band_10 e.g. 30-39; or empty "
                              "where suppressed)")


def test_month_of_year_is_not_a_month_label(tmp_path, files):
    _, press = files
    release = write(tmp_path / "r.csv", ("id", "year", "month"), [("1", "2021", "3"), ("2", "2021", "4")])
    with pytest.raises(AttackError, match=r"r\.csv, row 1, column month: '3' is not a label of hierarchy date at "
                                          r"any level \(expected one of: day e\.g\. 2021-03-14; month e\.g\. 2021-03"):
        attack(release, press, qi="year=date,month=date")
    ok = attack(release, press, qi="year=date")
    assert ok.quasi_identifiers[0].level == "year"


def test_external_values_that_cannot_be_generalised(tmp_path, files):
    release, _ = files
    press = write(tmp_path / "p.csv", ("age", "county", "date"), [("33", "alameda", "2021-03-14"),
                                                                   ("34", "Alameda County", "03/14/2021")])
    with pytest.raises(AttackError, match=r"p\.csv, row 2, column county: 'Alameda County' is not a code of the "
                                          r"county hierarchy's finest level \(e\.g\. alameda, alpine, amador\)"):
        attack(release, press, qi="age,county")
    with pytest.raises(AttackError, match=r"p\.csv, row 2, column date: '03/14/2021' is not a date \(YYYY-MM-DD\)"):
        attack(release, press, qi="date_of_death=date")
    bad_age = write(tmp_path / "a.csv", ("age",), [("33",), ("thirty",)])
    with pytest.raises(AttackError, match=r"a\.csv, row 2, column age: 'thirty' is not a number"):
        attack(release, bad_age, qi="age")


def test_truth_column_is_never_linked_on_and_must_exist(files):
    release, press = files
    with pytest.raises(AttackError, match="record_id is the truth column"):
        attack(release, press, qi="age,record_id", truth_column="record_id")
    with pytest.raises(AttackError, match=rf"{press} has no column 'person_id' \(--truth-column\)"):
        attack(release, press, truth_column="record_id=person_id")


def test_unreadable_inputs(tmp_path, files):
    release, press = files
    with pytest.raises(AttackError, match=r"cannot read a \.xlsx file"):
        attack(tmp_path / "release.xlsx", press)
    with pytest.raises(AttackError, match="no such file"):
        attack(tmp_path / "missing.csv", press)
    with pytest.raises(AttackError, match="no records"):
        attack(write(tmp_path / "empty.csv", RELEASE_HEAD, []), press)
    with pytest.raises(AttackError, match=r"--qi item 'age:band:5'"):
        attack(release, press, qi="age:band:5")
    with pytest.raises(AttackError, match="unknown hierarchy 'agee'"):
        attack(release, press, qi="age:agee.band_5")
    bad_meta = tmp_path / "meta.json"
    bad_meta.write_text("[1, 2]")
    with pytest.raises(AttackError, match="expected an object with quasi_identifiers"):
        attack(release, press, metadata=bad_meta)


def test_a_date_or_county_column_the_standard_does_not_name_is_recognised_by_its_values(tmp_path):
    release = write(tmp_path / "r.csv", ("id", "when", "area"), [("1", "2021-03", "bay_area"),
                                                                  ("2", "2021-04", "bay_area")])
    press = write(tmp_path / "p.csv", ("d", "where", "id"), [("2021-03-14", "marin", "1")])
    r = attack(release, press, qi="when=d,area=where", truth_column="id")
    assert [(q.hierarchy, q.level) for q in r.quasi_identifiers] == [("date", "month"), ("county", "region")]
    assert (r.unique, r.correct, r.warnings) == (1, 1, ())


def test_columns_coded_differently_are_flagged(tmp_path):
    release = write(tmp_path / "r.csv", ("id", "sex", "age"), [("1", "Male", "34"), ("2", "Female", "35")])
    press = write(tmp_path / "p.csv", ("sex", "age", "id"), [("M", "34", "1")])
    r = attack(release, press, truth_column="id")
    assert r.unique == 0
    assert r.warnings == ("no value of sex in the external file equals a released label of sex as recorded: are "
                          "the two coded alike? (name the level with --qi, e.g. sex:HIERARCHY.LEVEL)",)
