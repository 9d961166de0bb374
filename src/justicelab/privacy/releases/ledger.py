"""The release ledger: every release of every dataset, and what each of its files told its readers.

``release_ledger``     one row per release: name, dataset, tier, audience, who built it, when, for what purpose,
                       the policy's SHA-256, the folder and the release's metadata (JSON)
``release_cells``      per release file, each cell's true value and whether it was published (never published
                       itself: the warehouse is internal)
``release_relations``  per release file, which cells total which (a margin and its parts)
``release_members``    per release file, which record was counted in which innermost cell

Rows are only ever appended. A new release is checked against the earlier releases its audience may hold
(:func:`earlier_artifacts`): the public holds every public release; a researcher also their own releases.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from justicelab.errors import JusticelabError
from justicelab.privacy.releases.artifact import Artifact
from justicelab.warehouse import Warehouse

LEDGER = "release_ledger"
CELLS = "release_cells"
RELATIONS = "release_relations"
MEMBERS = "release_members"
PUBLIC = "public"

SCHEMAS: dict[str, ibis.Schema] = {
    LEDGER: ibis.schema({
        "release_id": "int64", "name": "string", "dataset": "string", "tier": "string", "audience": "string",
        "built_at": "timestamp", "built_by": "string", "purpose": "string", "policy_sha256": "string",
        "folder": "string", "metadata": "string"}),
    CELLS: ibis.schema({"release_id": "int64", "artifact": "string", "kind": "string", "cell": "int64",
                        "label": "string", "value": "float64", "published": "boolean"}),
    RELATIONS: ibis.schema({"release_id": "int64", "artifact": "string", "relation": "int64", "total": "int64",
                            "part": "int64"}),
    MEMBERS: ibis.schema({"release_id": "int64", "artifact": "string", "record_key": "string", "cell": "int64"}),
}


class ReleaseError(JusticelabError):
    """A release that cannot be built, found or recorded."""


@dataclass(frozen=True)
class ReleaseEntry:
    """One row of the release ledger."""

    release_id: int
    name: str
    dataset: str
    tier: str
    audience: str
    built_at: dt.datetime
    built_by: str
    purpose: str
    policy_sha256: str
    folder: str
    metadata: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The row for ``release list``."""
        return {"name": self.name, "dataset": self.dataset, "tier": self.tier, "audience": self.audience,
                "built_at": self.built_at.isoformat(timespec="seconds"), "built_by": self.built_by,
                "files": len(self.metadata.get("files", [])), "folder": self.folder}


def ensure_release_tables(wh: Warehouse) -> None:
    for name, schema in SCHEMAS.items():
        wh.ensure_table(name, schema)


def audience_of(tier: str, grantee: str | None) -> str:
    """Who holds a release: ``public``, ``researcher:carol``, ``internal``."""
    return f"{tier}:{grantee}" if grantee else tier


def _entry(row: dict[str, Any]) -> ReleaseEntry:
    return ReleaseEntry(**{**row, "metadata": json.loads(row["metadata"] or "{}")})


def releases(wh: Warehouse, dataset: str | None = None) -> list[ReleaseEntry]:
    """Every release (of one dataset), oldest first."""
    ensure_release_tables(wh)
    t = wh.ibis.table(LEDGER)
    if dataset is not None:
        t = t.filter(t.dataset == dataset)
    return [_entry(r) for r in t.order_by("release_id").to_pyarrow().to_pylist()]


def release(wh: Warehouse, name: str) -> ReleaseEntry:
    """The release called ``name`` (ReleaseError naming the known ones if there is none)."""
    found = [r for r in releases(wh) if r.name == name]
    if not found:
        known = ", ".join(r.name for r in releases(wh)[-10:]) or "none yet (release build makes one)"
        raise ReleaseError(f"no release named {name!r}; latest releases: {known}")
    return found[-1]


def next_name(wh: Warehouse, dataset: str, tier: str, grantee: str | None) -> str:
    """``custody_death-public-3``: the dataset, the audience and a number counting its releases."""
    audience = audience_of(tier, grantee)
    n = sum(1 for r in releases(wh, dataset) if r.audience == audience) + 1
    return f"{dataset}-{audience.replace(':', '-')}-{n}"


def visible_to(audience: str) -> set[str] | None:
    """The audiences whose releases a reader of ``audience`` also holds (None: internal, not checked)."""
    if audience == PUBLIC:
        return {PUBLIC}
    if audience.startswith("researcher:"):
        return {PUBLIC, audience}
    return None


def earlier_artifacts(wh: Warehouse, dataset: str, audience: str) -> list[Artifact]:
    """The files of earlier releases of ``dataset`` that readers of ``audience`` may hold, as artifacts."""
    holds = visible_to(audience)
    if holds is None:
        return []
    entries = [r for r in releases(wh, dataset) if r.audience in holds]
    if not entries:
        return []
    ids = [r.release_id for r in entries]
    names = {r.release_id: r.name for r in entries}

    def rows(table: str, order: Sequence[str]) -> list[dict[str, Any]]:
        t = wh.ibis.table(table)
        return list(t.filter(t.release_id.isin(ids)).order_by(list(order)).to_pyarrow().to_pylist())

    rels: dict[tuple[int, str], dict[int, tuple[int, list[int]]]] = {}
    for r in rows(RELATIONS, ("release_id", "artifact", "relation", "part")):
        rels.setdefault((r["release_id"], r["artifact"]), {}).setdefault(r["relation"], (r["total"], []))[1].append(
            r["part"])
    m = wh.ibis.table(MEMBERS)
    out = []
    for (rid, artifact), group in _groups(rows(CELLS, ("release_id", "artifact", "cell"))).items():
        members = m.filter((m.release_id == rid) & (m.artifact == artifact)).select("record_key", "cell").to_pyarrow()
        relations = rels.get((rid, artifact), {})
        out.append(Artifact(names[rid], artifact, group[0]["kind"], np.array([g["value"] for g in group]),
                            np.array([g["published"] for g in group], dtype=bool), [g["label"] for g in group],
                            members, [(t, np.array(p, dtype=np.int64)) for t, p in relations.values()]))
    return out


def _groups(rows: list[dict[str, Any]]) -> dict[tuple[int, str], list[dict[str, Any]]]:
    out: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["release_id"], r["artifact"]), []).append(r)
    return out


def record(wh: Warehouse, *, name: str, dataset: str, tier: str, audience: str, built_by: str, purpose: str,
           policy_sha256: str, folder: str, metadata: dict[str, Any], artifacts: Sequence[Artifact]) -> ReleaseEntry:
    """Append the release and what each of its files told its readers, in one transaction."""
    ensure_release_tables(wh)
    with wh.transaction():
        release_id = int(wh.scalar(f"SELECT coalesce(max(release_id), 0) FROM {LEDGER}") or 0) + 1
        built_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        row = {"release_id": release_id, "name": name, "dataset": dataset, "tier": tier, "audience": audience,
               "built_at": built_at, "built_by": built_by, "purpose": purpose, "policy_sha256": policy_sha256,
               "folder": folder, "metadata": json.dumps(metadata, default=str)}
        _append(wh, LEDGER, pa.Table.from_pylist([row], schema=SCHEMAS[LEDGER].to_pyarrow()))
        for a in artifacts:
            n = a.values.size
            _append(wh, CELLS, pa.table({
                "release_id": pa.array(np.full(n, release_id), pa.int64()), "artifact": pa.array([a.name] * n),
                "kind": pa.array([a.kind] * n), "cell": pa.array(np.arange(n), pa.int64()),
                "label": pa.array(a.labels, pa.string()), "value": pa.array(a.values, pa.float64()),
                "published": pa.array(a.published, pa.bool_())}))
            totals, parts, index = [], [], []
            for j, (t, ps) in enumerate(a.relations):
                totals += [t] * len(ps)
                parts += [int(p) for p in ps]
                index += [j] * len(ps)
            m = len(parts)
            _append(wh, RELATIONS, pa.table({
                "release_id": pa.array(np.full(m, release_id), pa.int64()), "artifact": pa.array([a.name] * m),
                "relation": pa.array(index, pa.int64()), "total": pa.array(totals, pa.int64()),
                "part": pa.array(parts, pa.int64())}))
            k = a.members.num_rows
            _append(wh, MEMBERS, pa.table({
                "release_id": pa.array(np.full(k, release_id), pa.int64()), "artifact": pa.array([a.name] * k),
                "record_key": a.members.column("record_key"), "cell": a.members.column("cell")}))
    return _entry({**row})


def _append(wh: Warehouse, table: str, rows: pa.Table) -> None:
    if rows.num_rows:
        wh.insert_arrow(table, rows.cast(SCHEMAS[table].to_pyarrow()))
