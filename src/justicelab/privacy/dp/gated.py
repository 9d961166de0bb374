"""The records a DP release counts, read through the gate as a user for a purpose (one audit-ledger entry).

Only the columns the release needs are asked for (its dimensions, the summed column, the record and person
keys), so a column the user may not see refuses the read (``AccessDenied``, recorded). A dimension on a column
the gate generalises for this user (a de-identified date shown as its month) is computed from the labels when
that is exact — the year of any date label — and refused otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis.expr.types as ir
import pyarrow.compute as pc

from justicelab.control import ControlDB
from justicelab.gate import GateResult, GateSecret
from justicelab.gate import read as gate_read
from justicelab.privacy.dp.domains import Dimension
from justicelab.privacy.dp.errors import DPError
from justicelab.privacy.dp.query import SumSpec
from justicelab.privacy.risk.dataset import generalised_columns
from justicelab.standard import ResolvedEntity, Standard
from justicelab.warehouse import Generaliser, Warehouse
from justicelab.workspace import Workspace

RECORD_ID, PERSON_ID = "_record_id", "person_id"


@dataclass
class GatedRows:
    """A :data:`~justicelab.privacy.dp.query.RowSource` reading through the gate; ``result`` is the read, once made."""

    warehouse: Warehouse
    control_db: ControlDB
    workspace: Workspace | Path
    user: str
    purpose: str
    standard: Standard
    generaliser: Generaliser | None = None
    secret: GateSecret | None = None
    result: GateResult | None = field(default=None, init=False)

    def __call__(self, entity: ResolvedEntity, dims: Sequence[Dimension], value: SumSpec | None) -> ir.Table:
        fields = [*(d.column for d in dims), *([value.column] if value else []), RECORD_ID]
        if entity.person_bearing:
            fields.append(PERSON_ID)
        self.generaliser = self.generaliser or Generaliser.for_warehouse(self.standard, self.warehouse)
        self.result = result = gate_read(self.warehouse, self.control_db, self.workspace, self.user, entity.name,
                                         self.purpose, fields=list(dict.fromkeys(fields)), standard=self.standard,
                                         generaliser=self.generaliser, secret=self.secret)
        t = result.expression
        generalised = generalised_columns(result, self.generaliser)
        for d in dims:
            if d.column not in generalised:
                continue
            hierarchy, level = generalised[d.column]
            if d.kind == "year_of" and hierarchy == "date":  # every date label starts with its year
                t = t.mutate(**{d.column: t[d.column].cast("string").substr(0, 4).concat("-01-01").cast("date")})
                continue
            raise DPError(f"--by {d.name}: {d.column} is readable by {self.user} only generalised to "
                          f"{hierarchy}.{level} (de-identified), whose labels do not give {d.describe()}; group by "
                          "the year of a date, or by columns shown as recorded")
        if value is not None and value.column in generalised:
            hierarchy, level = generalised[value.column]
            raise DPError(f"--sum {value.column}: it is readable by {self.user} only generalised to "
                          f"{hierarchy}.{level} (de-identified): labels cannot be summed")
        if PERSON_ID in t.columns and pc.count(result.table[PERSON_ID]).as_py() == 0:
            t = t.drop(PERSON_ID)  # nobody linked: the bound is declared, not enforced
        return t
