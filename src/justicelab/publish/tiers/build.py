"""``release build``: one canonical dataset -> the release of one tier, checked, described and recorded.

A release folder holds ``data/`` (the record file and the count tables, CSV and Parquet for records),
``datapackage.json`` (the data dictionary, from the standard), ``metadata.json`` (what was generalised,
suppressed and why; k, l and risk achieved; the joint check with earlier releases; the DP budget) and
``README.md`` (the methodology note, for people). The folder appears whole or not at all, and the release
ledger records it with what each file told its readers, so the next release is checked together with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from justicelab.gate import GranteeKey, Pseudonymiser
from justicelab.privacy.anonymize import Anonymization, anonymize
from justicelab.privacy.dp import budget
from justicelab.privacy.releases import (
    Artifact,
    DifferencingReport,
    ReleaseEntry,
    ReleaseError,
    audience_of,
    check,
    earlier_artifacts,
    next_name,
    record,
    records_artifact,
)
from justicelab.privacy.risk import Dataset, assess
from justicelab.publish.tiers.dictionary import field_entry, package, resource
from justicelab.publish.tiers.methodology import methodology_note
from justicelab.publish.tiers.policy import ReleasePolicy
from justicelab.publish.tiers.tables import BuiltTable, build_table
from justicelab.warehouse import SYSTEM_COLUMNS, Generaliser, Warehouse

#: Rounds of extra suppression tried when releases together would reveal a small count.
FIX_ROUNDS = 10
RECORD_PSEUDONYM = "record_pseudonym"

Progress = Callable[[str], None]


@dataclass
class BuiltRelease:
    entry: ReleaseEntry
    folder: Path
    metadata: dict[str, Any]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_csv(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def _risk_as_held(dataset: Dataset, policy: ReleasePolicy, generaliser: Generaliser) -> dict[str, Any]:
    doc = policy.document
    report = assess(dataset, ",".join(doc.risk.qi), ",".join(doc.risk.sensitive) or None, generaliser=generaliser,
                    where=doc.where, top=0)
    c = report.classes
    return {"quasi_identifiers": [a.describe() for a in report.qi], "records": c.records, "k": c.k,
            "classes": c.classes, "sample_uniqueness": c.sample_uniqueness,
            "records_in_classes_below_11": c.records_below(11),
            "prosecutor_risk_highest": report.prosecutor.highest, "prosecutor_risk_average": report.prosecutor.average}


def _with_pseudonyms(rows: pa.Table, keys: pa.ChunkedArray, key: GranteeKey, domain: str) -> pa.Table:
    """``rows`` with the grantee's keyed pseudonym of each record's key (computed in DuckDB, as the gate does)."""
    con = ibis.duckdb.connect()
    try:
        t = ibis.memtable(pa.table({"k": keys}))
        named = t.select(p=Pseudonymiser(key, "duckdb").expr(t.k, domain))
        pseudonyms = con.to_pyarrow(named).column("p")
    finally:
        con.disconnect()
    return rows.add_column(0, RECORD_PSEUDONYM, pseudonyms)


def _records(dataset: Dataset, policy: ReleasePolicy, tier: str, generaliser: Generaliser, name: str,
             grantee_key: GranteeKey | None) -> tuple[pa.Table, Artifact | None, dict[str, Any], dict[str, str]]:
    """The tier's record file, its artifact for the joint check, its report and per-column notes."""
    spec = policy.tier(tier)
    anon = policy.anonymization(tier)
    if anon is None:  # internal, as read through the gate
        where = f" WHERE {policy.document.where}" if policy.document.where else ""
        rows = dataset.con.execute(f"SELECT * FROM {dataset.relation}{where}").to_arrow_table()
        keep = [c for c in rows.column_names if c not in SYSTEM_COLUMNS or c == "_record_id"]
        return rows.select(keep), None, {"method": "as read through the gate", "records": rows.num_rows}, {}
    result: Anonymization = anonymize(dataset, anon, generaliser=generaliser, table=True, membership=True)
    assert result.table is not None and result.membership is not None
    rows = result.table
    if spec.pseudonyms:
        if grantee_key is None or not dataset.key:
            raise ReleaseError("a researcher release with pseudonyms needs the grantee's key and a record key")
        rows = _with_pseudonyms(rows, result.membership.column("record_key"), grantee_key, dataset.key)
    labels = [q.label for q in result.plan.qi]
    artifact = records_artifact(name, policy.document.dataset, result.membership, labels)
    notes = {q.label: _level_note(result.levels[q.label]) for q in result.plan.qi}
    if spec.pseudonyms:
        notes[RECORD_PSEUDONYM] = ("A pseudonym of the record, keyed to this release's grantee: it equals what the "
                                   "gate shows the same grantee and cannot be joined with another grantee's files.")
    report = result.as_dict()
    report.pop("files", None)
    return rows, artifact, report, notes


def _level_note(level: str) -> str:
    if level == "suppressed":
        return "Left blank in this release: no level the policy allows made it safe to show."
    if level == "recorded":
        return "Released as recorded."
    return f"Released at the {level.replace('_', ' ')} level."


def _joint_check(wh: Warehouse, dataset: str, audience: str, records: Artifact | None, tables: list[BuiltTable],
                 name: str, threshold: int, progress: Progress | None) -> DifferencingReport | None:
    """Check the new files with every earlier release the audience holds; hide more table cells until no small
    count can be narrowed, or refuse."""
    earlier = earlier_artifacts(wh, dataset, audience)
    fixed: dict[str, set[int]] = {t.spec.name: set() for t in tables}
    for _ in range(FIX_ROUNDS + 1):
        new = ([records] if records is not None else []) + [t.artifact(name) for t in tables]
        together = earlier + new
        if len(together) < 2:
            return None
        if progress:
            progress(f"checking with {len(earlier)} earlier release file(s)")
        report = check(together, threshold)
        if report.safe:
            return report
        first_new = len(earlier) + (1 if records is not None else 0)
        added = False
        for exposure in report.exposures:
            for i, cell in exposure.cells:
                if i >= first_new:
                    table = tables[i - first_new]
                    chosen = table.to_hide(cell, fixed[table.spec.name])
                    if chosen is not None:
                        fixed[table.spec.name].add(chosen)
                        added = True
        if not added:
            break
        for table in tables:
            if fixed[table.spec.name] and table.result is not None:
                table.resuppress(fixed[table.spec.name])
    lines = "\n".join(f"  {e.describe()}" for e in report.exposures[:10])
    more = f"\n  ... and {len(report.exposures) - 10} more" if len(report.exposures) > 10 else ""
    raise ReleaseError(f"this release together with earlier releases held by {audience} would let a reader narrow "
                       f"{len(report.exposures)} small count(s), and hiding more cells of its tables did not "
                       f"stop it:\n{lines}{more}\nChange the policy (coarser categories, fewer tables) or release "
                       "to a different audience.")


def build_release(wh: Warehouse, dataset: Dataset, policy: ReleasePolicy, tier: str, *, generaliser: Generaliser,
                  built_by: str, purpose: str, releases_dir: Path, grantee: str | None = None,
                  grantee_key: GranteeKey | None = None, progress: Progress | None = None) -> BuiltRelease:
    """Build, check, write and record the ``tier`` release of ``dataset`` (read through the gate by the caller)."""
    doc = policy.document
    spec = policy.tier(tier)
    if tier == "researcher" and not grantee:
        raise ReleaseError("a researcher release is made for one researcher: name them (release build --for USER)")
    if tier != "researcher" and grantee:
        raise ReleaseError(f"a {tier} release is not made for one user; --for is for the researcher tier")
    audience = audience_of(tier, grantee)
    name = next_name(wh, doc.dataset, tier, grantee)
    say = progress or (lambda _: None)
    say("measuring the risk of the data as held")
    as_held = _risk_as_held(dataset, policy, generaliser)
    say("building the record file" if spec.records else "building the tables")
    records: pa.Table | None = None
    artifact: Artifact | None = None
    records_report: dict[str, Any] = {}
    notes: dict[str, str] = {}
    if spec.records is not None:
        records, artifact, records_report, notes = _records(dataset, policy, tier, generaliser, name, grantee_key)
    tables = []
    for table_spec in spec.tables:
        say(f"counting and suppressing {table_spec.name}")
        tables.append(build_table(dataset, table_spec, generaliser, where=doc.where))
    threshold = max([s.threshold for s in spec.tables] + [11])
    joint = _joint_check(wh, doc.dataset, audience, artifact, tables, name, threshold, say)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    releases_dir.mkdir(parents=True, exist_ok=True)
    final = releases_dir / name
    if final.exists():
        raise ReleaseError(f"{final} already exists: a release folder is never overwritten")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=releases_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; a release folder is meant to be read
    try:
        (staging / "data").mkdir()
        resources, files = [], []
        if records is not None:
            path = Path("data") / f"{doc.dataset}.csv"
            _write_csv(records, staging / path)
            pq.write_table(records, staging / "data" / f"{doc.dataset}.parquet")
            fields = [field_entry(f.name, f.type, dataset.entity, notes.get(f.name)) for f in records.schema]
            resources.append(resource(doc.dataset, path, records, fields, spec.description, _sha256(staging / path)))
        for t in tables:
            path = Path("data") / f"{t.spec.name}.csv"
            published = t.published()
            _write_csv(published, staging / path)
            fields = [field_entry(f.name, f.type, dataset.entity, None) for f in published.schema]
            fields[-2]["description"] = "Number of records; empty where suppressed (see status)."
            fields[-1]["description"] = "published, or why the count is suppressed."
            resources.append(resource(t.spec.name, path, published, fields,
                                      f"Records counted by {', '.join(t.spec.by)}, with totals.",
                                      _sha256(staging / path)))
        for r in resources:
            files.append({"path": r["path"], "sha256": r["hash"].removeprefix("sha256:"), "rows": r["rows"]})
        dp = budget(wh, doc.dataset)
        metadata: dict[str, Any] = {
            "release": name, "dataset": doc.dataset, "title": doc.title, "publisher": doc.publisher,
            "description": doc.description, "tier": tier, "audience": audience, "tier_description": spec.description,
            "built_at": created.isoformat(), "built_by": built_by, "purpose": purpose,
            "policy": {"file": str(policy.path) if policy.path else None, "sha256": policy.sha256},
            "where": doc.where, "risk_as_held": as_held,
            "records": records_report or None,
            "tables": [{"name": t.spec.name, "by": t.spec.by, "threshold": t.spec.threshold,
                        **(t.result.summary() if t.result else {"cells": t.table.size, "suppressed": 0,
                                                                "verified": "internal: every count published"})}
                       for t in tables],
            "joint_check": joint.as_dict() if joint else {
                "safe": True, "note": "no earlier release held by this audience" if audience != "internal"
                else "internal releases are not checked against others"},
            "dp_budget": {"epsilon": dp.epsilon, "delta": dp.delta, "spent_epsilon": dp.spent_epsilon,
                          "spent_delta": dp.spent_delta, "dp_releases": dp.releases},
            "files": files,
        }
        (staging / "datapackage.json").write_text(json.dumps(
            package(name, doc.title, doc.description, doc.publisher, resources, created.isoformat()),
            indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False, default=_plain)
                                               + "\n", encoding="utf-8")
        (staging / "README.md").write_text(methodology_note(metadata), encoding="utf-8")
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    artifacts = ([artifact] if artifact is not None else []) + [t.artifact(name) for t in tables]
    try:
        entry = record(wh, name=name, dataset=doc.dataset, tier=tier, audience=audience, built_by=built_by,
                       purpose=purpose, policy_sha256=policy.sha256, folder=str(final), metadata=metadata,
                       artifacts=artifacts)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(final)
        raise
    return BuiltRelease(entry, final, metadata)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
