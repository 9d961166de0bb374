"""Scoring candidate pairs: every pair (a full run), or only the pairs a change could alter (incremental).

Both write the same table: one row per scored pair, ids in ascending order, with the match probability,
the match weight, each comparison's level and weight (``levels``: compact text, ``gamma:weight`` per
comparison in the model's order, read back with :func:`decode_levels` and the model of the run that
stored it), so that every accepted link keeps what produced it, and ``held_back``: the relatives pattern
that keeps the pair from being linked automatically, if any.

An incremental run scores the records that are new or changed since the latest run (their fingerprint
differs) against each other and against every other record; the latest run's links between records that
did not change stand (:mod:`justicelab.linkage.region` reads back the few it needs). Term
frequencies are part of the model (stored with the run that trained it), so each pair gets exactly the
score a full run with the same model gives it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from splink import DuckDBAPI, Linker

from justicelab.linkage import model, store
from justicelab.linkage.store import LinkageError
from justicelab.warehouse import Warehouse

#: Pairs below this probability are neither linked nor reviewed, so they are not kept at all (at a million
#: records, keeping everything above 0.05 held 13 million pairs, most of them for nothing).
KEEP_ABOVE = 0.5
#: A full run scores the pairs of this many left-hand records at a time (see :func:`score_all`).
SLICE_RECORDS = 100_000
PAIRS_COLUMNS = ("unique_id_l VARCHAR, unique_id_r VARCHAR, match_probability DOUBLE, match_weight DOUBLE, "
                 "levels VARCHAR, held_back VARCHAR")


def levels_sql(settings: dict[str, Any], gammas: dict[str, str] | None = None) -> str:
    """A SQL expression giving each scored pair its comparison levels and weights as compact text,
    ``gamma:weight`` per comparison joined by ``|`` (a tenth of the size of JSON with the labels: at a
    million records the links alone held gigabytes of repeated labels). ``gammas``: each comparison's gamma
    as an expression (see :func:`lean_predictions`), else its ``gamma_`` column."""
    parts = []
    for comp in settings["comparisons"]:
        name = comp["output_column_name"]
        gamma = gammas[name] if gammas else f"gamma_{name}"
        weight = f"mw_{name}" + (f" + coalesce(mw_tf_adj_{name}, 0)" if any(
            lv.get("tf_adjustment_column") for lv in comp["comparison_levels"]) else "")
        parts.append(f"CAST({gamma} AS VARCHAR) || ':' || CAST(round({weight}, 3) AS VARCHAR)")
    return f"concat_ws('|', {', '.join(parts)})"


@contextmanager
def lean_predictions(linker: Linker) -> Iterator[dict[str, str] | None]:
    """Predictions without both records' values beside every pair, while inside the block.

    Carrying them makes each slice about an eighth slower, and nothing here reads them. But Splink leaves
    the ``gamma_`` columns out too whenever it leaves out the values (splink#760), and the stored levels
    and the hold-back patterns need the gammas. Each comparison's gamma is recovered from its ``mw_``
    column instead: Splink writes each level's weight as the same literal every time, so a CASE on it is
    exact as long as no two levels of a comparison share a weight. Yields those expressions, or None (and
    leaves the values in) for a model where two levels do share one."""
    settings_obj = linker._settings_obj  # Splink's own level weights: the same floats its SQL holds
    gammas: dict[str, str] = {}
    for comp in settings_obj.comparisons:
        weights = [(cl._match_weight, cl.comparison_vector_value) for cl in comp.comparison_levels]
        if any(w is None or not math.isfinite(w) for w, _ in weights) or len({w for w, _ in weights}) < len(weights):
            yield None
            return
        cases = " ".join(f"WHEN cast({w!r} as float8) THEN {g}" for w, g in weights)
        gammas[comp.output_column_name] = f"(CASE mw_{comp.output_column_name} {cases} END)"
    saved = settings_obj._retain_matching_columns
    settings_obj._retain_matching_columns = False
    try:
        yield gammas
    finally:
        settings_obj._retain_matching_columns = saved


def level_label(comp: dict[str, Any], gamma: int) -> str:
    """The label of a comparison's level, from its gamma value (-1: the null level)."""
    if gamma == -1:
        return "missing or not comparable"
    non_null = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
    return str(non_null[len(non_null) - 1 - gamma]["label_for_charts"])


def decode_levels(settings: dict[str, Any], text: str | None) -> dict[str, dict[str, Any]]:
    """Comparison -> {level, weight} from a stored ``levels`` value and the model that produced it."""
    if not text:
        return {}
    if text.startswith("{"):  # stored by a run before the compact form
        return dict(json.loads(text))
    out: dict[str, dict[str, Any]] = {}
    for comp, part in zip(settings["comparisons"], text.split("|"), strict=True):
        gamma, weight = part.split(":")
        out[comp["output_column_name"]] = {"level": level_label(comp, int(gamma)), "weight": float(weight)}
    return out


def _gammas(comp: dict[str, Any], labels: tuple[str, ...]) -> list[int]:
    """The gamma values of a comparison's levels with these labels (a null level's gamma is -1)."""
    non_null = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
    known = {lv["label_for_charts"]: -1 for lv in comp["comparison_levels"] if lv.get("is_null_level")}
    known |= {lv["label_for_charts"]: len(non_null) - 1 - i for i, lv in enumerate(non_null)}
    missing = [label for label in labels if label not in known]
    if missing:
        raise LinkageError(f"model.HOLD_BACK names level(s) {', '.join(missing)} that comparison "
                           f"{comp['output_column_name']} does not have")
    return sorted(known[label] for label in labels)


def held_back_sql(settings: dict[str, Any], gammas: dict[str, str] | None = None) -> str:
    """A SQL expression over a prediction's gammas (``gammas``' expressions, else the ``gamma_`` columns)
    naming the relatives pattern (:data:`model.HOLD_BACK`) a pair fits, else NULL."""
    comps = {c["output_column_name"]: c for c in settings["comparisons"]}
    cases = []
    for reason, pattern in model.HOLD_BACK:
        tests = " AND ".join(f"{gammas[name] if gammas else f'gamma_{name}'} IN "
                             f"({', '.join(str(g) for g in _gammas(comps[name], labels))})"
                             for name, labels in pattern.items())
        cases.append(f"WHEN {tests} THEN {reason!r}")
    return f"CASE {' '.join(cases)} END"


def _pairs_sql(settings: dict[str, Any], predictions: str, gammas: dict[str, str] | None) -> str:
    return f"""SELECT least(unique_id_l, unique_id_r) AS unique_id_l, greatest(unique_id_l, unique_id_r) AS unique_id_r,
                      match_probability, match_weight, {levels_sql(settings, gammas)} AS levels,
                      {held_back_sql(settings, gammas)} AS held_back
               FROM {predictions}"""


def score_all(con: Any, linker: Linker, out_table: str, records: int) -> int:
    """Score every candidate pair of the linker's ``records`` records into ``out_table``; returns how many.

    The pairs are scored a slice of left-hand records at a time (each pair once: its left record is in one
    slice): Splink's predictions carry both records' values beside every pair, and only one slice of them
    is held at once before it is reduced to the compact form kept."""
    settings = linker.misc.save_model_to_json()
    con.execute(f"CREATE TABLE {out_table} ({PAIRS_COLUMNS})")
    slices = max(1, math.ceil(records / SLICE_RECORDS))
    with lean_predictions(linker) as gammas:
        for i in range(1, slices + 1):
            pred = linker.inference.predict_chunk(left_chunk=(i, slices), threshold_match_probability=KEEP_ABOVE,
                                                  warning_mode="never")
            con.execute(f"INSERT INTO {out_table} {_pairs_sql(settings, pred.physical_name, gammas)}")
            pred.drop_table_from_database_and_remove_from_cache()
    return int(con.execute(f"SELECT count(*) FROM {out_table}").fetchone()[0])


def score_changes(con: Any, warehouse: Warehouse, linker: Linker, db_api: DuckDBAPI, out_table: str,
                  say: Callable[[str], None]) -> int:
    """Score the pairs that involve a new or changed record into ``out_table``; returns how many. Leaves
    the stored index (``jl_previous``), the records to rescore (``jl_affected``) and the linkable records
    left as they were (``jl_stable``) in the engine."""
    say("finding new and changed records")
    previous = warehouse.ibis.table(store.PERSON_INDEX).select("record_id", "person_id", "fingerprint",
                                                               "linkable").to_pyarrow()
    if previous.num_rows == 0 or previous["fingerprint"].null_count:
        raise LinkageError("the person index was built before incremental linking existed: run a full "
                           "`justicelab link run` once")
    con.register("jl_previous_arrow", previous)
    con.execute("CREATE TABLE jl_previous AS SELECT * FROM jl_previous_arrow")
    con.unregister("jl_previous_arrow")
    con.execute("""CREATE TABLE jl_affected AS SELECT i.* FROM jl_link_input i
                   LEFT JOIN jl_previous p ON p.record_id = i.unique_id
                   WHERE p.record_id IS NULL OR p.fingerprint <> i.fingerprint OR NOT p.linkable""")
    con.execute("CREATE VIEW jl_stable AS SELECT * FROM jl_link_input ANTI JOIN jl_affected USING (unique_id)")
    changed = int(con.execute("SELECT count(*) FROM jl_affected").fetchone()[0])
    say(f"scoring {changed:,} new or changed records against the index")

    settings = linker.misc.save_model_to_json()
    con.execute(f"CREATE TABLE {out_table} ({PAIRS_COLUMNS})")
    if changed == 0:
        return 0
    affected = db_api.register("jl_affected")
    with lean_predictions(linker) as gammas:
        predictions = [linker.inference.predict_within(affected, threshold_match_probability=KEEP_ABOVE,
                                                       warning_mode="never")]
        if con.execute("SELECT count(*) FROM jl_stable").fetchone()[0]:
            stable = db_api.register("jl_stable")
            predictions.append(linker.inference.predict_between(stable, affected,
                                                                threshold_match_probability=KEEP_ABOVE,
                                                                warning_mode="never"))
        for pred in predictions:
            con.execute(f"INSERT INTO {out_table} {_pairs_sql(settings, pred.physical_name, gammas)}")
            pred.drop_table_from_database_and_remove_from_cache()
    return int(con.execute(f"SELECT count(*) FROM {out_table}").fetchone()[0])

