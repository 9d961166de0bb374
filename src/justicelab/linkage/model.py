"""The Splink model for justice records: comparisons, blocking and unsupervised training.

Every comparison is written for how agencies actually record people (see ``synth.recording`` for the
same habits, simulated): nicknames and initials, typos, two-part surnames kept in part or with another
separator, first and last names entered the wrong way round, dates of birth with day and month swapped,
digits transposed or a year off, stale addresses, and each source's own person number.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from justicelab.linkage.bloom import dice_sql

#: Version of the comparisons and blocking below, recorded with every run.
MODEL_VERSION = "justice-person-v4"

#: No level's m probability is trained below this: one disagreement (a mistyped sex, a wrong birth year)
#: weighs against a link, but cannot veto what every other identifier says (at most about -9).
MIN_M = 0.002

_JW = "jaro_winkler_similarity"


def _level(sql: str, label: str, *, null: bool = False, tf: str | None = None) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    if tf:
        level.update(tf_adjustment_column=tf, tf_adjustment_weight=1.0, tf_minimum_u_value=0.0001)
    return level


_ELSE = _level("ELSE", "all other")
_FORMS = "len(list_intersect(first_forms_l, first_forms_r)) > 0"
_SAME_LAST = "last_squashed_l = last_squashed_r"


def name_comparison() -> cl.CustomComparison:
    """Given name and surname together, so that swapped names and surname changes have levels of their own."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="given name and surname",
        comparison_levels=[
            _level("last_squashed_l IS NULL OR last_squashed_r IS NULL", "surname missing", null=True),
            _level(f"first_name_l = first_name_r AND {_SAME_LAST}", "exact", tf="last_squashed"),
            _level("list_contains(last_parts_r, first_token_l) AND list_contains(last_parts_l, first_token_r) "
                   "AND first_token_l <> first_token_r", "given name and surname swapped"),
            _level(f"{_JW}(first_token_l, last_squashed_r) >= 0.9 AND {_JW}(last_squashed_l, first_token_r) >= 0.9 "
                   "AND first_token_l <> first_token_r", "given name and surname swapped, with a typo"),
            _level(f"{_SAME_LAST} AND {_FORMS}", "same surname, given name a variant (nickname)",
                   tf="last_squashed"),
            _level(f"{_SAME_LAST} AND {_JW}(first_token_l, first_token_r) >= 0.88",
                   "same surname, given name close (typo)"),
            _level(f"({_JW}(last_squashed_l, last_squashed_r) >= 0.9 "
                   f"OR len(list_intersect(last_parts_l, last_parts_r)) > 0) "
                   f"AND ({_FORMS} OR {_JW}(first_token_l, first_token_r) >= 0.88)",
                   "surname close or sharing a part, given name same or close"),
            _level(f"{_SAME_LAST} AND left(first_token_l, 1) = left(first_token_r, 1)",
                   "same surname, same initial"),
            _level(_FORMS, "same given name, different surname"),
            _level(_SAME_LAST, "same surname only"),
            _ELSE,
        ],
    )


def dob_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_description="date of birth",
        comparison_levels=[
            _level("dob_l IS NULL OR dob_r IS NULL", "missing", null=True),
            _level("dob_l = dob_r", "exact"),
            _level("year(dob_l) = year(dob_r) AND month(dob_l) = day(dob_r) AND day(dob_l) = month(dob_r)",
                   "day and month swapped"),
            _level("damerau_levenshtein(dob_text_l, dob_text_r) <= 1", "one digit wrong or two transposed"),
            _level("abs(year(dob_l) - year(dob_r)) = 1 AND month(dob_l) = month(dob_r) "
                   "AND day(dob_l) = day(dob_r)", "year one off"),
            _level("year(dob_l) = year(dob_r)", "same year"),
            # a parent and a child who share a name and an address (juniors) differ here, and only here
            _level("abs(year(dob_l) - year(dob_r)) >= 12", "born 12 or more years apart"),
            _ELSE,
        ],
    )


def age_comparison() -> cl.CustomComparison:
    """Where a date of birth is missing, the age recorded at the event still places the birth year
    (within one year). Not used when both dates of birth are there: they say it already."""
    return cl.CustomComparison(
        output_column_name="age",
        comparison_description="birth year implied by the age at the event (where a date of birth is missing)",
        comparison_levels=[
            _level("(dob_l IS NOT NULL AND dob_r IS NOT NULL) OR birth_year_low_l IS NULL "
                   "OR birth_year_low_r IS NULL", "not needed or missing", null=True),
            _level("birth_year_low_l <= birth_year_high_r AND birth_year_low_r <= birth_year_high_l",
                   "birth years consistent"),
            _level("birth_year_low_l <= birth_year_high_r + 2 AND birth_year_low_r <= birth_year_high_l + 2",
                   "within two years"),
            _ELSE,
        ],
    )


def encoded_comparison(name: str, cleartext_present: str, thresholds: tuple[tuple[float, str], ...],
                       description: str) -> cl.CustomComparison:
    """Dice similarity of two keyed Bloom-filter encodings, for pairs where one side has only encodings
    (a department that may not share cleartext). Where both sides have the cleartext, the cleartext
    comparison speaks and this one stays out (it would count the same evidence twice)."""
    bf = f"{name}_bf"
    return cl.CustomComparison(
        output_column_name=f"{name}_encoded",
        comparison_description=description,
        comparison_levels=[
            _level(f"({cleartext_present}) OR {bf}_l IS NULL OR {bf}_r IS NULL", "not needed or missing",
                   null=True),
            *(_level(f"{dice_sql(f'{bf}_l', f'{bf}_r')} >= {t}", label) for t, label in thresholds),
            _ELSE,
        ],
    )


def encoded_comparisons() -> list[cl.CustomComparison]:
    return [
        encoded_comparison("name", "last_squashed_l IS NOT NULL AND last_squashed_r IS NOT NULL",
                           ((0.999, "encodings identical"), (0.85, "Dice >= 0.85 (a typo or variant)"),
                            (0.6, "Dice >= 0.6 (one name agrees)")),
                           "encoded given name and surname (Dice similarity)"),
        encoded_comparison("dob", "dob_l IS NOT NULL AND dob_r IS NOT NULL",
                           ((0.999, "encodings identical"), (0.3, "Dice >= 0.3 (one part wrong or day/month swapped)")),
                           "encoded date of birth (Dice similarity)"),
        encoded_comparison("address", "address_l IS NOT NULL AND address_r IS NOT NULL",
                           ((0.999, "encodings identical"), (0.8, "Dice >= 0.8 (a typo)"),
                            (0.15, "Dice >= 0.15 (same ZIP code)")),
                           "encoded address and ZIP code (Dice similarity)"),
    ]


def _exact(column: str, label: str) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=column,
        comparison_description=label,
        comparison_levels=[
            _level(f"{column}_l IS NULL OR {column}_r IS NULL", "missing", null=True),
            _level(f"{column}_l = {column}_r", "same"),
            _ELSE,
        ],
    )


def middle_name_comparison() -> cl.CustomComparison:
    """Middle names are often left out or cut to an initial; when both are there they tell relatives apart."""
    return cl.CustomComparison(
        output_column_name="middle_name",
        comparison_description="middle name",
        comparison_levels=[
            _level("middle_name_l IS NULL OR middle_name_r IS NULL", "missing", null=True),
            _level("middle_name_l = middle_name_r AND length(middle_name_l) > 1", "same"),
            _level("left(middle_name_l, 1) = left(middle_name_r, 1)", "same initial"),
            _ELSE,
        ],
    )


def address_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="residential address (house number and street) and ZIP code",
        comparison_levels=[
            _level("(address_l IS NULL OR address_r IS NULL) AND (zip_l IS NULL OR zip_r IS NULL)", "missing",
                   null=True),
            _level("address_l = address_r", "same address", tf="address"),
            _level(f"{_JW}(address_l, address_r) >= 0.92", "address close (typo)"),
            _level("zip_l = zip_r", "same ZIP code"),
            _ELSE,
        ],
    )


def source_id_comparison() -> cl.CustomComparison:
    """The source's own person number: the same one is near-proof; two different ones in the same source
    are evidence against (a jail gives a person one number). Across sources the numbers say nothing."""
    return cl.CustomComparison(
        output_column_name="source_person_id",
        comparison_description="the source's own person id (within one source only)",
        comparison_levels=[
            _level("source_person_id_l IS NULL OR source_person_id_r IS NULL OR source_l <> source_r",
                   "not comparable", null=True),
            _level("source_person_id_l = source_person_id_r", "same id in the same source"),
            _ELSE,
        ],
    )


#: Two dates of birth that are missing, or a typo or two apart. Two dates written YYYY-MM-DD that are at most
#: two edits apart agree on the year, the month or the day: an edit that moved a hyphen would need the other
#: to move it back, so the edits stay inside at most two of the parts. That cheap test goes first: at a
#: million records, 66 million same-name pairs took 47 s for the edit distance alone, 15 s behind it
#: (test_blocking_dob_prefilter_keeps_every_pair_within_two_edits). Years of other than four digits skip it.
DOB_WITHIN_TWO_EDITS = (
    "(l.dob IS NULL OR r.dob IS NULL OR ((l.birth_year = r.birth_year OR month(l.dob) = month(r.dob) "
    "OR day(l.dob) = day(r.dob) OR l.birth_year NOT BETWEEN 1000 AND 9999 OR r.birth_year NOT BETWEEN 1000 AND 9999) "
    "AND damerau_levenshtein(l.dob_text, r.dob_text) <= 2))")

#: Pairs are only scored if they agree on one of these (together they find nearly every true pair).
#: Measured at 500,000 city records against the answer key: these give about half the candidate pairs of
#: the model-v2 rules (29.9 million) for the same pair completeness. The same name is only worth scoring
#: where the dates of birth could be one: one is missing, or they are a typo or two apart (two dates that
#: disagree more hold the pair back anyway, :data:`HOLD_BACK`). The date of birth with sex finds people
#: who gave another name (aliases); with an initial, records whose sex differs.
PREDICT_BLOCKING: list[Any] = [
    block_on("dob", "coalesce(sex, '-')"),
    block_on("dob", "substr(first_key, 1, 1)"),
    block_on("dob", "substr(last_squashed, 1, 1)"),
    f"l.last_squashed = r.last_squashed AND l.first_key = r.first_key AND {DOB_WITHIN_TWO_EDITS}",
    block_on("source_person_id"),
    block_on("first_key", "address"),
    block_on("last_squashed", "month(dob)", "day(dob)"),
    block_on("birth_year", "substr(last_squashed, 1, 2)", "substr(first_token, 1, 1)"),
    # encoded records: identical encodings of the date of birth, or of the name
    block_on("dob_bf"),
    block_on("name_bf"),
]

#: Broader rules, each used only where it costs fewer than :data:`BROAD_PAIRS_PER_RECORD` candidate pairs
#: per record: they find the last true pairs (a date of birth mistyped beyond the rules above, a name
#: written two ways), but their pairs grow with the square of the records (at a million city records the
#: given name with ZIP alone gave 235 million). Which were used is part of the saved model.
BROAD_BLOCKING: list[tuple[str, ...]] = [
    ("dob",),
    ("last_squashed", "first_key"),
    ("first_token", "zip"),
    ("last_squashed", "zip"),
    ("address",),
]
BROAD_PAIRS_PER_RECORD = 5


def _pairs(con: Any, table: str, columns: tuple[str, ...]) -> int:
    """How many pairs of records agree on every one of ``columns`` (none missing)."""
    keys = ", ".join(columns)
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    return int(con.execute(f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n FROM {table} "
                           f"WHERE {not_null} GROUP BY {keys})").fetchone()[0])


def prediction_rules(con: Any, table: str) -> list[Any]:
    """:data:`PREDICT_BLOCKING` and the broad rules the records in ``table`` can afford."""
    records = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    budget = BROAD_PAIRS_PER_RECORD * records
    return [*PREDICT_BLOCKING, *(block_on(*cols) for cols in BROAD_BLOCKING if _pairs(con, table, cols) <= budget)]


def blocking_sql(model_json: dict[str, Any] | None = None) -> list[str]:
    """A saved model's prediction blocking rules (default: :data:`PREDICT_BLOCKING`) as DuckDB SQL over
    ``l`` and ``r``, for pair completeness."""
    if model_json is None:
        return [r if isinstance(r, str) else r.get_blocking_rule("duckdb").blocking_rule_sql for r in PREDICT_BLOCKING]
    return [r["blocking_rule"] if isinstance(r, dict) else r
            for r in model_json["blocking_rules_to_generate_predictions"]]


_NAME_SAME = ("exact", "same surname, given name a variant (nickname)")
_NAME_CLOSE = (*_NAME_SAME, "same surname, given name close (typo)",
               "surname close or sharing a part, given name same or close")
_ADDRESS_ELSEWHERE = ("same ZIP code", "all other")

#: Relatives are the hard false matches: a parent and child (a junior) share a name and an address, twins
#: a surname, an address and a birth date; namesakes share a common name and little else. A pair whose
#: levels fit one of these patterns is never linked automatically, however high its probability; it goes
#: to clerical review with the reason. Each entry: reason, then comparison -> the levels that make up the
#: pattern. The first that fits is the reason given.
HOLD_BACK: list[tuple[str, dict[str, tuple[str, ...]]]] = [
    ("possibly a parent and child: same name and address, born far apart", {
        "name": _NAME_CLOSE,
        "date_of_birth": ("born 12 or more years apart", "all other"),
        "address": ("same address",),
    }),
    ("possibly twins: same surname, birth date and address, different given name and sex", {
        "name": ("same surname only",),
        "date_of_birth": ("exact",),
        "sex": ("all other",),
    }),
    ("dates of birth disagree", {
        "date_of_birth": ("born 12 or more years apart", "all other"),
    }),
    ("ages at the events disagree", {
        "age": ("all other",),
    }),
    ("possibly namesakes: same name, no date of birth or age to compare, living elsewhere", {
        "name": _NAME_SAME,
        "date_of_birth": ("missing",),
        "age": ("not needed or missing", "within two years"),
        "address": _ADDRESS_ELSEWHERE,
    }),
    ("possibly namesakes: same name, dates of birth one digit apart, living elsewhere", {
        "name": _NAME_SAME,
        "date_of_birth": ("one digit wrong or two transposed",),
        "address": _ADDRESS_ELSEWHERE,
        "source_person_id": ("not comparable",),
    }),
]


def settings(blocking: list[Any] | None = None) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name_comparison(), middle_name_comparison(), dob_comparison(), age_comparison(), _exact("sex", "sex"),
            _exact("race", "race and ethnicity"),
            address_comparison(), source_id_comparison(), *encoded_comparisons(),
        ],
        blocking_rules_to_generate_predictions=PREDICT_BLOCKING if blocking is None else blocking,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        additional_columns_to_retain=["source", "entity"],
    )


def connect(con: Any) -> DuckDBAPI:
    return DuckDBAPI(connection=con)


#: EM learns m probabilities from about this many pairs per pass (a stable hash sample of the left-hand
#: records above it): the estimates from half a million pairs are as good as from all of them, and computing
#: every comparison for every pair is most of the cost of training.
EM_PAIRS = 500_000


def _sampled(con: Any, table: str, columns: tuple[str, ...]) -> str:
    """The EM blocking rule ``l.c = r.c`` on ``columns``, restricted to a stable hash sample of the
    left-hand records when the rule would give more than :data:`EM_PAIRS` pairs (the same sample on every
    run over the same data)."""
    rule = " AND ".join(f"l.{c} = r.{c}" for c in columns)
    every = _pairs(con, table, columns) // EM_PAIRS
    return rule if every < 2 else f"{rule} AND hash(l.unique_id) % {every} = 0"


def train(con: Any, table: str, *, max_u_pairs: float = 2e6, seed: int = 1) -> Linker:
    """A linker over ``table`` trained without labels: the prior from near-certain pairs, u from random
    pairs, m by expectation maximisation in two passes whose blocking leaves every comparison trained."""
    db_api = connect(con)
    records = db_api.register(table, table_name="jl_link_input")
    linker = Linker(records, settings(prediction_rules(con, table)), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_squashed", "dob")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_u_pairs, seed=seed)
    em = linker.training.estimate_parameters_using_expectation_maximisation
    em(_sampled(con, table, ("dob",)))
    em(_sampled(con, table, ("last_squashed", "first_token")))
    encoded_only = con.execute(f"SELECT count(*) FROM {table} WHERE name_bf IS NOT NULL AND last_squashed IS NULL")
    if encoded_only.fetchone()[0]:
        # some records carry only encodings: their comparisons learn from pairs blocked on encodings
        em(_sampled(con, table, ("dob_bf",)))
        em(_sampled(con, table, ("name_bf",)))
    trained = with_m_floor(linker.misc.save_model_to_json())
    return Linker(records, trained, log_level=None)


def with_m_floor(model_json: dict[str, Any], floor: float = MIN_M) -> dict[str, Any]:
    """The model with every trained m probability raised to at least ``floor``."""
    for comp in model_json["comparisons"]:
        for level in comp["comparison_levels"]:
            m = level.get("m_probability")
            if m is not None and m < floor:
                level["m_probability"] = floor
    return model_json


def load(con: Any, table: str, model_json: dict[str, Any]) -> tuple[Linker, DuckDBAPI]:
    """A linker over ``table`` with a saved model (for explanations and incremental runs), and the
    database API it runs on (to register further tables)."""
    db_api = connect(con)
    # a saved model was checked against the records' columns when it was trained (and the check reads them all)
    return Linker(db_api.register(table, table_name="jl_link_input"), model_json, log_level=None,
                  validate_settings=False), db_api


def tf_columns(settings: dict[str, Any]) -> list[str]:
    """The columns whose term frequencies adjust match weights (rare surnames count for more)."""
    return sorted({lv["tf_adjustment_column"] for comp in settings["comparisons"]
                   for lv in comp["comparison_levels"] if lv.get("tf_adjustment_column")})


def term_frequencies(linker: Linker, con: Any) -> pa.Table:
    """The term frequencies of the linker's records, long form (column_name, value, tf): part of the
    model, kept with the run that trained it so later runs score pairs exactly as it did."""
    parts = []
    for col in tf_columns(linker.misc.save_model_to_json()):
        tf = linker.table_management.compute_tf_table(col)
        parts.append(con.execute(f"SELECT '{col}' AS column_name, CAST({col} AS VARCHAR) AS value, "
                                 f"tf_{col} AS tf FROM {tf.physical_name}").to_arrow_table())
    schema = pa.schema([("column_name", pa.string()), ("value", pa.string()), ("tf", pa.float64())])
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()


def use_term_frequencies(linker: Linker, db_api: DuckDBAPI, con: Any, tf: pa.Table) -> None:
    """Make the linker score with the stored term frequencies instead of its records' own."""
    con.register("jl_tf_arrow", tf)
    try:
        for col in tf_columns(linker.misc.save_model_to_json()):
            con.execute(f"CREATE OR REPLACE TABLE jl_tf_{col} AS SELECT value AS {col}, tf AS tf_{col} "
                        f"FROM jl_tf_arrow WHERE column_name = '{col}'")
            linker.table_management.register_term_frequency_lookup(db_api.register(f"jl_tf_{col}"), col)
    finally:
        con.unregister("jl_tf_arrow")
