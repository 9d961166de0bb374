"""From accepted links to persons: clustering that honours reviewers, and person ids that survive re-runs.

Clustering is Splink's connected components over the accepted links. A cannot-link decision is a
constraint connected components cannot express, so a cluster that would hold both records of one is
rebuilt by adding its links strongest first and refusing any link that would join the two sides.

Person ids: each new cluster takes the previous id most of its records had, each previous id going to at
most one cluster (largest overlap first); clusters without one get a fresh id. What changed is returned
as history events: ``new``, ``merged`` (a cluster holding records of several previous persons), ``split``
(a previous person whose records now sit in several clusters) and ``retired`` (an id no cluster kept).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from splink.clustering import cluster_pairwise_predictions_at_threshold

from justicelab.linkage.model import connect

ID_PREFIX = "PER-"


def next_number(ids: Iterable[str | None]) -> int:
    """The number after the highest ``PER-`` id among ``ids``."""
    numbers = [int(p.removeprefix(ID_PREFIX)) for p in ids
               if p and p.startswith(ID_PREFIX) and p.removeprefix(ID_PREFIX).isdigit()]
    return max(numbers, default=0) + 1


def connected_components(con: Any, nodes: str, edges: str) -> dict[str, str]:
    """record id -> cluster id for the records in table ``nodes`` (column unique_id) joined by the rows of
    table ``edges`` (unique_id_l, unique_id_r, match_probability, all already accepted)."""
    db_api = connect(con)
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api=db_api,
        node_id_column_name="unique_id", edge_id_column_name_left="unique_id_l",
        edge_id_column_name_right="unique_id_r", threshold_match_probability=None)
    rows = con.execute(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}").fetchall()
    return {str(u): str(c) for u, c in rows}


def enforce_cannot_links(cluster_of: dict[str, str], edges: Iterable[tuple[str, str, float]],
                         cannot: Iterable[tuple[str, str]]) -> int:
    """Rebuild, in place, every cluster holding both records of a cannot-link pair. Returns how many."""
    bad = {cluster_of[a] for a, b in cannot if a in cluster_of and b in cluster_of and cluster_of[a] == cluster_of[b]}
    if not bad:
        return 0
    forbidden: dict[str, set[str]] = defaultdict(set)
    for a, b in cannot:
        forbidden[a].add(b)
        forbidden[b].add(a)
    members: dict[str, list[str]] = defaultdict(list)
    for rec, c in cluster_of.items():
        if c in bad:
            members[c].append(rec)
    parent = {rec: rec for c in bad for rec in members[c]}
    group = {rec: {rec} for rec in parent}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    inside = sorted((e for e in edges if e[0] in parent and e[1] in parent), key=lambda e: -e[2])
    for a, b, _ in inside:
        ra, rb = root(a), root(b)
        if ra == rb or any(forbidden[x] & group[rb] for x in group[ra]):
            continue
        if len(group[ra]) < len(group[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        group[ra] |= group.pop(rb)
    for rec in parent:
        cluster_of[rec] = f"{cluster_of[rec]}/{root(rec)}"
    return len(bad)


@dataclass(frozen=True)
class Event:
    event: str
    person_id: str
    related: tuple[str, ...]
    records: int
    detail: str


def assign_person_ids(cluster_of: Mapping[str, str], previous: Mapping[str, str],
                      next_number: int) -> tuple[dict[str, str], list[Event]]:
    """cluster id -> person id, keeping previous ids where clusters continue them, and the events."""
    overlap: dict[tuple[str, str], int] = defaultdict(int)
    size: dict[str, int] = defaultdict(int)
    for rec, c in cluster_of.items():
        size[c] += 1
        old = previous.get(rec)
        if old is not None:
            overlap[(c, old)] += 1
    person_of: dict[str, str] = {}
    taken: set[str] = set()
    for (c, old), _n in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0])):
        if c not in person_of and old not in taken:
            person_of[c] = old
            taken.add(old)
    events: list[Event] = []
    for c in sorted(size):
        if c not in person_of:
            person_of[c] = f"{ID_PREFIX}{next_number:08d}"
            next_number += 1
    olds_in: dict[str, set[str]] = defaultdict(set)
    clusters_of_old: dict[str, set[str]] = defaultdict(set)
    for (c, old) in overlap:
        olds_in[c].add(old)
        clusters_of_old[old].add(person_of[c])
    for c in sorted(size):
        pid = person_of[c]
        if not olds_in[c]:
            events.append(Event("new", pid, (), size[c], "records not linked to anyone before"))
        elif len(olds_in[c]) > 1:
            others = tuple(sorted(olds_in[c] - {pid}))
            events.append(Event("merged", pid, others, size[c],
                                f"links now join the records of {', '.join(sorted(olds_in[c]))}"))
    for old in sorted(clusters_of_old):
        if len(clusters_of_old[old]) > 1:
            events.append(Event("split", old, tuple(sorted(clusters_of_old[old] - {old})),
                                sum(n for (c, o), n in overlap.items() if o == old),
                                f"records of {old} now belong to {len(clusters_of_old[old])} persons"))
    gone = sorted(set(previous.values()) - set(person_of.values()))
    for old in gone:
        into = sorted(clusters_of_old.get(old, set()))
        events.append(Event("retired", old, tuple(into), 0,
                            f"merged into {', '.join(into)}" if into else "its records no longer exist"))
    return person_of, events
