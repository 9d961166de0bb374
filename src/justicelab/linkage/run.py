"""``justicelab link run``: link every person-bearing record in the warehouse into the person index.

The work happens in a private in-memory DuckDB (Splink's engine) whatever the warehouse is; only the
results go back, in one transaction, so a failed run leaves the previous index untouched. The engine keeps
to a memory budget (:data:`MEMORY_LIMIT`, ``link run --memory``) and spills to a temporary folder beyond it,
so a run at a million records leaves room for the warehouse and whatever else the machine serves.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from justicelab.linkage import clusters, model, region, scoring, store
from justicelab.linkage.records import load_standardised
from justicelab.linkage.store import LinkageError
from justicelab.warehouse import Warehouse

#: Links at or above this probability are accepted (chosen once, on synthetic data, never per dataset).
THRESHOLD = 0.9
#: Pairs between this and :data:`THRESHOLD` that leave two persons apart go to clerical review.
REVIEW_LOW = scoring.KEEP_ABOVE
#: The linking engine's DuckDB memory budget (a DuckDB size); beyond it DuckDB spills to disk.
MEMORY_LIMIT = "3GB"

Progress = Callable[[str], None]


@dataclass
class RunSummary:
    run_id: int
    records: int
    unlinkable: int
    pairs_scored: int
    links: int
    persons: int
    reviews_added: int
    events: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    kind: str = "full"

    def as_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"measure": "run", "value": self.run_id},
            {"measure": "kind", "value": self.kind},
            {"measure": "records", "value": self.records},
            {"measure": "records without usable identifiers (kept, not linked)", "value": self.unlinkable},
            {"measure": "pairs scored" + (" (involving new or changed records)" if self.kind == "incremental"
                                           else ""), "value": self.pairs_scored},
            {"measure": f"links accepted (probability >= {THRESHOLD})", "value": self.links},
            {"measure": "persons", "value": self.persons},
            {"measure": "pairs added to the review queue", "value": self.reviews_added},
        ]
        rows += [{"measure": f"person ids {k}", "value": v} for k, v in sorted(self.events.items())]
        rows += [{"measure": "note", "value": n} for n in self.notes]
        rows.append({"measure": "seconds", "value": round(self.seconds, 1)})
        return rows


def _decisions(warehouse: Warehouse, con: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """Reviewers' decisions still applicable (both records in ``jl_records`` of the engine), and a note for
    each that names a record no longer there."""
    must: list[tuple[str, str]] = []
    cannot: list[tuple[str, str]] = []
    notes: list[str] = []
    if not warehouse.has_table(store.DECISIONS):
        return must, cannot, notes
    rows = warehouse.ibis.table(store.DECISIONS).order_by("decision_id").to_pyarrow().to_pylist()
    named = pa.table({"unique_id": pa.array(sorted({r for d in rows for r in (d["record_l"], d["record_r"])}),
                                            pa.string())})
    con.register("jl_named_arrow", named)
    known = {r for (r,) in con.execute("SELECT unique_id FROM jl_named_arrow SEMI JOIN jl_records USING (unique_id)")
             .fetchall()}
    con.unregister("jl_named_arrow")
    for d in rows:
        missing = [r for r in (d["record_l"], d["record_r"]) if r not in known]
        if missing:
            notes.append(f"decision {d['decision_id']} ({d['decision']}) not applied: record "
                         f"{', '.join(missing)} no longer exists")
            continue
        (must if d["decision"] == "must_link" else cannot).append((d["record_l"], d["record_r"]))
    return must, cannot, notes


def _edges_sql(within: str | None = None) -> str:
    """The run's links: accepted model links scored now, each source's own person number, reviewers'
    must-links, less reviewers' cannot-links. ``within``: a table of record ids (unique_id); only the
    person numbers of its records are linked then."""
    region = (f"AND source_person_id IN (SELECT source_person_id FROM jl_link_input SEMI JOIN {within} "
              "USING (unique_id))") if within else ""
    return f"""
        WITH model_links AS (
            SELECT unique_id_l, unique_id_r, match_probability, match_weight, levels, 'model' AS basis
            FROM jl_pairs WHERE match_probability >= {THRESHOLD} AND held_back IS NULL),
        forced AS (   -- a source's own person number is deterministic within that source
            SELECT first_id AS unique_id_l, unique_id AS unique_id_r, 1.0 AS match_probability,
                   NULL::DOUBLE AS match_weight, NULL::VARCHAR AS levels, 'same source person id' AS basis
            FROM (SELECT unique_id, min(unique_id) OVER (PARTITION BY source_person_id) AS first_id
                  FROM jl_link_input WHERE source_person_id IS NOT NULL {region})
            WHERE first_id <> unique_id
            UNION ALL
            SELECT unique_id_l, unique_id_r, 1.0, NULL, NULL, 'reviewer: must link' FROM jl_decided
            WHERE decision = 'must_link'),
        all_edges AS (SELECT * FROM model_links UNION ALL SELECT * FROM forced)
        SELECT e.* FROM all_edges e
        WHERE NOT EXISTS (SELECT 1 FROM jl_decided d WHERE d.decision = 'cannot_link'
                          AND ((d.unique_id_l = e.unique_id_l AND d.unique_id_r = e.unique_id_r)
                            OR (d.unique_id_l = e.unique_id_r AND d.unique_id_r = e.unique_id_l)))"""


def _edges_among(con: Any, records: list[str]) -> list[clusters.Edge]:
    """This run's links between two of ``records``, strongest first, ties by record ids (the same clusters
    on every run over the same links)."""
    con.register("jl_among_arrow", pa.table({"unique_id": pa.array(records, pa.string())}))
    try:
        return con.execute("""SELECT unique_id_l, unique_id_r, match_probability, basis = 'model' FROM jl_edges
                              SEMI JOIN jl_among_arrow a ON a.unique_id = jl_edges.unique_id_l
                              SEMI JOIN jl_among_arrow b ON b.unique_id = jl_edges.unique_id_r
                              ORDER BY match_probability DESC, unique_id_l, unique_id_r""").fetchall()
    finally:
        con.unregister("jl_among_arrow")


def link_run(warehouse: Warehouse, *, incremental: bool = False, reuse_model: bool = False,
             progress: Progress | None = None, max_u_pairs: float = 2e6,
             memory_limit: str = MEMORY_LIMIT) -> RunSummary:
    """Link everything ingested; returns what the run did.

    A full run trains the model afresh (or, with ``reuse_model``, keeps the latest run's) and scores every
    candidate pair. An ``incremental`` run keeps the latest run's model and links, scores only the pairs
    that involve a record that is new or changed since, and re-clusters only the persons those can reach
    (:mod:`justicelab.linkage.region`): it gives the index a full run with the same model would give,
    in a fraction of the time. ``memory_limit``: the engine's DuckDB memory budget (e.g. "3GB").
    """
    say = progress or (lambda _msg: None)
    started = store.utcnow()
    store.ensure_link_tables(warehouse)
    previous_run = store.latest_run(warehouse)
    if (incremental or reuse_model) and previous_run is None:
        raise LinkageError("no earlier link run to continue from: run a full `justicelab link run` first")
    kind = "incremental" if incremental else "full, saved model" if reuse_model else "full"
    say("gathering person-bearing records")
    spill = tempfile.TemporaryDirectory(prefix="justicelab-link-")
    try:
        con: Any = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill.name})
    except duckdb.Error as exc:
        spill.cleanup()
        raise LinkageError(f"memory limit {memory_limit!r}: {exc} (expected a size such as 3GB or 500MB)") from exc
    try:
        load_standardised(con, warehouse, "jl_records", ordered=not incremental)
        if con.execute("SELECT count(*) FROM jl_records").fetchone()[0] == 0:
            raise LinkageError("nothing to link: no person-bearing records have been ingested "
                               "(see `justicelab status`)")
        # a full run reads them many times over in training; an incremental run only its changes (a view)
        con.execute(f"CREATE {'VIEW' if incremental else 'TABLE'} jl_link_input AS SELECT * FROM jl_records "
                    "WHERE linkable")
        must, cannot, notes = _decisions(warehouse, con)
        linkable = int(con.execute("SELECT count(*) FROM jl_link_input").fetchone()[0])
        if linkable < 2:
            raise LinkageError(f"only {linkable} record(s) carry usable identifiers; nothing can be linked yet")

        trained: pa.Table | None = None
        if previous_run is not None and (incremental or reuse_model):
            say("loading the latest run's model")
            linker, db_api = model.load(con, "jl_link_input", previous_run["model"])
            stored = store.term_frequencies(warehouse)
            if stored is None:
                raise LinkageError("the latest run kept no term frequencies (it predates incremental linking): "
                                   "run a full `justicelab link run` once")
            model.use_term_frequencies(linker, db_api, con, stored)
        else:
            say(f"training the model on {linkable:,} records (unsupervised)")
            linker = model.train(con, "jl_link_input", max_u_pairs=max_u_pairs)
            trained = model.term_frequencies(linker, con)
        settings = linker.misc.save_model_to_json()
        if incremental:
            pairs_scored = scoring.score_changes(con, warehouse, linker, db_api, "jl_pairs", say)
        else:
            say("scoring candidate pairs")
            pairs_scored = scoring.score_all(con, linker, "jl_pairs", linkable)

        say("clustering")
        decided = pa.table({
            "unique_id_l": [a for a, _ in must + cannot], "unique_id_r": [b for _, b in must + cannot],
            "decision": ["must_link"] * len(must) + ["cannot_link"] * len(cannot)}).cast(pa.schema(
                [("unique_id_l", pa.string()), ("unique_id_r", pa.string()), ("decision", pa.string())]))
        con.register("jl_decided_arrow", decided)
        con.execute("CREATE TABLE jl_decided AS SELECT * FROM jl_decided_arrow")
        con.unregister("jl_decided_arrow")
        within: str | None = None
        if incremental:
            # only the persons a change can reach are clustered again (region.py)
            within = region.TABLE
            reached = region.mark(con, warehouse, _edges_sql(region.CHANGED))
            say(f"clustering the {reached:,} records a change can reach")
        con.execute(f"CREATE TABLE jl_edges AS {_edges_sql(within)}")
        links = int(con.execute("SELECT count(*) FROM jl_edges").fetchone()[0])
        if within:
            cluster_of, (for_reviewers, for_ids) = region.cluster(con, warehouse, "jl_edges", cannot)
        else:
            con.execute("CREATE TABLE jl_nodes AS SELECT unique_id FROM jl_link_input")
            cluster_of = clusters.connected_components(con, "jl_nodes", "jl_edges")
            for_reviewers, for_ids = clusters.split(con, cluster_of, "jl_link_input", cannot,
                                                    lambda among: _edges_among(con, among))
        if for_reviewers:
            notes.append(f"{for_reviewers} cluster(s) rebuilt to honour cannot-link decisions")
        if for_ids:
            notes.append(f"{for_ids} cluster(s) split where two person ids of one source were joined only "
                         "through other records")
        region_only = f"SEMI JOIN {within} USING (unique_id)" if within else ""
        # Records without usable identifiers are persons of their own until someone adds identifiers.
        for (rec,) in con.execute(f"SELECT unique_id FROM jl_records {region_only} WHERE NOT linkable").fetchall():
            cluster_of[rec] = f"unlinkable:{rec}"

        say("assigning stable person ids")
        previous = region.previous_ids(con) if within else store.person_ids(warehouse)
        # Ids are never reused: numbering continues after every id the index or its history ever held.
        first = clusters.next_number(store.highest_person_ids(warehouse, clusters.ID_PREFIX))
        person_of, events = clusters.assign_person_ids(cluster_of, previous, first)
        ids = pa.table({"unique_id": pa.array(list(cluster_of), pa.string()),
                        "person_id": pa.array([person_of[c] for c in cluster_of.values()], pa.string())})
        if within:
            region.combine_ids(con, ids, "jl_ids")
        else:
            con.register("jl_ids_arrow", ids)
            con.execute("CREATE TABLE jl_ids AS SELECT * FROM jl_ids_arrow")
            con.unregister("jl_ids_arrow")
        del ids, cluster_of, person_of, previous  # a million records' worth each in a full run
        records, unlinkable, persons = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT linkable), count(DISTINCT person_id) "
            "FROM jl_records JOIN jl_ids USING (unique_id)").fetchone()

        # Reviews: uncertain pairs that leave two persons apart, one per pair of persons (the strongest).
        con.execute(f"""
            CREATE TABLE jl_band AS
            WITH left_side AS MATERIALIZED (
                SELECT p.*, a.person_id AS person_l FROM jl_pairs p JOIN jl_ids a ON a.unique_id = p.unique_id_l
                WHERE p.match_probability >= {REVIEW_LOW}),
            both_sides AS MATERIALIZED (
                SELECT l.*, b.person_id AS person_r FROM left_side l JOIN jl_ids b ON b.unique_id = l.unique_id_r)
            SELECT unique_id_l, unique_id_r, match_probability, match_weight, levels, held_back,
                   least(person_l, person_r) AS pa, greatest(person_l, person_r) AS pb
            FROM both_sides WHERE person_l <> person_r""")
        review = con.execute("""
            SELECT unique_id_l AS record_l, unique_id_r AS record_r, match_probability, match_weight, levels,
                   held_back AS reason
            FROM jl_band QUALIFY row_number() OVER (PARTITION BY pa, pb ORDER BY match_probability DESC,
                                                   unique_id_l, unique_id_r) = 1
            ORDER BY match_probability DESC, record_l, record_r""").to_arrow_table()
        say("writing the person index")
        # The index and its links (millions at a million records) go to the warehouse as Parquet files the
        # engine writes in the spill folder: the warehouse then appends each in one statement, instead of
        # holding every Arrow batch of the transaction in memory.
        folder = Path(spill.name)
        out = "jl_edges"
        if within:
            written: Path | region.Changes = region.changes(con, warehouse, "jl_ids", "jl_edges")
            out = region.LINKS_OUT
        else:
            written = folder / "index.parquet"
            con.execute(f"""COPY (SELECT r.unique_id AS record_id, i.person_id, r.source, r.entity, r.linkable,
                                         r.fingerprint
                                  FROM jl_records r JOIN jl_ids i USING (unique_id) ORDER BY r.unique_id)
                            TO '{written}' (FORMAT parquet)""")
        # An incremental run writes only the links that changed: new model links, and the region's other
        # links that differ from the stored. Not sorted: a sort of 13 million links costs 10 s and 1 GB, and
        # every reader selects links by record.
        accepted = folder / "links.parquet"
        con.execute(f"""COPY (SELECT unique_id_l AS record_l, unique_id_r AS record_r, match_probability,
                                     match_weight, levels, basis FROM {out})
                        TO '{accepted}' (FORMAT parquet)""")
        summary = _write(warehouse, written, accepted, review, trained, events, notes, kind=kind,
                         started=started, settings=settings, pairs_scored=pairs_scored,
                         counts=(int(records), int(unlinkable), links, int(persons)), cannot=cannot)
    finally:
        con.close()
        spill.cleanup()
    return summary


def _delete_ids(warehouse: Warehouse, table: str, column: str, ids: list[str]) -> None:
    """Delete the rows of ``table`` whose ``column`` is one of ``ids``."""
    if ids:
        with store.id_table(warehouse, ids) as held:
            warehouse.execute(f'DELETE FROM "{table}" WHERE "{column}" IN (SELECT id FROM "{held}")')


def _write(warehouse: Warehouse, written: Path | region.Changes, accepted: Path,
           review: pa.Table, trained: pa.Table | None, events: list[clusters.Event], notes: list[str], *,
           kind: str, started: Any, settings: dict[str, Any], pairs_scored: int,
           counts: tuple[int, int, int, int], cannot: list[tuple[str, str]]) -> RunSummary:
    """Store the run's results in one warehouse transaction: replace the index and its links (a full run:
    ``written`` is the whole index), or rewrite only what changed (an incremental run: ``written`` says
    what). ``counts``: records, unlinkable records, links (of the region, for an incremental run), persons."""
    records, unlinkable, links, persons = counts
    with warehouse.transaction():
        run_id = store.next_id(warehouse, store.RUNS, "run_id")
        review = _new_reviews(warehouse, review, run_id)
        if isinstance(written, region.Changes):
            _delete_ids(warehouse, store.PERSON_INDEX, "record_id",
                        [*written.index_rows["record_id"].to_pylist(), *written.index_gone])
            with store.id_table(warehouse, written.rescored) as rescored:
                for column in ("record_l", "record_r"):  # one simple semi-join each: an OR of two scans all
                    warehouse.execute(f"""DELETE FROM "{store.PAIRS}" WHERE basis = 'model'
                                          AND {column} IN (SELECT id FROM "{rescored}")""")
            if written.stale_links.num_rows:
                with store.held_table(warehouse, written.stale_links) as stale:
                    warehouse.execute(f"""DELETE FROM "{store.PAIRS}" WHERE basis <> 'model' AND EXISTS (
                        SELECT 1 FROM "{stale}" s WHERE s.record_l = "{store.PAIRS}".record_l
                        AND s.record_r = "{store.PAIRS}".record_r AND s.basis = "{store.PAIRS}".basis)""")
            for a, b in cannot:  # a new cannot-link decision unlinks a pair that neither record's change did
                qa, qb = a.replace("'", "''"), b.replace("'", "''")
                warehouse.execute(f"""DELETE FROM "{store.PAIRS}" WHERE (record_l = '{qa}' AND record_r = '{qb}')
                                      OR (record_l = '{qb}' AND record_r = '{qa}')""")
            rows = written.index_rows
            warehouse.insert_arrow(store.PERSON_INDEX, rows.append_column(
                "run_id", pa.array([run_id] * rows.num_rows, pa.int64())))
        else:
            warehouse.execute(f'DELETE FROM "{store.PERSON_INDEX}"')
            warehouse.execute(f'DELETE FROM "{store.PAIRS}"')
            warehouse.insert_parquet(store.PERSON_INDEX, written, {"run_id": run_id})
        warehouse.insert_parquet(store.PAIRS, accepted, {"run_id": run_id})
        if isinstance(written, region.Changes):
            links = warehouse.count(store.PAIRS)
        warehouse.insert_arrow(store.REVIEWS, review)
        if trained is not None:
            warehouse.execute(f'DELETE FROM "{store.TERM_FREQUENCIES}"')
            warehouse.insert_arrow(store.TERM_FREQUENCIES, trained.append_column(
                "run_id", pa.array([run_id] * trained.num_rows, pa.int64())))
        store.append_rows(warehouse, store.HISTORY, [
            {"run_id": run_id, "event": e.event, "person_id": e.person_id, "related": ",".join(e.related),
             "records": e.records, "detail": e.detail} for e in events])
        finished = store.utcnow()
        store.append_rows(warehouse, store.RUNS, [{
            "run_id": run_id, "kind": kind, "started_at": started, "finished_at": finished,
            "model_version": model.MODEL_VERSION, "model_json": json.dumps(settings), "records": records,
            "unlinkable": unlinkable, "pairs_scored": pairs_scored, "links": links, "persons": persons,
            "threshold": THRESHOLD, "review_low": REVIEW_LOW, "reviews_added": review.num_rows,
            "notes": "\n".join(notes)}])
    counted: dict[str, int] = {}
    for e in events:
        counted[e.event] = counted.get(e.event, 0) + 1
    return RunSummary(run_id, records, unlinkable, pairs_scored, links, persons, review.num_rows, counted,
                      notes, (finished - started).total_seconds(), kind)


def _new_reviews(warehouse: Warehouse, review: pa.Table, run_id: int) -> pa.Table:
    """The uncertain pairs not already queued or decided, numbered on from the queue."""
    seen: set[tuple[str, str]] = set()
    for table in (store.REVIEWS, store.DECISIONS):
        for a, b in warehouse.execute(f'SELECT record_l, record_r FROM "{table}"'):
            seen |= {(a, b), (b, a)}
    keep = [i for i, (a, b) in enumerate(zip(review["record_l"].to_pylist(), review["record_r"].to_pylist(),
                                              strict=True)) if (a, b) not in seen]
    review = review.take(pa.array(keep, pa.int64()))
    first = store.next_id(warehouse, store.REVIEWS, "review_id")
    n = review.num_rows
    return review.append_column("review_id", pa.array(range(first, first + n), pa.int64())).append_column(
        "run_id", pa.array([run_id] * n, pa.int64())).append_column(
        "status", pa.array(["pending"] * n, pa.string()))
