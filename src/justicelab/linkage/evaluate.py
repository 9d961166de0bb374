"""``justicelab link evaluate``: the person index scored against an answer key.

Pairwise precision, recall and F1 count pairs of records (two records of one person are a true pair);
cluster precision and recall count persons reproduced exactly (every record, nothing more). Pair
completeness is the share of true pairs the blocking rules put in front of the model at all. Each figure
is also given by the true person's race, sex and age band: linkage errors are not spread evenly, and a
utilizer list inherits them.

The answer key is a CSV of ``source, record_key, person_id`` (the synthetic city writes one); a record's
id in the warehouse is ``source:record_key``. A ``people.csv`` beside it (person_id, sex,
race_ethnicity, date_of_birth) gives the groups.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from justicelab.linkage import model, store
from justicelab.linkage.records import load_standardised
from justicelab.linkage.store import LinkageError
from justicelab.warehouse import Warehouse

AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))


def _age_band_sql(dob: str, today: dt.date) -> str:
    age = f"date_diff('year', {dob}, DATE '{today.isoformat()}')"
    cases = " ".join(f"WHEN {age} < {upper} THEN '{label}'" for upper, label in AGE_BANDS)
    return f"CASE WHEN {dob} IS NULL THEN 'unknown' {cases} ELSE '65 and over' END"


def _f1(p: float | None, r: float | None) -> float | None:
    return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def evaluate(warehouse: Warehouse, answer_key: Path, people: Path | None = None, *,
             today: dt.date | None = None) -> list[dict[str, Any]]:
    """One row per group (``overall`` first): pairwise and cluster precision/recall/F1, pair completeness."""
    if not warehouse.has_table(store.PERSON_INDEX) or warehouse.count(store.PERSON_INDEX) == 0:
        raise LinkageError("no person index yet: run `justicelab link run` first")
    if not answer_key.is_file():
        raise LinkageError(f"{answer_key}: answer key not found")
    people = people or answer_key.with_name("people.csv")
    today = today or dt.date.today()
    con: Any = duckdb.connect()
    try:
        index = warehouse.ibis.table(store.PERSON_INDEX).select("record_id", "person_id").to_pyarrow()
        con.register("jl_index_arrow", index)
        con.execute("CREATE TABLE predicted AS SELECT record_id, person_id AS cluster FROM jl_index_arrow")
        try:
            con.execute(f"""CREATE TABLE truth AS SELECT source || ':' || record_key AS record_id, person_id
                            FROM read_csv('{answer_key}', all_varchar = true, header = true)""")
        except duckdb.Error as exc:
            raise LinkageError(f"{answer_key}: not an answer key (source, record_key, person_id): {exc}") from None
        if people.is_file():
            con.execute(f"""CREATE TABLE groups AS SELECT person_id, coalesce(sex, 'unknown') AS sex,
                                coalesce(race_ethnicity, 'unknown') AS race,
                                {_age_band_sql('TRY_CAST(date_of_birth AS DATE)', today)} AS age_band
                            FROM read_csv('{people}', all_varchar = true, header = true)""")
        else:
            con.execute("CREATE TABLE groups AS SELECT DISTINCT person_id, 'unknown' AS sex, 'unknown' AS race, "
                        "'unknown' AS age_band FROM truth")
        # Only records both sides know are scored; the rest are reported.
        con.execute("""CREATE TABLE scored AS SELECT t.record_id, t.person_id, p.cluster, g.sex, g.race, g.age_band
                       FROM truth t JOIN predicted p USING (record_id) LEFT JOIN groups g USING (person_id)""")
        _blocking_pairs(con, warehouse)
        rows = [_scores(con, "overall", "TRUE")]
        for dim in ("race", "sex", "age_band"):
            values = [v for (v,) in con.execute(f"SELECT DISTINCT {dim} FROM scored ORDER BY 1").fetchall()]
            rows += [_scores(con, f"{dim}={v}", f"{dim} = '{v}'") for v in values]
        missing = con.execute("SELECT count(*) FROM truth WHERE record_id NOT IN (SELECT record_id FROM predicted)"
                              ).fetchone()[0]
        unknown = con.execute("SELECT count(*) FROM predicted WHERE record_id NOT IN (SELECT record_id FROM truth)"
                              ).fetchone()[0]
        rows[0]["key_records_not_in_index"] = int(missing)
        rows[0]["index_records_not_in_key"] = int(unknown)
        return rows
    finally:
        con.close()


def _blocking_pairs(con: Any, warehouse: Warehouse) -> None:
    """Table ``blocked_true``: the true pairs (record_l < record_r) at least one blocking rule generates."""
    load_standardised(con, warehouse, "jl_records")
    run = store.latest_run(warehouse)
    rules = " OR ".join(f"coalesce(({sql}), false)" for sql in model.blocking_sql(run["model"] if run else None))
    con.execute(f"""
        CREATE TABLE blocked_true AS
        SELECT l.unique_id AS record_l, r.unique_id AS record_r
        FROM (SELECT s.person_id, j.* FROM scored s JOIN jl_records j ON j.unique_id = s.record_id) l
        JOIN (SELECT s.person_id, j.* FROM scored s JOIN jl_records j ON j.unique_id = s.record_id) r
          ON l.person_id = r.person_id AND l.unique_id < r.unique_id
        WHERE {rules}""")


def _scores(con: Any, group: str, where: str) -> dict[str, Any]:
    """Pair counts from cluster sizes: a group's pairs are those with at least one record in the group."""
    true_pairs, tp = con.execute(f"""
        WITH by_both AS (SELECT person_id, cluster, count(*) AS n FROM scored WHERE {where} GROUP BY ALL),
             by_person AS (SELECT person_id, count(*) AS n FROM scored WHERE {where} GROUP BY ALL)
        SELECT (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM by_person),
               (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM by_both)""").fetchone()
    predicted_pairs = con.execute(f"""
        SELECT coalesce(sum(n * (n - 1) / 2 - (n - g) * (n - g - 1) / 2), 0) FROM (
            SELECT cluster, count(*) AS n, count(*) FILTER (WHERE {where}) AS g FROM scored GROUP BY cluster)
        WHERE g > 0""").fetchone()[0]
    exact = con.execute(f"""
        WITH persons AS (SELECT person_id, list(record_id ORDER BY record_id) AS recs FROM scored
                         WHERE person_id IN (SELECT person_id FROM scored WHERE {where}) GROUP BY person_id),
             clusters AS (SELECT cluster, list(record_id ORDER BY record_id) AS recs FROM scored
                          WHERE cluster IN (SELECT cluster FROM scored WHERE {where}) GROUP BY cluster)
        SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM clusters),
               (SELECT count(*) FROM persons p JOIN clusters c ON p.recs = c.recs)""").fetchone()
    n_persons, n_clusters, n_exact = exact
    blocked = con.execute(f"""SELECT count(*) FROM blocked_true b JOIN scored s ON s.record_id = b.record_l
                              WHERE {where}""").fetchone()[0]
    p, r = _ratio(float(tp), float(predicted_pairs)), _ratio(float(tp), float(true_pairs))
    cp, cr = _ratio(n_exact, n_clusters), _ratio(n_exact, n_persons)
    return {
        "group": group, "records": con.execute(f"SELECT count(*) FROM scored WHERE {where}").fetchone()[0],
        "persons": n_persons, "clusters": n_clusters,
        "pair_precision": p, "pair_recall": r, "pair_f1": _f1(p, r),
        "cluster_precision": cp, "cluster_recall": cr, "cluster_f1": _f1(cp, cr),
        "pair_completeness": _ratio(float(blocked), float(true_pairs)),
    }
