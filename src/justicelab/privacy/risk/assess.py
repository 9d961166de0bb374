"""One risk assessment of a dataset: every measure, each with what it means, and the riskiest records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from justicelab.ingest.sql import ident, literal
from justicelab.privacy.risk.dataset import Dataset
from justicelab.privacy.risk.measures import ClassSummary, RiskError, SensitiveMeasure, class_summary, diversity
from justicelab.privacy.risk.models import (
    JournalistRisk,
    ModelRisk,
    journalist,
    marketer_in_sample,
    prosecutor,
    record_risk_sql,
    riskiest,
)
from justicelab.privacy.risk.population import POPULATION_RELATION, Population, from_file, from_warehouse
from justicelab.privacy.risk.spec import Attribute, quasi_identifiers, sensitive_attributes
from justicelab.warehouse import Generaliser

BASE_RELATION = "_jl_risk_base"
#: A record is "at risk" when its risk exceeds 1/11: it sits in a class of fewer than 11 records, the
#: small-cell threshold the project's public tables use.
DEFAULT_THRESHOLD = 1 / 11
SIZE_BUCKETS = ((1, 1), (2, 2), (3, 4), (5, 10), (11, None))


@dataclass
class RiskReport:
    """Everything one assessment measured."""

    dataset: str
    records: int
    qi: list[Attribute]
    sensitive: list[Attribute]
    classes: ClassSummary
    diversity: list[SensitiveMeasure]
    threshold: float
    prosecutor: ModelRisk
    marketer_sample: float
    population: Population
    journalist: JournalistRisk | None
    top: list[dict[str, Any]] = field(default_factory=list)

    def size_buckets(self) -> list[dict[str, Any]]:
        """Classes and records by class size (1, 2, 3-4, 5-10, 11+)."""
        out = []
        for lo, hi in SIZE_BUCKETS:
            sizes = [(s, n) for s, n in self.classes.sizes if s >= lo and (hi is None or s <= hi)]
            label = f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")
            records = sum(s * n for s, n in sizes)
            out.append({"class_size": label, "classes": sum(n for _, n in sizes), "records": records,
                        "share_of_records": records / self.classes.records})
        return out

    def measures(self) -> list[dict[str, Any]]:
        """One row per measure: name, attribute, value and a one-line meaning."""
        c, p, t = self.classes, self.prosecutor, self.threshold
        rows: list[dict[str, Any]] = [
            _row("records", c.records, "records measured"),
            _row("equivalence classes", c.classes, "distinct combinations of the quasi-identifiers"),
            _row("k-anonymity", c.k, "size of the smallest class: every record shares its quasi-identifiers "
                 f"with at least {c.k - 1} other(s)"),
            _row("sample uniqueness", c.sample_uniqueness,
                 "share of records unique on the quasi-identifiers (a class of one)"),
            _row("prosecutor risk: highest", p.highest, "1/k: chance of re-identifying the most exposed record "
                 "for an attacker who knows the person is in the data"),
            _row("prosecutor risk: average", p.average, "average 1/class size over records"),
            _row("prosecutor risk: records at risk", p.share_at_risk,
                 f"share of records whose risk exceeds {t:.4g} (classes smaller than {_size(t)})"),
            _row("marketer risk (release as population)", self.marketer_sample,
                 "expected share of records re-identified by linking every record (classes / records)"),
        ]
        if self.journalist is not None:
            j = self.journalist
            note = (f"; {j.classes_without_population} class(es) had no population figure and count as their own "
                    "population" if j.classes_without_population else "")
            rows += [
                _row("journalist risk: highest", j.journalist.highest, "1/smallest population class: chance of "
                     f"finding a given resident in the release ({self.population.source}{note})"),
                _row("journalist risk: records at risk", j.journalist.share_at_risk,
                     f"share of records whose population class is smaller than {_size(t)}"),
                _row("marketer risk (population)", j.marketer, "expected share of records re-identified "
                     "against the population: mean of f/F"),
            ]
        else:
            rows.append(_row("journalist risk", None, f"not computed: {self.population.reason}"))
        for d in self.diversity:
            rows += [
                _row("l-diversity (distinct)", d.l_diversity, "fewest distinct values in a class: an attacker "
                     f"who finds the class learns one of at least {d.l_diversity}", d.attribute),
                _row("l-diversity (entropy)", d.entropy_l_diversity, "exp(lowest class entropy): the number of "
                     "equally likely values the least diverse class is worth", d.attribute),
                _row("t-closeness", d.t_closeness, f"largest distance ({d.distance} EMD) between a class's values "
                     "and the whole table's: what finding the class teaches", d.attribute),
            ]
        return rows

    def as_dict(self) -> dict[str, Any]:
        """The whole report, JSON-ready."""
        return {
            "dataset": self.dataset,
            "quasi_identifiers": [a.describe() for a in self.qi],
            "sensitive": [a.describe() for a in self.sensitive],
            "threshold": self.threshold,
            "measures": self.measures(),
            "class_sizes": self.size_buckets(),
            "riskiest_records": self.top,
        }


def _row(measure: str, value: Any, meaning: str, attribute: str = "") -> dict[str, Any]:
    return {"measure": measure, "attribute": attribute, "value": value, "meaning": meaning}


def _size(threshold: float) -> str:
    return f"{1 / threshold:.4g}" if threshold > 0 else "infinity"


def _base(dataset: Dataset, qi: Sequence[Attribute], sensitive: Sequence[Attribute], generaliser: Generaliser,
          where: str | None) -> None:
    labels = [a.label for a in [*qi, *sensitive]]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise RiskError(f"{', '.join(dupes)} named twice (a column is either a quasi-identifier or sensitive; "
                        "give another label with LABEL=NAME)")
    reserved = sorted({"_record", "record", "class_size", "prosecutor_risk", "population_class_size",
                       "journalist_risk"} & set(labels))
    if reserved:
        raise RiskError(f"{', '.join(reserved)} names a column of the risk listing: give it another label "
                        "with LABEL=NAME")
    key = f"CAST({ident(dataset.key)} AS VARCHAR)" if dataset.key else "CAST(row_number() OVER () AS VARCHAR)"
    cols = ", ".join(f"{a.sql(generaliser)} AS {ident(a.label)}" for a in [*qi, *sensitive])
    try:
        dataset.con.execute(f"CREATE OR REPLACE TEMP TABLE {BASE_RELATION} AS SELECT {key} AS _record, {cols} "
                            f"FROM {dataset.relation}" + (f" WHERE {where}" if where else ""))
    except duckdb.Error as exc:
        raise RiskError(f"{dataset.name}: cannot read the attributes asked for: {exc}") from None


def assess(dataset: Dataset, qi: str | Sequence[Attribute], sensitive: str | Sequence[Attribute] | None = None, *,
           generaliser: Generaliser, threshold: float = DEFAULT_THRESHOLD, where: str | None = None,
           population: Path | None = None, top: int = 10, date_field: str | None = None,
           records_out: Path | None = None) -> RiskReport:
    """Measure ``dataset`` on quasi-identifiers ``qi`` (and sensitive attributes): see :mod:`.spec` for the syntax.

    ``population`` is a file of population counts by the quasi-identifier labels; without it the warehouse
    population table is used where the quasi-identifiers map to it. ``records_out`` (.csv or .parquet)
    receives every record's risk.
    """
    if not 0 <= threshold <= 1:
        raise RiskError(f"the risk threshold is a probability between 0 and 1, not {threshold}")
    qis = quasi_identifiers(qi, dataset, generaliser, date_field) if isinstance(qi, str) else list(qi)
    sens = (sensitive_attributes(sensitive, dataset, generaliser, date_field) if isinstance(sensitive, str | None)
            else list(sensitive))
    con = dataset.con
    _base(dataset, qis, sens, generaliser, where)
    try:
        labels = [a.label for a in qis]
        classes = class_summary(con, BASE_RELATION, labels)
        measures = diversity(con, BASE_RELATION, labels, [a.label for a in sens],
                             ordered=[a.label for a in sens if a.distance == "ordered"],
                             categorical=[a.label for a in sens if a.distance == "categorical"])
        pop = from_file(dataset, qis, population) if population else from_warehouse(dataset, qis, generaliser)
        jr = journalist(con, BASE_RELATION, labels, pop.relation, threshold) if pop.relation else None
        if jr is not None and jr.classes_without_population == classes.classes:
            pop = Population(None, pop.source, f"no class of the release has a population figure in the {pop.source}"
                             " (labels differ, e.g. age groups; pass --population FILE with matching labels)")
            jr = None
        if records_out is not None:
            fmt = "parquet" if records_out.suffix.lower() in (".parquet", ".pq") else "csv"
            shown = [a.label for a in sens]
            every = record_risk_sql(BASE_RELATION, labels, pop.relation, shown)
            con.execute(f"COPY ({every} ORDER BY prosecutor_risk DESC, record) TO {literal(str(records_out))} "
                        f"(FORMAT {fmt})")
        return RiskReport(
            dataset=dataset.name, records=classes.records, qi=qis, sensitive=sens, classes=classes,
            diversity=measures, threshold=threshold, prosecutor=prosecutor(classes, threshold),
            marketer_sample=marketer_in_sample(classes), population=pop, journalist=jr,
            top=riskiest(con, BASE_RELATION, labels, pop.relation, top, [a.label for a in sens]) if top else [],
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {BASE_RELATION}")
        con.execute(f"DROP TABLE IF EXISTS {POPULATION_RELATION}")
