"""Witnesses by network flow for three-way tables with every margin: protection shown without linear programmes.

A *witness* for a check (a cell that must be able to rise by U, or fall by L) is a table the attacker cannot rule
out in which the cell has moved that far; it is kept as its deviation z from the true table (zero on published
cells, every relation still adding up, no cell below zero).

Take the cell's slice a along one axis and a partner slice q along the same axis. Moving the cells of slice a by W
and those of q by -W (by +W when a or q is the total) keeps every relation along that axis; W must keep the
relations inside the slice, which, once the total codes change sign, make W a circulation on the bipartite graph
of the other two axes' codes: one edge per cell hidden in both slices, its capacities the values the two cells
can give up (no cell goes below zero; a cell may rise without bound). The cell's largest move is a maximum flow
around its own edge. A check tries its partners one after another, most capacity first, adding up the flows
(protection often needs several partners) with each cell's capacity reduced by what earlier partners used.
Each round solves the flows of all pending checks at once, as one maximum flow (scipy's Dinic) over the disjoint
union of their graphs joined to one source and one sink, so the work is done in C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import maximum_flow

from justicelab.privacy.tables.rules import Primary
from justicelab.privacy.tables.table import CountTable

UNBOUNDED = 2**30  # a capacity no flow reaches: flows are capped by the needs at the source


@dataclass(frozen=True)
class Checks:
    """What must be shown, one entry per check: the cell, +1 (it must be able to rise) or -1 (fall), and by how
    much (whole numbers: the tables here are counts)."""

    cell: np.ndarray
    direction: np.ndarray
    need: np.ndarray

    @classmethod
    def of(cls, primary: Primary) -> Checks:
        """Every sensitive cell's rise by its upper protection level and fall by its lower one (levels rounded
        up to whole numbers; a level of zero asks nothing)."""
        cells = np.flatnonzero(primary.sensitive)
        cell = np.concatenate([cells, cells])
        direction = np.concatenate([np.ones(cells.size), -np.ones(cells.size)])
        need = np.ceil(np.concatenate([primary.upper[cells], primary.lower[cells]]) - 1e-9)
        wanted = need > 0
        return cls(cell[wanted], direction[wanted], need[wanted])

    @property
    def size(self) -> int:
        return int(self.cell.size)

    def reached_by(self, z: np.ndarray, ks: np.ndarray) -> np.ndarray:
        """Whether the deviation ``z`` (over every cell) moves each of checks ``ks``'s cells far enough."""
        return self.direction[ks] * z[self.cell[ks]] >= self.need[ks] - 1e-6

    def reached(self, deviations: sparse.csr_matrix) -> np.ndarray:
        """Per check, whether row i of ``deviations`` moves its cell far enough."""
        moved = np.asarray(sparse.csr_array(deviations)[np.arange(self.size), self.cell], dtype=np.float64).ravel()
        return self.direction * moved >= self.need - 1e-9


def flat_cube(table: CountTable) -> bool:
    """Whether the flow witnesses apply: three dimensions, each its categories and a total (no hierarchy), and
    whole-number values."""
    if len(table.dimensions) != 3 or not table.integer:
        return False
    for dim in table.dimensions:
        if not dim.has_total or len(dim.codes) != dim.n_categories + 1:
            return False
    return bool(np.all(table.values == np.rint(table.values)))


class PairFlows:
    """Flow witnesses over one suppression pattern of a table :func:`flat_cube` accepts."""

    def __init__(self, shape: tuple[int, ...], values: np.ndarray, hidden: np.ndarray) -> None:
        self.shape = shape
        self.size = int(np.prod(shape))
        self.values = values.astype(np.float64)
        self.hidden = hidden.astype(bool)
        self.index = np.arange(self.size).reshape(shape)
        self.coords = np.stack(np.unravel_index(np.arange(self.size), shape), axis=1)
        self.strides = [int(np.prod(shape[a + 1:])) for a in range(3)]

    def _candidates(self, checks: Checks) -> tuple[np.ndarray, ...]:
        """Every (check, axis, partner code, sign of the partner slice) whose partner cell in the check's own
        relation is hidden, ranked per check: most capacity first, then smaller graphs, then larger overlaps."""
        hidden = self.hidden.reshape(self.shape)
        parts = []
        for axis in range(3):
            n = self.shape[axis]
            slices = np.moveaxis(hidden, axis, 0).reshape(n, -1).astype(np.float64)
            overlap = slices @ slices.T
            own = self.coords[checks.cell, axis]
            k = np.repeat(np.arange(checks.size), n)
            q = np.tile(np.arange(n), checks.size)
            keep = q != own[k]
            k, q = k[keep], q[keep]
            partner = checks.cell[k] + (q - own[k]) * self.strides[axis]
            keep = self.hidden[partner]
            k, q, partner = k[keep], q[keep], partner[keep]
            sign = np.where((q == n - 1) | (own[k] == n - 1), 1.0, -1.0)
            # The partner cell moves by sign * direction per unit of the check's move: a fall uses its value.
            capacity = np.where(sign * checks.direction[k] < 0, self.values[partner], np.inf)
            score = (np.minimum(capacity, checks.need[k]) * 1e6 + n * 1e3
                     + np.minimum(overlap[own[k], q], 999.0))
            parts.append((k, np.full(k.size, axis), q, sign, score))
        k, axis_, q, sign, score = (np.concatenate(p) for p in zip(*parts, strict=True))
        order = np.lexsort((-score, k))
        k, axis_, q, sign = k[order], axis_[order], q[order], sign[order]
        rank = np.arange(k.size) - np.searchsorted(k, k, side="left")
        return k, axis_, q, sign, rank

    def prove(self, checks: Checks, rounds: int = 24) -> tuple[np.ndarray, sparse.csr_matrix]:
        """Per check whether a flow witness was found, and the witnesses (row i: check i's deviation)."""
        got = np.zeros(checks.size)
        need = np.ceil(checks.need - 1e-9)
        z = sparse.csr_array((checks.size, self.size))
        cand_k, cand_axis, cand_q, cand_sign, cand_rank = self._candidates(checks)
        for r in range(rounds):
            take = (cand_rank == r) & (got < need)[cand_k]
            if not take.any():
                break
            moved, flow, k = self._round(checks, need - got, z, cand_k[take], cand_axis[take], cand_q[take],
                                         cand_sign[take])
            z = z + moved
            np.add.at(got, k, flow)
        return got >= need, sparse.csr_matrix(z)

    def _round(self, checks: Checks, remaining: np.ndarray, z: sparse.csr_array, ks: np.ndarray,
               axes: np.ndarray, qs: np.ndarray, signs: np.ndarray) -> tuple[sparse.csr_array, np.ndarray, np.ndarray]:
        """One max-flow over the graphs of the given (check, partner) pairs: the deviations and flows found."""
        arcs_from, arcs_to, arcs_cap = [], [], []
        ends: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        groups = []
        offset = 0
        for axis in range(3):
            m = axes == axis
            if not m.any():
                continue
            k, q, sign = ks[m], qs[m], signs[m]
            b_axis, c_axis = [a for a in range(3) if a != axis]
            n_b, n_c = self.shape[b_axis], self.shape[c_axis]
            hidden = np.moveaxis(self.hidden.reshape(self.shape), axis, 0)
            index = np.moveaxis(self.index, axis, 0)
            cell = checks.cell[k]
            pa, pb, pc = self.coords[cell, axis], self.coords[cell, b_axis], self.coords[cell, c_axis]
            both = hidden[pa] & hidden[q]
            both[np.arange(k.size), pb, pc] = False
            i, b, c = np.nonzero(both)
            own_cells, partner_cells = index[pa[i], b, c], index[q[i], b, c]
            own_now = self.values[own_cells] + _at(z, k[i], own_cells)
            partner_now = self.values[partner_cells] + _at(z, k[i], partner_cells)
            low, high = _bounds(sign[i], own_now, partner_now)
            # In circulation terms the total codes change sign: A = s_b s_c W.
            flip = np.where(b == n_b - 1, -1.0, 1.0) * np.where(c == n_c - 1, -1.0, 1.0)
            a_low = np.where(flip > 0, low, -high)
            a_high = np.where(flip > 0, high, -low)
            base = offset + np.arange(k.size) * (n_b + n_c)
            b_node, c_node = base[i] + b, base[i] + n_b + c
            arcs_from += [b_node, c_node]
            arcs_to += [c_node, b_node]
            arcs_cap += [a_high, -a_low]
            # The check's own edge: how far it may move, and which way round the circulation goes.
            partner = cell + (q - pa) * self.strides[axis]
            low0, high0 = _bounds(sign, self.values[cell] + _at(z, k, cell),
                                  self.values[partner] + _at(z, k, partner))
            s = checks.direction[k]
            room = np.where(s > 0, high0, -low0)
            flip0 = np.where(pb == n_b - 1, -1.0, 1.0) * np.where(pc == n_c - 1, -1.0, 1.0)
            forward = s * flip0 > 0
            source = np.where(forward, base + n_b + pc, base + pb)
            sink = np.where(forward, base + pb, base + n_b + pc)
            ends.append((source, sink, np.minimum(remaining[k], room)))
            groups.append((k, i, b_node, c_node, flip, own_cells, partner_cells, sign, cell, partner))
            offset = int(base[-1]) + n_b + n_c
        source = np.concatenate([e[0] for e in ends])
        sink = np.concatenate([e[1] for e in ends])
        cap = np.floor(np.concatenate([e[2] for e in ends]) + 1e-9)
        top, bottom = offset, offset + 1
        rows = np.concatenate([*arcs_from, np.full(source.size, top), sink])
        cols = np.concatenate([*arcs_to, source, np.full(sink.size, bottom)])
        caps = np.minimum(np.concatenate([*arcs_cap, cap, cap]), UNBOUNDED).astype(np.int64)
        positive = caps > 0
        graph = sparse.csr_array((caps[positive], (rows[positive], cols[positive])), shape=(offset + 2, offset + 2))
        flows = sparse.csr_array(maximum_flow(graph, top, bottom).flow).tocoo()
        n_nodes = offset + 2
        through = np.zeros(source.size)
        from_top = (flows.row == top) & (flows.data > 0)
        through[np.searchsorted(source, flows.col[from_top])] = flows.data[from_top]
        # Each edge's net flow, from the positive entries of the (skew-symmetric) flow: B -> C raises A.
        key = np.concatenate([g[2].astype(np.int64) * n_nodes + g[3] for g in groups])
        inner = (flows.data > 0) & (flows.row < top) & (flows.col < top)
        u, w_, f = flows.row[inner].astype(np.int64), flows.col[inner].astype(np.int64), flows.data[inner]
        forward_at = np.searchsorted(key, u * n_nodes + w_)
        forward = (forward_at < key.size) & (key[np.minimum(forward_at, key.size - 1)] == u * n_nodes + w_)
        edge = np.where(forward, forward_at, np.searchsorted(key, w_ * n_nodes + u))
        amount = np.where(forward, f, -f).astype(np.float64)
        flip = np.concatenate([g[4] for g in groups])[edge]
        own_cells = np.concatenate([g[5] for g in groups])[edge]
        partner_cells = np.concatenate([g[6] for g in groups])[edge]
        all_k = np.concatenate([g[0] for g in groups])
        cell = np.concatenate([g[8] for g in groups])
        partner = np.concatenate([g[9] for g in groups])
        sign = np.concatenate([g[7] for g in groups])
        first = np.cumsum([0] + [g[0].size for g in groups[:-1]])
        pair = np.concatenate([g[1] + f for g, f in zip(groups, first, strict=True)])[edge]
        edge_sign, edge_k = sign[pair], all_k[pair]
        s = checks.direction[all_k]
        w = flip * amount
        moved = sparse.csr_array(
            (np.concatenate([w, edge_sign * w, s * through, sign * s * through]),
             (np.concatenate([edge_k, edge_k, all_k, all_k]),
              np.concatenate([own_cells, partner_cells, cell, partner]))),
            shape=(checks.size, self.size))
        return moved, through, all_k


def _bounds(sign: np.ndarray, own_now: np.ndarray, partner_now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The range of W on an edge: the own cell moves by W, the partner by sign * W, neither below zero."""
    low = np.where(sign > 0, -np.minimum(own_now, partner_now), -own_now)
    high = np.where(sign > 0, np.inf, partner_now)
    return low, high


def _at(z: sparse.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """z[rows[i], cols[i]] for every i (zero where z holds nothing)."""
    if z.nnz == 0 or rows.size == 0:
        return np.zeros(rows.size)
    return np.asarray(z[rows, cols], dtype=np.float64).reshape(-1)
