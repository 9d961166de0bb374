"""A tier's count tables: records counted by released attributes, with margins, suppressed, and which record
went into which cell (for the release ledger)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from justicelab.ingest.sql import ident
from justicelab.privacy.releases import Artifact, table_artifact
from justicelab.privacy.risk import Dataset, quasi_identifiers
from justicelab.privacy.tables import CountTable, Primary, SuppressionResult, suppress, threshold_rule
from justicelab.publish.tiers.policy import TableSpec
from justicelab.warehouse import Generaliser

NOT_RECORDED = "not recorded"
_RECORDS = "_jl_release_records"


@dataclass
class BuiltTable:
    """One count table of a release: the table, its suppression (None when the tier publishes every count)."""

    spec: TableSpec
    table: CountTable
    result: SuppressionResult | None
    record_keys: pa.ChunkedArray
    record_cells: np.ndarray
    seconds_limit: float

    def artifact(self, release: str) -> Artifact:
        if self.result is None:
            t = self.table
            return Artifact(release, self.spec.name, "table", t.values.astype(float), np.ones(t.size, dtype=bool),
                            [t.describe(c) for c in range(t.size)],
                            pa.table({"record_key": pc.cast(self.record_keys, pa.string()),
                                      "cell": pa.array(self.record_cells, pa.int64())}), list(t.relations()))
        return table_artifact(release, self.spec.name, self.result, self.record_keys, self.record_cells)

    def to_hide(self, cell: int, forced: set[int]) -> int | None:
        """The cell to hide next so that ``cell`` (exposed by releases together) is better protected: itself
        if it is shown, else the smallest shown cell of a relation it belongs to (None: nothing left to hide)."""
        if self.result is None:
            return None
        hidden = self.result.suppressed
        if not hidden[cell] and cell not in forced:
            return cell
        candidates = {int(c) for total, parts in self.table.relations() if cell == total or cell in parts
                      for c in (total, *parts)}
        shown = [c for c in candidates if not hidden[c] and c not in forced]
        return min(shown, key=lambda c: (self.table.values[c], c)) if shown else None

    def resuppress(self, force: set[int]) -> None:
        """Suppress again with ``force`` (cells that must be hidden, e.g. to stop a differencing attack)."""
        base = threshold_rule(self.table, self.spec.threshold)
        mask = np.zeros(self.table.size, dtype=bool)
        mask[list(force)] = True
        reason = np.full(mask.size, None, dtype=object)
        reason[mask] = "hidden so that releases together reveal no small count"
        # as much protection as a small count gets: a reader must not be able to tell it within +-threshold
        t = float(self.spec.threshold)
        extra = Primary(mask, np.where(mask, t, 0.0), np.where(mask, np.minimum(t, self.table.values), 0.0), reason)
        self.result = suppress(self.table, primary=base | extra, time_limit=self.seconds_limit)

    def published(self, total_label: str = "Total") -> pa.Table:
        """The table to publish: one row per cell, totals labelled, suppressed counts empty, a status column."""
        t = self.table
        status = np.full(t.size, "published", dtype=object)
        hidden = np.zeros(t.size, dtype=bool)
        if self.result is not None:
            hidden = self.result.suppressed
            status[hidden] = "suppressed: protects another cell"
            status[hidden & self.result.primary.sensitive] = "suppressed: small count"
        out = t.to_arrow(np.where(hidden, np.nan, t.values), extra={"status": pa.array(status.tolist())})
        for name in t.dims:
            i = out.column_names.index(name)
            out = out.set_column(i, name, pc.fill_null(pc.cast(out.column(name), pa.string()), total_label))
        return out


def build_table(dataset: Dataset, spec: TableSpec, generaliser: Generaliser, *, where: str | None,
                time_limit: float = 120.0) -> BuiltTable:
    """Count ``dataset`` by ``spec.by`` (with margins over ``spec.totals``) and suppress it."""
    if not dataset.key:
        raise ValueError(f"{dataset.name} has no record key")
    attrs = quasi_identifiers(",".join(spec.by), dataset, generaliser)
    labels = [a.label for a in attrs]
    conditions = [f"({c})" for c in (where, spec.where) if c]
    cols = [f"CAST({ident(dataset.key)} AS VARCHAR) AS record_key"]
    cols += [f"coalesce(CAST({a.sql(generaliser)} AS VARCHAR), '{NOT_RECORDED}') AS {ident(a.label)}" for a in attrs]
    con = dataset.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_RECORDS} AS SELECT {', '.join(cols)} FROM {dataset.relation}"
                + (f" WHERE {' AND '.join(conditions)}" if conditions else ""))
    try:
        counts = con.execute(f"SELECT {', '.join(ident(x) for x in labels)}, count(*) AS n FROM {_RECORDS} "
                             "GROUP BY ALL").to_arrow_table()
        records = con.execute(f"SELECT * FROM {_RECORDS}").to_arrow_table()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_RECORDS}")
    table = CountTable.from_arrow(counts, labels, "n", totals=spec.totals if spec.totals is not None else labels,
                                  source=f"table {spec.name}")
    coords = []
    for dim in table.dimensions:
        cats = [c for c in dim.codes[: dim.n_categories]]
        coords.append(np.asarray(pc.index_in(records.column(dim.name), value_set=pa.array(cats, pa.string()))
                                 .to_numpy(zero_copy_only=False), dtype=np.int64))
    cells = np.ravel_multi_index(tuple(coords), table.shape) if records.num_rows else np.zeros(0, dtype=np.int64)
    result = suppress(table, spec.threshold, time_limit=time_limit) if spec.threshold else None
    return BuiltTable(spec, table, result, records.column("record_key"), cells, time_limit)
