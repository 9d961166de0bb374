"""The model's data-sized choices: which broad blocking rules a dataset can afford, and EM sampling."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from justicelab.linkage import model


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    # 40 records: 20 share one date of birth (190 pairs), the rest are all different
    c.execute("""CREATE TABLE t AS SELECT 'r' || i AS unique_id,
                 CASE WHEN i < 20 THEN DATE '1980-01-01' ELSE DATE '1950-01-01' + CAST(i AS INTEGER) END AS dob,
                 'SMITH' || (i % 10) AS last_squashed, 'JOHN' AS first_key, 'JOHN' AS first_token,
                 CASE WHEN i % 2 = 0 THEN '94110' END AS zip, 'A' || (i % 20) AS address
                 FROM range(40) r(i)""")
    return c


def _broad_in(rules: list[object]) -> list[tuple[str, ...]]:
    sqls = [r if isinstance(r, str) else r.get_blocking_rule("duckdb").blocking_rule_sql for r in rules]
    return [cols for cols in model.BROAD_BLOCKING
            if any(all(f'l."{c}" = r."{c}"' in s for c in cols) and s.count(" = ") == len(cols) for s in sqls)]


def test_broad_rules_are_used_only_where_they_cost_few_pairs(con, monkeypatch):
    # dob: 190 pairs; surname + given name: 10 groups of 4 -> 60; given name + ZIP: 20 records -> 190;
    # surname + ZIP: 5 groups of 4 -> 30; address: 20 groups of 2 -> 20
    assert model._pairs(con, "t", ("dob",)) == 190
    assert model._pairs(con, "t", ("last_squashed", "first_key")) == 10 * 6
    assert model._pairs(con, "t", ("first_token", "zip")) == 190  # records without a ZIP code never pair
    assert model._pairs(con, "t", ("last_squashed", "zip")) == 5 * 6
    assert model._pairs(con, "t", ("address",)) == 20
    monkeypatch.setattr(model, "BROAD_PAIRS_PER_RECORD", 5)  # budget 200 pairs: all fit
    assert _broad_in(model.prediction_rules(con, "t")) == model.BROAD_BLOCKING
    monkeypatch.setattr(model, "BROAD_PAIRS_PER_RECORD", 2)  # budget 80: the wide date and name + ZIP rules do not
    assert _broad_in(model.prediction_rules(con, "t")) == [("last_squashed", "first_key"), ("last_squashed", "zip"),
                                                           ("address",)]
    rules = model.prediction_rules(con, "t")
    assert rules[:len(model.PREDICT_BLOCKING)] == model.PREDICT_BLOCKING


def test_the_rules_a_model_used_are_saved_with_it(con, monkeypatch):
    monkeypatch.setattr(model, "BROAD_PAIRS_PER_RECORD", 2)
    saved = model.settings(model.prediction_rules(con, "t")).get_settings("duckdb").as_dict()
    sqls = model.blocking_sql(saved)
    assert len(sqls) == len(model.PREDICT_BLOCKING) + 3
    assert any('l."last_squashed" = r."last_squashed"' in s and 'l."first_key" = r."first_key"' in s
               and "dob" not in s for s in sqls)
    assert model.blocking_sql()[: len(model.PREDICT_BLOCKING)] == sqls[: len(model.PREDICT_BLOCKING)]


def test_em_samples_a_stable_share_of_left_records_when_pairs_are_many(con, monkeypatch):
    assert model._sampled(con, "t", ("dob",)) == "l.dob = r.dob"
    monkeypatch.setattr(model, "EM_PAIRS", 50)
    rule = model._sampled(con, "t", ("dob",))
    assert rule == "l.dob = r.dob AND hash(l.unique_id) % 3 = 0"
    sampled = con.execute(f"SELECT count(*) FROM t l JOIN t r ON {rule} AND l.unique_id <> r.unique_id").fetchone()[0]
    everything = con.execute("SELECT count(*) FROM t l JOIN t r ON l.dob = r.dob AND l.unique_id <> r.unique_id"
                             ).fetchone()[0]
    assert 0 < sampled < everything
    assert rule == model._sampled(con, "t", ("dob",))  # the same sample on every run


def test_every_held_back_pattern_names_levels_the_model_has():
    from justicelab.linkage import scoring

    settings = model.settings().get_settings("duckdb").as_dict()
    sql = scoring.held_back_sql(settings)
    assert sql.count("WHEN ") == len(model.HOLD_BACK)
    assert "gamma_date_of_birth IN (-1)" in sql  # a null level ("missing") is gamma -1
    broken = [("x", {"name": ("no such level",)})]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model, "HOLD_BACK", broken)
        with pytest.raises(scoring.LinkageError, match="no such level"):
            scoring.held_back_sql(settings)


def test_stored_levels_decode_with_the_model_that_wrote_them():
    from justicelab.linkage import scoring

    settings = model.settings().get_settings("duckdb").as_dict()
    names = [c["output_column_name"] for c in settings["comparisons"]]
    text = "|".join(["-1:0.0"] * len(names))
    decoded = scoring.decode_levels(settings, text.replace("-1:0.0", "0:-2.5", 1))
    assert list(decoded) == names
    assert decoded["name"] == {"level": "all other", "weight": -2.5}
    assert decoded["sex"] == {"level": "missing or not comparable", "weight": 0.0}
    legacy = '{"name": {"level": "exact", "weight": 9.1}}'
    assert scoring.decode_levels(settings, legacy) == {"name": {"level": "exact", "weight": 9.1}}


def _edit(text: str, data) -> str:
    """``text`` with one random edit: a substitution, an adjacent transposition, a deletion or an insertion."""
    kind = data.draw(st.sampled_from(["sub", "swap", "del", "ins"]))
    i = data.draw(st.integers(0, len(text) - 1))
    digit = data.draw(st.sampled_from("0123456789-"))
    if kind == "sub":
        return text[:i] + digit + text[i + 1:]
    if kind == "swap" and i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == "del":
        return text[:i] + text[i + 1:]
    return text[:i] + digit + text[i:]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_blocking_dob_prefilter_keeps_every_pair_within_two_edits(data):
    """The cheap year/month/day test in front of the edit distance (model.DOB_WITHIN_TWO_EDITS) never drops a
    pair of dates of birth that are at most two edits apart: the rule finds exactly the pairs it did without it."""
    first = data.draw(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
    second = first
    text = first.strftime("%Y-%m-%d") if first.year >= 1000 else None
    if data.draw(st.booleans()) or text is None:
        second = data.draw(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
    else:  # one or two edits that still give a valid date
        edited = text
        for _ in range(data.draw(st.integers(1, 2))):
            edited = _edit(edited, data)
        try:
            second = dt.date.fromisoformat(edited)
        except ValueError:
            assume(False)
    con = duckdb.connect()
    for name, day in (("l", first), ("r", second)):
        con.execute(f"CREATE TABLE {name} AS SELECT DATE '{day.isoformat()}' AS dob")
        con.execute(f"ALTER TABLE {name} ADD COLUMN dob_text VARCHAR")
        con.execute(f"ALTER TABLE {name} ADD COLUMN birth_year INTEGER")
        con.execute(f"UPDATE {name} SET dob_text = strftime(dob, '%Y-%m-%d'), birth_year = year(dob)")
    plain, rule = con.execute(f"""SELECT damerau_levenshtein(l.dob_text, r.dob_text) <= 2,
                                         {model.DOB_WITHIN_TWO_EDITS} FROM l, r""").fetchone()
    assert rule == plain, (first, second)
