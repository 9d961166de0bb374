"""``justicelab link explain A B``: why the model thinks two records are (or are not) the same person.

The pair is scored afresh with the latest run's trained model, so any two records can be explained,
linked or not. The answer is a waterfall: the prior, then each comparison's level and match weight
(log2 Bayes factor, term-frequency adjustment included), the running total, and the final probability.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from justicelab.linkage import model, store
from justicelab.linkage.records import load_standardised
from justicelab.linkage.scoring import level_label
from justicelab.linkage.store import LinkageError
from justicelab.warehouse import Warehouse

#: Which standardised values each comparison looks at (shown beside its level).
SHOWN = {"name": ("first_name", "last_name"), "middle_name": ("middle_name",), "date_of_birth": ("dob",),
         "age": ("birth_year_low", "birth_year_high"),
         "sex": ("sex",), "race": ("race",), "address": ("address", "zip"), "source_person_id": ("source_person_id",)}


def explain(warehouse: Warehouse, record_a: str, record_b: str) -> list[dict[str, Any]]:
    """The waterfall rows for the pair: one for the prior, one per comparison, one for the total."""
    run = store.latest_run(warehouse)
    if run is None:
        raise LinkageError("no trained model yet: run `justicelab link run` first")
    settings = run["model"]
    con: Any = duckdb.connect()
    try:
        load_standardised(con, warehouse, "jl_link_input")
        found = {r for (r,) in con.execute("SELECT unique_id FROM jl_link_input WHERE unique_id IN (?, ?)",
                                           [record_a, record_b]).fetchall()}
        for rec in (record_a, record_b):
            if rec not in found:
                raise LinkageError(f"record {rec!r} is not in the warehouse (record ids look like "
                                   f"'jail_bookings:B20-000001'; see `justicelab person show`)")
        linker, db_api = model.load(con, "jl_link_input", settings)
        stored = store.term_frequencies(warehouse)
        if stored is not None:
            model.use_term_frequencies(linker, db_api, con, stored)
        else:
            for col in model.tf_columns(settings):
                linker.table_management.compute_tf_table(col)
        cur = con.execute("SELECT * FROM jl_link_input WHERE unique_id = ?", [record_a])
        names = [d[0] for d in cur.description]
        left = dict(zip(names, cur.fetchone(), strict=True))
        right = dict(zip(names, con.execute("SELECT * FROM jl_link_input WHERE unique_id = ?",
                                             [record_b]).fetchone(), strict=True))
        # Typed one-row tables, not dicts: a missing date must stay a DATE for the comparisons.
        con.execute("CREATE TABLE jl_left AS SELECT * FROM jl_link_input WHERE unique_id = ?", [record_a])
        con.execute("CREATE TABLE jl_right AS SELECT * FROM jl_link_input WHERE unique_id = ?", [record_b])
        scored = linker.inference.score_pair(db_api.register("jl_left"), db_api.register("jl_right")
                                             ).as_record_list()[0]
    finally:
        con.close()
    prior = settings["probability_two_random_records_match"]
    total = math.log2(prior / (1 - prior))
    rows: list[dict[str, Any]] = [{"step": "prior (two random records match)", "level": f"{prior:.3g}",
                                   "left": "", "right": "", "weight": round(total, 2), "total": round(total, 2)}]
    for comp in settings["comparisons"]:
        name = comp["output_column_name"]
        weight = float(scored.get(f"mw_{name}") or 0.0) + float(scored.get(f"mw_tf_adj_{name}") or 0.0)
        total += weight
        cols = SHOWN.get(name, ())
        rows.append({"step": name, "level": level_label(comp, int(scored[f"gamma_{name}"])),
                     "left": " ".join(str(left.get(c) or "-") for c in cols),
                     "right": " ".join(str(right.get(c) or "-") for c in cols),
                     "weight": round(weight, 2), "total": round(total, 2)})
    probability = float(scored["match_probability"])
    rows.append({"step": "match weight and probability", "level": f"{probability:.4f}", "left": record_a,
                 "right": record_b, "weight": round(float(scored["match_weight"]), 2), "total": round(total, 2)})
    return rows
