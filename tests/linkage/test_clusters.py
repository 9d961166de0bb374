"""Splitting clusters: reviewers' cannot-links, and two person ids of one source joined only through others."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from justicelab.linkage import clusters


def _engine(records: list[tuple[str, str, str | None]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("recs_arrow", pa.table({"unique_id": [r[0] for r in records], "source": [r[1] for r in records],
                                         "source_person_id": [r[2] for r in records]}))
    con.execute("CREATE TABLE recs AS SELECT * FROM recs_arrow")
    return con


def _split(con, cluster_of, edges, cannot=()):
    def among(records):
        keep = set(records)
        return sorted((e for e in edges if e[0] in keep and e[1] in keep), key=lambda e: (-e[2], e[0], e[1]))
    return clusters.split(con, cluster_of, "recs", list(cannot), among)


def test_two_jail_ids_joined_only_through_a_citation_are_kept_apart():
    # Two people with one common name: the jail knows them as 7 and 9; a citation (no id) resembles both.
    con = _engine([("j1", "jail", "jail:7"), ("j2", "jail", "jail:7"), ("j3", "jail", "jail:9"),
                   ("c1", "police", None)])
    edges = [("j1", "j2", 1.0, False), ("c1", "j1", 0.99, True), ("c1", "j3", 0.93, True)]
    cluster_of = dict.fromkeys(("j1", "j2", "j3", "c1"), "k")
    assert clusters.id_conflicts(con, cluster_of, "recs") == {
        "j1": ("jail", "jail:7"), "j2": ("jail", "jail:7"), "j3": ("jail", "jail:9")}
    assert _split(con, cluster_of, edges) == (0, 1)
    # the citation stays with the stronger link; the other jail id is a person of its own
    assert cluster_of["c1"] == cluster_of["j1"] == cluster_of["j2"] != cluster_of["j3"]


def test_a_person_with_two_record_numbers_linked_directly_stays_one():
    con = _engine([("e1", "hospital", "hospital:100"), ("e2", "hospital", "hospital:200"), ("s1", "shelter", None)])
    edges = [("e1", "e2", 0.97, True), ("e2", "s1", 0.95, True)]
    cluster_of = dict.fromkeys(("e1", "e2", "s1"), "k")
    assert _split(con, cluster_of, edges) == (0, 0)
    assert len(set(cluster_of.values())) == 1


def test_ids_of_different_sources_never_conflict_and_reviewers_decisions_are_counted_apart():
    con = _engine([("a", "jail", "jail:1"), ("b", "hospital", "hospital:1"), ("c", "police", None)])
    edges = [("a", "c", 0.99, True), ("b", "c", 0.95, True)]
    cluster_of = dict.fromkeys(("a", "b", "c"), "k")
    assert clusters.id_conflicts(con, cluster_of, "recs") == {}
    assert _split(con, cluster_of, edges, cannot=[("a", "b")]) == (1, 0)
    assert cluster_of["a"] == cluster_of["c"] != cluster_of["b"]


def test_three_ids_where_only_two_are_linked_directly():
    con = _engine([("x", "ed", "ed:1"), ("y", "ed", "ed:2"), ("z", "ed", "ed:3"), ("p", "police", None)])
    edges = [("x", "y", 0.98, True), ("y", "p", 0.97, True), ("p", "z", 0.96, True)]
    cluster_of = dict.fromkeys("xyzp", "k")
    cannot = clusters.id_cannot_links(clusters.id_conflicts(con, cluster_of, "recs"), cluster_of, edges)
    assert sorted(cannot) == [("x", "z"), ("y", "z")]
    _split(con, cluster_of, edges)
    assert cluster_of["x"] == cluster_of["y"] == cluster_of["p"] != cluster_of["z"]


def test_a_reviewers_must_link_holds_against_the_sources_ids():
    # The reviewer says the citation is the person the jail calls 9: the chain to jail id 7 stays cut, but
    # the must-link is honoured even though jail 9 and jail 7 are not linked directly.
    con = _engine([("j7", "jail", "jail:7"), ("j9", "jail", "jail:9"), ("c1", "police", None)])
    edges = [("c1", "j7", 0.99, True), ("c1", "j9", 1.0, False)]
    cluster_of = dict.fromkeys(("j7", "j9", "c1"), "k")
    assert _split(con, cluster_of, edges) == (0, 1)
    assert cluster_of["c1"] == cluster_of["j9"] != cluster_of["j7"]
