"""What one published file tells an attacker, in a form releases can be checked together by.

A table or a record file of a release is an :class:`Artifact`: its cells (the table's cells with margins, or
the record file's equivalence classes), each cell's true value and whether it was published, the additive
relations among its cells (a margin equals the sum of what it totals), and which record was counted in which
innermost cell. Two artifacts about the same records can then be combined: the records counted in the same
pair of cells form an *atom*, and every published cell is a sum of atoms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from justicelab.privacy.tables import CountTable, SuppressionResult


@dataclass
class Artifact:
    """One published table or record file: ``values`` (true) and ``published`` per cell, the relations among
    cells, and ``members`` (record_key, cell) placing each counted record in its innermost cell."""

    release: str
    name: str
    kind: str  # "table" or "records"
    values: np.ndarray
    published: np.ndarray
    labels: list[str]
    members: pa.Table
    relations: list[tuple[int, np.ndarray]] = field(default_factory=list)

    @property
    def shown(self) -> np.ndarray:
        """What a reader sees per cell: the value, NaN where suppressed."""
        return np.where(self.published, self.values, np.nan)

    @property
    def title(self) -> str:
        return f"{self.release}/{self.name}"


def _members(keys: pa.Array | pa.ChunkedArray, cells: np.ndarray) -> pa.Table:
    return pa.table({"record_key": pc.cast(keys, pa.string()), "cell": pa.array(cells, pa.int64())})


def table_artifact(release: str, name: str, result: SuppressionResult, record_keys: pa.Array | pa.ChunkedArray,
                   record_cells: np.ndarray) -> Artifact:
    """A suppressed count table; ``record_cells`` gives each record's innermost cell (a flat cell index)."""
    table: CountTable = result.table
    labels = [table.describe(c) for c in range(table.size)]
    return Artifact(release, name, "table", table.values.astype(float), ~result.suppressed, labels,
                    _members(record_keys, record_cells), list(table.relations()))


def records_artifact(release: str, name: str, membership: pa.Table, columns: Sequence[str]) -> Artifact:
    """A record file: its cells are the equivalence classes on the released ``columns`` (every class is
    published with its size: anyone can count the rows); ``membership`` holds record_key and those columns."""
    if membership.num_rows == 0:
        return Artifact(release, name, "records", np.zeros(0), np.zeros(0, dtype=bool), [],
                        _members(pa.array([], pa.string()), np.zeros(0, dtype=np.int64)))
    parts = [pc.fill_null(pc.cast(membership.column(c), pa.string()), "\x00") for c in columns]
    joined = pc.binary_join_element_wise(*parts, "\x1f") if len(parts) > 1 else parts[0]
    encoded = pc.dictionary_encode(joined).combine_chunks()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    values = np.bincount(codes, minlength=len(encoded.dictionary)).astype(float)
    labels = [", ".join(f"{c}={v}" for c, v in zip(columns, str(d).split("\x1f"), strict=True)).replace("\x00", "")
              for d in encoded.dictionary.to_pylist()]
    return Artifact(release, name, "records", values, np.ones(values.size, dtype=bool), labels,
                    _members(membership.column("record_key"), codes))
