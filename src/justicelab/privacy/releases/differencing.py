"""Checking a new release together with every earlier release its readers may also hold.

Each artifact places records in cells; the records that share a cell in every artifact form an *atom*. Each
published cell is a sum of atoms, so an attacker holding all the artifacts can bound every atom and every suppressed
cell by linear programming -- and two releases that are safe alone can together pin down a small number (the
differencing attack: this year's table minus last year's). The check asks the independent LP attacker of
:mod:`justicelab.privacy.tables` for the interval of every atom and every suppressed cell whose true count lies
between 1 and the threshold - 1: the interval must reach from 0 to the threshold, as for a single table's suppressed
cell.

An atom that makes up a whole published cell (a record file's class of 5 when k = 5, say) was published as that
cell: it is not counted as narrowed; and where a published cell of v records holds an atom, the atom's interval need
only reach v (that cell alone already says "at most v"). A suppressed cell that holds no record has no atom; it is
given a free atom of its own, so the attacker does not learn it is empty from the model (in the other artifacts that
free atom belongs to no cell). Other empty combinations have no atom: the check assumes the reader knows which
combinations of cells hold no record, which errs on the safe side (it can refuse a release that is safe, never pass
one that is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from justicelab.privacy.releases.artifact import Artifact
from justicelab.privacy.tables import verify

_TOL = 1e-6


@dataclass(frozen=True)
class Exposure:
    """A small count the artifacts together let an attacker narrow: what it is, its true value, the interval."""

    what: str
    value: int
    low: float
    high: float
    cells: tuple[tuple[int, int], ...]  # (artifact index, innermost cell) the count lies in
    need: float  # how high its interval must reach

    def describe(self) -> str:
        high = "unbounded" if np.isinf(self.high) else f"{self.high:g}"
        return (f"{self.what}: {self.value} record(s); the releases together bound it to [{self.low:g}, {high}], "
                f"which must reach from 0 to {self.need:g}")


@dataclass(frozen=True)
class DifferencingReport:
    """The joint check of several artifacts."""

    artifacts: tuple[str, ...]
    atoms: int
    protected: int
    exposures: tuple[Exposure, ...]
    lps: int

    @property
    def safe(self) -> bool:
        return not self.exposures

    def as_dict(self) -> dict[str, object]:
        return {"artifacts": list(self.artifacts), "atoms": self.atoms, "small_counts_checked": self.protected,
                "exposed": [e.describe() for e in self.exposures[:50]],
                "exposed_total": len(self.exposures), "safe": self.safe, "attacker_lps": self.lps}


def _atoms(artifacts: Sequence[Artifact]) -> list[tuple[tuple[tuple[int, int], ...], int]]:
    """(signature, records): a signature lists (artifact, cell) for every artifact that counted the records."""
    con = duckdb.connect()
    try:
        for i, a in enumerate(artifacts):
            con.register(f"m{i}", a.members)
        union = " UNION ALL ".join(f"SELECT record_key, {i} AS a, cell FROM m{i}" for i in range(len(artifacts)))
        rows = con.execute(f"""
            SELECT sig, count(*) FROM (
                SELECT record_key, list(struct_pack(a := a, c := cell) ORDER BY a) AS sig
                FROM ({union}) GROUP BY record_key)
            GROUP BY sig ORDER BY sig""").fetchall()
    finally:
        con.close()
    return [(tuple((int(s["a"]), int(s["c"])) for s in sig), int(n)) for sig, n in rows]


def check(artifacts: Sequence[Artifact], threshold: int) -> DifferencingReport:
    """Bound every small atom and suppressed cell of ``artifacts`` taken together (see the module doc)."""
    offsets = np.cumsum([0] + [a.values.size for a in artifacts])
    atoms = _atoms(artifacts)
    covered: set[tuple[int, int]] = {pair for sig, _ in atoms for pair in sig}
    margins = [{t for t, _ in a.relations} for a in artifacts]
    free = [(i, int(c)) for i, a in enumerate(artifacts) for c in np.flatnonzero(~a.published & (a.values == 0))
            if (i, int(c)) not in covered and int(c) not in margins[i]]
    atoms += [(((i, c),), 0) for i, c in free]
    n_cells = int(offsets[-1])
    size = n_cells + len(atoms)
    published = np.full(size, np.nan)
    truth = np.zeros(size)
    relations: list[tuple[int, list[int]]] = []
    for i, a in enumerate(artifacts):
        o = int(offsets[i])
        published[o:o + a.values.size] = a.shown
        truth[o:o + a.values.size] = a.values
        relations += [(o + t, [o + int(p) for p in parts]) for t, parts in a.relations]
    parts_of: dict[int, list[int]] = {}
    for j, (sig, n) in enumerate(atoms):
        truth[n_cells + j] = n
        for i, c in sig:
            parts_of.setdefault(int(offsets[i]) + c, []).append(n_cells + j)
    relations += list(parts_of.items())
    small = (truth >= 1) & (truth < threshold)
    hidden_cell = np.zeros(size, dtype=bool)
    hidden_cell[:n_cells] = np.isnan(published[:n_cells])
    protect = small & (hidden_cell | (np.arange(size) >= n_cells))
    need_high = np.where(protect, float(threshold), np.nan)
    for j, (sig, n) in enumerate(atoms):
        if not protect[n_cells + j]:
            continue
        shown = [published[int(offsets[i]) + c] for i, c in sig if not np.isnan(published[int(offsets[i]) + c])]
        if any(v == n for v in shown):  # the atom is a whole published cell: it was published as such
            protect[n_cells + j] = False
        elif shown:  # a published cell holding it already says "at most v": that alone is not narrowing
            need_high[n_cells + j] = min(float(threshold), *shown)
    need_low = np.where(protect, 0.0, np.nan)
    need_high = np.where(protect, need_high, np.nan)
    intervals = verify(published, relations, need_low=need_low, need_high=need_high, min_width=np.zeros(size))
    exposures = []
    for v in np.flatnonzero(protect):
        low, high = intervals.low[v], intervals.high[v]
        if low <= _TOL and high >= need_high[v] - _TOL:
            continue
        if v < n_cells:
            i = int(np.searchsorted(offsets, v, side="right") - 1)
            what = f"suppressed cell {artifacts[i].labels[v - int(offsets[i])]} of {artifacts[i].title}"
            cells: tuple[tuple[int, int], ...] = ((i, int(v - offsets[i])),)
        else:
            sig = atoms[v - n_cells][0]
            what = "the records in " + " and in ".join(f"{artifacts[i].labels[c]} of {artifacts[i].title}"
                                                       for i, c in sig)
            cells = sig
        exposures.append(Exposure(what, int(truth[v]), float(low), float(high), cells, float(need_high[v])))
    return DifferencingReport(tuple(a.title for a in artifacts), len(atoms), int(protect.sum()), tuple(exposures),
                              intervals.lps)

