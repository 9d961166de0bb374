"""Anonymise a dataset by its policy: resolve, prepare, search, release, and measure the release itself.

The release holds the quasi-identifiers at the chosen levels (Generaliser labels only), the sensitive
attributes and kept columns as recorded, and no record of a class that still violates the targets; its rows
are sorted by their values, so the order of the source (e.g. by date) says nothing. k, l and t are measured
again on the released rows with :mod:`justicelab.privacy.risk`, independently of the search's own counts.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from justicelab.ingest.sql import ident, literal
from justicelab.privacy.anonymize.attributes import Plan, check_levels, resolve
from justicelab.privacy.anonymize.errors import AnonymizeError
from justicelab.privacy.anonymize.evaluate import CELLS, CLASSES, Evaluator, NodeResult
from justicelab.privacy.anonymize.local import CLS, FINAL, LocalRecoder, LocalResult
from justicelab.privacy.anonymize.policy import Policy
from justicelab.privacy.anonymize.prepare import BASE, KEY, PREFIX, Prepared, prepare
from justicelab.privacy.anonymize.search import Progress, SearchResult, search
from justicelab.privacy.risk import DEFAULT_THRESHOLD, Dataset, class_summary, diversity, prosecutor
from justicelab.warehouse import Generaliser

OUTPUT = PREFIX + "out"


@dataclass
class Anonymization:
    """One anonymisation: the chosen levels, what it cost, what the release achieves, and where it went."""

    plan: Plan
    dataset: str
    records: int
    suppressed: int
    levels: dict[str, str]  # per attribute its level ("mixed" under local recoding: see level_shares)
    chosen: NodeResult
    search: SearchResult | None  # the lattice search (global recoding)
    achieved: dict[str, Any]
    seconds: float
    local: LocalResult | None = None  # local recoding
    files: list[Path] = field(default_factory=list)
    table: pa.Table | None = None
    membership: pa.Table | None = None  # (record_key, released quasi-identifiers...) with membership=True

    @property
    def level_shares(self) -> dict[str, dict[str, float]]:
        """Per attribute, the share of released records at each level."""
        if self.local is not None:
            return self.local.level_shares
        return {label: {level: 1.0} for label, level in self.levels.items()}

    def _method(self) -> dict[str, Any]:
        if self.local is not None:
            return {"recoding": "local", "rounds": self.local.rounds, "splits": self.local.splits,
                    "recoding_seconds": round(self.local.seconds, 4), "total_seconds": round(self.seconds, 4)}
        assert self.search is not None
        return {"recoding": "global", "lattice_size": self.search.lattice_size, "evaluated": self.search.evaluated,
                "tagged_failing": self.search.tagged_failing, "bounded_out": self.search.bounded_out,
                "search_seconds": round(self.search.seconds, 4), "total_seconds": round(self.seconds, 4)}

    @property
    def released(self) -> int:
        return self.records - self.suppressed

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable report (written next to the release as JSON)."""
        plan, doc = self.plan, self.plan.policy.document
        return {
            "dataset": self.dataset,
            "tier": doc.tier,
            "policy": self.plan.policy.source,
            "where": plan.where,
            "targets": doc.targets.model_dump(),
            "metric": plan.metric,
            "records": self.records,
            "released": self.released,
            "suppressed": self.suppressed,
            "suppressed_share": self.suppressed / self.records,
            "levels": self.levels,
            "quasi_identifiers": [
                {"label": q.label, "column": q.column, "hierarchy": q.hierarchy, "level": self.levels[q.label],
                 "share_by_level": self.level_shares[q.label], "allowed_levels": list(q.levels),
                 "weight": q.weight} for q in plan.qi],
            "sensitive": [s.describe() for s in plan.sensitive],
            "information_loss": {
                "ncp": self.chosen.ncp, "discernibility": self.chosen.discernibility,
                "suppressed_share": self.suppressed / self.records,
            },
            "achieved": self.achieved,
            "search": self._method(),
            "jurisdiction": plan.merge.as_dict() if plan.merge else None,
            "columns": {"released": plan.output_columns, "dropped": list(plan.dropped)},
            "files": [str(f) for f in self.files],
        }

    def summary(self) -> list[dict[str, Any]]:
        """Rows for a terminal: each figure with what it means."""
        a = self.achieved
        rows = [
            {"figure": "records", "value": self.records, "meaning": "records the policy covers"},
            {"figure": "released", "value": self.released, "meaning": "records in the release"},
            {"figure": "suppressed", "value": self.suppressed,
             "meaning": f"records left out ({self.suppressed / self.records:.2%}; at most "
                        f"{self.plan.targets.max_suppression:.2%} allowed)"},
            {"figure": "k achieved", "value": a["k"], "meaning": f"smallest class of the release (target "
                                                                 f"{self.plan.targets.k})"},
        ]
        for attr, m in a.get("sensitive", {}).items():
            rows.append({"figure": f"l ({attr})", "value": m["l_diversity"],
                         "meaning": f"distinct values in the least diverse class; entropy l "
                                    f"{m['entropy_l_diversity']:.3f}"})
            rows.append({"figure": f"t ({attr})", "value": m["t_closeness"],
                         "meaning": f"largest {m['distance']} EMD of a class from the release"})
        rows += [
            {"figure": "NCP", "value": self.chosen.ncp, "meaning": "normalised certainty penalty: 0 = as recorded, "
                                                                   "1 = nothing left (suppressed records count 1)"},
            {"figure": "discernibility", "value": self.chosen.discernibility,
             "meaning": "Σ class size² + suppressed × records"},
            *self._effort(),
            {"figure": "seconds", "value": round(self.seconds, 3), "meaning": "prepare, search, release, measure"},
        ]
        return rows


    def _effort(self) -> list[dict[str, Any]]:
        if self.local is not None:
            return [{"figure": "local recoding", "value": self.local.splits,
                     "meaning": f"class splits in {self.local.rounds} rounds, {self.local.classes} classes released"}]
        assert self.search is not None
        return [{"figure": "nodes evaluated", "value": self.search.evaluated,
                 "meaning": f"of {self.search.lattice_size} in the lattice ({self.search.tagged_failing} tagged "
                            f"failing, {self.search.bounded_out} ruled out by their bound)"}]


def anonymize(dataset: Dataset, policy: Policy, *, generaliser: Generaliser,
              populations: Mapping[str, int] | None = None, out: Path | None = None,
              progress: Progress | None = None, table: bool = False, membership: bool = False) -> Anonymization:
    """Anonymise ``dataset`` by ``policy``; with ``out``, write the release (CSV, Parquet) and its JSON report.

    ``populations`` (county -> residents) replaces the warehouse population table for the jurisdiction rule;
    ``table`` keeps the released rows on the result as an Arrow table; ``membership`` keeps, for the release
    ledger, each released record's key beside its released quasi-identifiers (``result.membership``).
    """
    started = time.perf_counter()
    plan = resolve(policy, dataset, generaliser, populations)
    check_levels(generaliser, plan.qi)
    prepared = prepare(dataset, plan, generaliser, carry_key=membership)
    evaluator = Evaluator(prepared)
    try:
        found: SearchResult | None = None
        local: LocalResult | None = None
        if plan.recoding == "local":
            recoder = LocalRecoder(prepared)
            local = recoder.run(progress)
            _release_local(prepared, recoder)
            best = NodeResult((), 0, True, local.classes, local.ncp, local.discernibility)
            levels = {q: next(iter(s)) if len(s) == 1 else "mixed" for q, s in local.level_shares.items()}
        else:
            found = search(evaluator, plan.metric, progress)
            if found.best is None:
                raise AnonymizeError(_no_solution(evaluator, found))
            best = found.best
            evaluator.materialise(best.node)
            _release(prepared, evaluator, best)
            levels = {q.label: q.levels[j] for q, j in zip(plan.qi, best.node, strict=True)}
        achieved = _measure(prepared)
        result = Anonymization(
            plan=plan, dataset=dataset.name, records=prepared.records, suppressed=best.suppressed, levels=levels,
            chosen=best, search=found, achieved=achieved, seconds=0.0, local=local)
        released = f"SELECT * EXCLUDE ({KEY}) FROM {OUTPUT}" if membership else f"SELECT * FROM {OUTPUT}"
        if table:
            result.table = prepared.con.execute(released).to_arrow_table()
        if membership:
            labels = ", ".join(ident(q.label) for q in plan.qi)
            result.membership = prepared.con.execute(
                f"SELECT {KEY} AS record_key, {labels} FROM {OUTPUT}").to_arrow_table()
        result.seconds = time.perf_counter() - started
        if out is not None:
            result.files = _write(prepared.con, result, out, released)
        return result
    finally:
        evaluator.drop()
        prepared.drop()
        for name in (OUTPUT, CLASSES, CELLS, FINAL):
            with contextlib.suppress(duckdb.Error):
                prepared.con.execute(f"DROP TABLE IF EXISTS {name}")


def _no_solution(evaluator: Evaluator, found: SearchResult) -> str:
    t = evaluator.targets
    top = tuple(len(q.levels) - 1 for q in evaluator.p.qi)
    need = found.results[top].suppressed if top in found.results else evaluator.evaluate(top).suppressed
    wanted = [f"k={t.k}"] + ([f"{t.l_kind} l={t.l:g}"] if t.l is not None else []) + (
        [f"t={t.t:g}"] if t.t is not None else [])
    return (f"no generalisation allowed by the policy meets {', '.join(wanted)} with at most "
            f"{evaluator.max_suppressed} of {evaluator.p.records} records suppressed "
            f"(max_suppression {t.max_suppression:g}): even the coarsest levels leave {need} records in classes "
            "that violate the targets. Allow coarser levels (max_level), more suppression, or lower targets.")


def _release(p: Prepared, ev: Evaluator, best: NodeResult) -> None:
    """The released rows, ordered by their released values (codes sort as their labels do)."""
    keys = ev.keys(best.node)
    cols, joins = [], []
    for i, (q, j) in enumerate(zip(p.qi, best.node, strict=True)):
        column = p.column(i, j)
        if column is None:
            cols.append(f"CAST(NULL AS VARCHAR) AS {ident(q.label)}")
            continue
        joins.append(f"LEFT JOIN (SELECT code, label FROM {p.labels(i)} WHERE level = {j}) x{i} "
                     f"ON x{i}.code = b.{column}")
        cols.append(f"x{i}.label AS {ident(q.label)}")
    cols += [f"b._s{j} AS {ident(s.label)}" for j, s in enumerate(p.plan.sensitive)]
    cols += [f"b._k{m} AS {ident(c)}" for m, c in enumerate(p.plan.keep)]
    cols += [f"b.{KEY}"] if p.carry_key else []
    order = [f"b.{k}" for k in keys] + [f"b.s{j}" for j in range(len(p.sensitive))]
    order += [f"b._k{m}" for m in range(len(p.plan.keep))]
    p.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {OUTPUT} AS
        SELECT {", ".join(cols)}
        FROM {BASE} b JOIN {CLASSES} c USING ({", ".join(keys)})
        {" ".join(joins)}
        WHERE NOT c.bad
        ORDER BY {", ".join(order)}""")


def _release_local(p: Prepared, recoder: LocalRecoder) -> None:
    """Every record at its class's levels, ordered by class and values."""
    cols = [f"{sql} AS {ident(q.label)}" for sql, q in zip(recoder.release_columns(), p.qi, strict=True)]
    cols += [f"_s{j} AS {ident(s.label)}" for j, s in enumerate(p.plan.sensitive)]
    cols += [f"_k{m} AS {ident(c)}" for m, c in enumerate(p.plan.keep)]
    cols += [KEY] if p.carry_key else []
    order = ["f._K", *(f"s{j}" for j in range(len(p.sensitive))), *(f"_k{m}" for m in range(len(p.plan.keep)))]
    p.con.execute(f"CREATE OR REPLACE TEMP TABLE {OUTPUT} AS SELECT {', '.join(cols)} FROM {BASE} b "
                  f"JOIN {FINAL} f ON f._K = b.{CLS} ORDER BY {', '.join(order)}")


def _measure(p: Prepared) -> dict[str, Any]:
    """k, l, t and prosecutor risk of the released rows, measured by privacy.risk."""
    labels = [q.label for q in p.qi]
    classes = class_summary(p.con, OUTPUT, labels)
    risk = prosecutor(classes, DEFAULT_THRESHOLD)
    out: dict[str, Any] = {
        "k": classes.k, "classes": classes.classes, "sample_uniqueness": classes.sample_uniqueness,
        "prosecutor_risk_highest": risk.highest, "prosecutor_risk_average": risk.average,
        "records_in_classes_below_11": classes.records_below(11),
    }
    if p.sensitive:
        measures = diversity(p.con, OUTPUT, labels, [s.label for s in p.sensitive],
                             ordered=[s.label for s in p.sensitive if s.ordered],
                             categorical=[s.label for s in p.sensitive if not s.ordered])
        out["sensitive"] = {m.attribute: {"l_diversity": m.l_diversity, "entropy_l_diversity": m.entropy_l_diversity,
                                          "t_closeness": m.t_closeness, "distance": m.distance} for m in measures}
    return out


def _write(con: duckdb.DuckDBPyConnection, result: Anonymization, out: Path, released: str) -> list[Path]:
    """The release as CSV and Parquet, and its report as JSON, in ``out``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnonymizeError(f"cannot create the output folder {out}: {exc.strerror}") from None
    stem = result.plan.policy.document.dataset
    csv, parquet, report = out / f"{stem}.csv", out / f"{stem}.parquet", out / f"{stem}.anonymization.json"
    con.execute(f"COPY ({released}) TO {literal(str(csv))} (FORMAT csv, HEADER)")
    con.execute(f"COPY ({released}) TO {literal(str(parquet))} (FORMAT parquet)")
    result.files = [csv, parquet, report]
    report.write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n",
                      encoding="utf-8")
    return result.files

