"""The region of an incremental run: the part of the link graph a change can reach, re-clustered alone.

A run's persons are the clusters of its links. The *seeds* of an incremental run are the records that are new
or changed since the latest run, the records gone, and the records a reviewer's decision names. The *region*
is everything connected to a seed: whole persons of the stored index, joined by this run's new links (scored,
same source person id, must link) and by the stored links that run between two persons (only a split leaves
those: a cannot-link decision, or two person ids of one source). No link outside the region can have changed,
so every person outside it is what a full run would make of it, id included, and keeps its stored rows.

Inside, a person with no seed among its records is still joined by its stored links, so it enters the
clustering as one node (its first record) and its links stay in the warehouse; only the stored links of
persons that lost or changed a record, and of clusters split again, are read back. The clusters, and so the
ids, merges and splits, are those a full run gives. Only links that can differ are rewritten: model links of
changed and gone records, and the region's links not made by the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from justicelab.linkage import clusters, store
from justicelab.warehouse import Warehouse

#: The engine's table of region records (column unique_id), closed under every link of this run.
TABLE = "jl_region"
#: The engine's table of records whose stored model links no longer stand: new, changed, rescored, gone.
CHANGED = "jl_changed"

_KEY_SCHEMA = pa.schema([("unique_id_l", pa.string()), ("unique_id_r", pa.string()), ("basis", pa.string())])
_LINK_SCHEMA = pa.schema([("unique_id_l", pa.string()), ("unique_id_r", pa.string()),
                          ("match_probability", pa.float64()), ("basis", pa.string())])


def mark(con: Any, warehouse: Warehouse, new_links: str) -> int:
    """Create :data:`TABLE` in the engine from the seeds and ``new_links`` (a SELECT of unique_id_l,
    unique_id_r: every link this run makes that involves a record of :data:`CHANGED`, which it creates
    first: the others ran before, so stored persons and links already hold them). Returns how many records
    the region holds.

    Expects ``jl_records``, ``jl_previous`` (the stored index), ``jl_affected`` (records to rescore) and
    ``jl_decided`` (reviewers' decisions that apply) in the engine.
    """
    con.execute("""CREATE TABLE jl_gone AS SELECT record_id, person_id FROM jl_previous
                   ANTI JOIN jl_records ON jl_records.unique_id = jl_previous.record_id""")
    con.execute(f"""CREATE TABLE {CHANGED} AS
                   SELECT r.unique_id FROM jl_records r LEFT JOIN jl_previous p ON p.record_id = r.unique_id
                   WHERE p.record_id IS NULL OR p.fingerprint IS DISTINCT FROM r.fingerprint
                      OR p.linkable IS DISTINCT FROM r.linkable
                   UNION SELECT unique_id FROM jl_affected UNION SELECT record_id FROM jl_gone""")
    con.execute(f"""CREATE TABLE jl_seeds AS SELECT unique_id FROM {CHANGED}
                   UNION SELECT unique_id_l FROM jl_decided UNION SELECT unique_id_r FROM jl_decided""")
    con.execute("""CREATE TABLE jl_broken AS SELECT DISTINCT person_id FROM jl_previous
                   SEMI JOIN jl_seeds s ON s.unique_id = jl_previous.record_id""")
    # Stored links between two persons: few, so all of them come over (they can join persons in the region).
    # Only a split leaves any (a cannot-link decision, or two person ids of one source; clusters.split).
    cross = store.query_arrow(warehouse, f"""
        SELECT l.record_l AS unique_id_l, l.record_r AS unique_id_r, l.match_probability, l.basis
        FROM "{store.PAIRS}" l
        JOIN "{store.PERSON_INDEX}" x ON x.record_id = l.record_l
        JOIN "{store.PERSON_INDEX}" y ON y.record_id = l.record_r
        WHERE x.person_id <> y.person_id""", _LINK_SCHEMA)
    con.register("jl_cross_arrow", cross)
    con.execute("CREATE TABLE jl_cross AS SELECT * FROM jl_cross_arrow")
    con.unregister("jl_cross_arrow")
    con.execute(f"""CREATE TABLE jl_graph AS
                    WITH e AS (SELECT unique_id_l AS a, unique_id_r AS b FROM jl_cross
                               UNION ALL SELECT unique_id_l, unique_id_r FROM ({new_links}))
                    SELECT a AS one, b AS other FROM e UNION ALL SELECT b, a FROM e""")
    # Grow from the seeds (gone records included: their links lead on) a whole person and a link at a time
    # until nothing more is reachable; the region is what of that is still there.
    con.execute("CREATE TABLE jl_reach AS SELECT unique_id FROM jl_seeds")
    con.execute("CREATE TABLE jl_front AS SELECT unique_id FROM jl_reach")
    while con.execute("SELECT count(*) FROM jl_front").fetchone()[0]:
        con.execute("""CREATE TABLE jl_next AS
                       (SELECT p.record_id AS unique_id FROM jl_previous p
                        WHERE p.person_id IN (SELECT q.person_id FROM jl_previous q
                                              SEMI JOIN jl_front f ON f.unique_id = q.record_id)
                        UNION SELECT g.other FROM jl_graph g SEMI JOIN jl_front f ON f.unique_id = g.one)
                       EXCEPT SELECT unique_id FROM jl_reach""")
        con.execute("INSERT INTO jl_reach SELECT unique_id FROM jl_next")
        con.execute("DROP TABLE jl_front")
        con.execute("ALTER TABLE jl_next RENAME TO jl_front")
    con.execute(f"CREATE TABLE {TABLE} AS SELECT unique_id FROM jl_reach SEMI JOIN jl_records USING (unique_id)")
    for table in ("jl_front", "jl_reach", "jl_graph"):
        con.execute(f"DROP TABLE {table}")
    return int(con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])


def _stored_links_among(con: Any, warehouse: Warehouse, records_sql: str, out_table: str) -> None:
    """The stored model links whose both records are unchanged and among ``records_sql`` (a SELECT of
    unique_id), less reviewers' cannot-links, into ``out_table`` of the engine."""
    ids = con.execute(f"SELECT unique_id FROM ({records_sql}) SEMI JOIN jl_stable USING (unique_id)").to_arrow_table()
    with store.id_table(warehouse, ids["unique_id"]) as held:
        kept = store.query_arrow(warehouse, f"""
            SELECT record_l AS unique_id_l, record_r AS unique_id_r, match_probability, basis FROM "{store.PAIRS}"
            WHERE basis = 'model' AND record_l IN (SELECT id FROM "{held}") AND record_r IN (SELECT id FROM "{held}")
            """, _LINK_SCHEMA)
    con.register("jl_kept_arrow", kept)
    con.execute(f"CREATE TABLE {out_table} AS SELECT * FROM jl_kept_arrow k {_NOT_CANNOT}")
    con.unregister("jl_kept_arrow")


_NOT_CANNOT = """WHERE NOT EXISTS (SELECT 1 FROM jl_decided d WHERE d.decision = 'cannot_link'
                 AND ((d.unique_id_l = k.unique_id_l AND d.unique_id_r = k.unique_id_r)
                   OR (d.unique_id_l = k.unique_id_r AND d.unique_id_r = k.unique_id_l)))"""


def cluster(con: Any, warehouse: Warehouse, edges: str,
            cannot: Sequence[tuple[str, str]]) -> tuple[dict[str, str], tuple[int, int]]:
    """record id -> cluster id for the region's linkable records, as a full run's clustering gives them,
    and how many clusters were rebuilt for cannot-links and for sources' person ids (clusters.split).
    ``edges``: this run's links in the region (new model links, source person numbers, must-links)."""
    # A person none of whose records is a seed is still joined by its stored links: one node, named by its
    # first record (connected components name a cluster by its first record, so the names come out alike).
    con.execute(f"""CREATE TABLE jl_rep AS
                    SELECT r.unique_id, CASE WHEN p.person_id IS NULL OR b.person_id IS NOT NULL THEN r.unique_id
                                        ELSE min(r.unique_id) OVER (PARTITION BY p.person_id) END AS rep
                    FROM {TABLE} r SEMI JOIN jl_link_input USING (unique_id)
                    LEFT JOIN jl_previous p ON p.record_id = r.unique_id
                    LEFT JOIN jl_broken b ON b.person_id = p.person_id""")
    # inside persons with a seed, their stored links between unchanged records
    _stored_links_among(con, warehouse, f"""SELECT r.unique_id FROM {TABLE} r
                                           JOIN jl_previous p ON p.record_id = r.unique_id
                                           SEMI JOIN jl_broken USING (person_id)""", "jl_broken_links")
    con.execute(f"""CREATE TABLE jl_rep_edges AS
                    WITH e AS (SELECT unique_id_l, unique_id_r FROM {edges}
                               UNION ALL SELECT unique_id_l, unique_id_r FROM jl_broken_links
                               UNION ALL SELECT k.unique_id_l, k.unique_id_r FROM jl_cross k
                               SEMI JOIN jl_stable a ON a.unique_id = k.unique_id_l
                               SEMI JOIN jl_stable b ON b.unique_id = k.unique_id_r
                               {_NOT_CANNOT} AND k.basis = 'model')
                    SELECT DISTINCT a.rep AS unique_id_l, b.rep AS unique_id_r, 1.0 AS match_probability
                    FROM e JOIN jl_rep a ON a.unique_id = e.unique_id_l JOIN jl_rep b ON b.unique_id = e.unique_id_r
                    WHERE a.rep <> b.rep""")
    con.execute("CREATE TABLE jl_rep_nodes AS SELECT DISTINCT rep AS unique_id FROM jl_rep")
    of_rep = clusters.connected_components(con, "jl_rep_nodes", "jl_rep_edges")
    rows = con.execute("SELECT unique_id, rep FROM jl_rep").fetchall()
    cluster_of = {rec: of_rep[rep] for rec, rep in rows}

    def edges_among(records: list[str]) -> list[clusters.Edge]:
        # Splitting a cluster weighs every link inside it: read the stored ones back too.
        con.register("jl_bad_arrow", pa.table({"unique_id": pa.array(records, pa.string())}))
        con.execute("CREATE OR REPLACE TABLE jl_bad AS SELECT * FROM jl_bad_arrow")
        con.unregister("jl_bad_arrow")
        con.execute("DROP TABLE IF EXISTS jl_bad_links")  # split may ask twice
        _stored_links_among(con, warehouse, "SELECT unique_id FROM jl_bad", "jl_bad_links")
        return con.execute(f"""
            WITH e AS (SELECT unique_id_l, unique_id_r, match_probability, basis = 'model' FROM jl_bad_links
                       UNION ALL SELECT unique_id_l, unique_id_r, match_probability, basis = 'model' FROM {edges})
            SELECT * FROM e SEMI JOIN jl_bad a ON a.unique_id = e.unique_id_l
            SEMI JOIN jl_bad b ON b.unique_id = e.unique_id_r
            ORDER BY match_probability DESC, unique_id_l, unique_id_r""").fetchall()

    return cluster_of, clusters.split(con, cluster_of, "jl_link_input", cannot, edges_among)


def previous_ids(con: Any) -> dict[str, str]:
    """record id -> stored person id, for the region's records and the records gone (the only ones whose
    person can change)."""
    rows = con.execute(f"""SELECT record_id, person_id FROM jl_previous SEMI JOIN {TABLE} r
                           ON r.unique_id = jl_previous.record_id
                           UNION ALL SELECT record_id, person_id FROM jl_gone""").fetchall()
    return dict(rows)


def combine_ids(con: Any, region_ids: pa.Table, out_table: str) -> None:
    """Every record's person id into ``out_table``: the region's new ones (``region_ids``: unique_id,
    person_id), everyone else's as stored."""
    con.register("jl_region_ids_arrow", region_ids)
    con.execute(f"""CREATE TABLE {out_table} AS
                    SELECT r.unique_id, coalesce(g.person_id, p.person_id) AS person_id FROM jl_records r
                    LEFT JOIN jl_region_ids_arrow g USING (unique_id)
                    LEFT JOIN jl_previous p ON p.record_id = r.unique_id""")
    con.unregister("jl_region_ids_arrow")


#: The engine's table of the links an incremental run writes (the shape of ``jl_edges``).
LINKS_OUT = "jl_links_out"


@dataclass
class Changes:
    """What an incremental run rewrites in the stored index: the index rows that differ, the records gone,
    the records whose model links are replaced (new, changed, gone), and the stored links not made by the
    model that no longer stand (record_l, record_r, basis). The links to add are in :data:`LINKS_OUT`."""

    index_rows: pa.Table
    index_gone: list[str]
    rescored: pa.Array
    stale_links: pa.Table


def changes(con: Any, warehouse: Warehouse, ids_table: str, edges: str) -> Changes:
    """The index rows of the region that differ from the stored ones (person, fingerprint, linkability, or
    new), the records gone, and the links to replace: every model link of a changed record, and those of
    the region's other links (``edges``: the run's links in the region) that differ from the stored ones."""
    rows = con.execute(f"""
        SELECT r.unique_id AS record_id, i.person_id, r.source, r.entity, r.linkable, r.fingerprint
        FROM {TABLE} g JOIN jl_records r USING (unique_id) JOIN {ids_table} i USING (unique_id)
        LEFT JOIN jl_previous p ON p.record_id = r.unique_id
        WHERE p.record_id IS NULL OR p.person_id IS DISTINCT FROM i.person_id
           OR p.fingerprint IS DISTINCT FROM r.fingerprint OR p.linkable IS DISTINCT FROM r.linkable
        ORDER BY r.unique_id""").to_arrow_table()
    gone = [r for (r,) in con.execute("SELECT record_id FROM jl_gone ORDER BY 1").fetchall()]
    rescored = con.execute(f"SELECT unique_id FROM {CHANGED}").to_arrow_table()
    # a source's person number and a must-link join records of the region (or gone) on both sides
    relinked = con.execute(f"SELECT unique_id FROM {TABLE} UNION ALL SELECT record_id FROM jl_gone").to_arrow_table()
    with store.id_table(warehouse, relinked["unique_id"]) as held:
        stored = store.query_arrow(warehouse, f"""
            SELECT record_l AS unique_id_l, record_r AS unique_id_r, basis FROM "{store.PAIRS}"
            WHERE basis <> 'model' AND record_l IN (SELECT id FROM "{held}")""", _KEY_SCHEMA)
    con.register("jl_stored_arrow", stored)
    same = "x.unique_id_l = y.unique_id_l AND x.unique_id_r = y.unique_id_r AND x.basis = y.basis"
    con.execute(f"""CREATE TABLE {LINKS_OUT} AS SELECT * FROM {edges} WHERE basis = 'model'
                    UNION ALL SELECT * FROM {edges} y WHERE basis <> 'model'
                    AND NOT EXISTS (SELECT 1 FROM jl_stored_arrow x WHERE {same})""")
    stale = con.execute(f"""SELECT unique_id_l AS record_l, unique_id_r AS record_r, basis FROM jl_stored_arrow y
                            WHERE NOT EXISTS (SELECT 1 FROM {edges} x WHERE {same})""").to_arrow_table()
    con.unregister("jl_stored_arrow")
    return Changes(rows, gone, rescored["unique_id"], stale)
