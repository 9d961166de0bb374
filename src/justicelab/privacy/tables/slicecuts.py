"""Cuts from two-way sub-tables: what each slice through a sensitive cell needs, found as a minimum cut.

A slice of a three-way table (one axis held at the cell's code) is a two-way table with its margins. An attacker
who used only the slice's own relations would know less than the real one, so a cell the slice alone cannot
protect is not protected: each slice is a necessary condition (the two-way sub-tables of the modular methods).
In a two-way table the attacker's problem is a maximum flow (pairflows.py explains the graph), and when the flow
falls short of the protection level the minimum cut says why: only cells on edges across the cut could carry
more. So the inequality "the cells across the cut, each counted at the amount it could carry, add up to the
protection level" holds for every safe pattern and fails for the current one: a capacity cut (Fischetti and
Salazar), with the node potentials of the cut as its multipliers. One maximum flow over the disjoint union of
every (check, slice) graph finds them all.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from justicelab.privacy.tables.pairflows import UNBOUNDED, Checks


def slice_cuts(shape: tuple[int, ...], values: np.ndarray, hidden: np.ndarray, checks: Checks, ks: np.ndarray
               ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Cuts (rows over every cell, and right-hand sides) for the checks ``ks`` that one of their three slices
    cannot protect under the pattern ``hidden``."""
    size = int(np.prod(shape))
    v3 = values.reshape(shape).astype(np.float64)
    h3 = hidden.reshape(shape)
    index = np.arange(size).reshape(shape)
    coords = np.stack(np.unravel_index(checks.cell[ks], shape), axis=1)
    need = np.ceil(checks.need[ks] - 1e-9)
    arcs_from, arcs_to, arcs_cap, copies = [], [], [], []
    offset = 0
    for axis in range(3):
        b_axis, c_axis = [a for a in range(3) if a != axis]
        n_b, n_c = shape[b_axis], shape[c_axis]
        own, pb, pc = coords[:, axis], coords[:, b_axis], coords[:, c_axis]
        mask = np.moveaxis(h3, axis, 0)[own]
        mask[np.arange(ks.size), pb, pc] = False
        i, b, c = np.nonzero(mask)
        a_low, a_high = _arc_bounds(np.moveaxis(v3, axis, 0)[own[i], b, c], b, c, n_b, n_c)
        base = offset + np.arange(ks.size) * (n_b + n_c)
        arcs_from += [base[i] + b, base[i] + n_b + c]
        arcs_to += [base[i] + n_b + c, base[i] + b]
        arcs_cap += [a_high, -a_low]
        flip0 = np.where(pb == n_b - 1, -1.0, 1.0) * np.where(pc == n_c - 1, -1.0, 1.0)
        forward = checks.direction[ks] * flip0 > 0
        source = np.where(forward, base + n_b + pc, base + pb)
        sink = np.where(forward, base + pb, base + n_b + pc)
        copies.append((axis, base, source, sink))
        offset = int(base[-1]) + n_b + n_c
    top, bottom = offset, offset + 1
    sources = np.concatenate([c[2] for c in copies])
    sinks = np.concatenate([c[3] for c in copies])
    needs = np.tile(need, 3)
    rows = np.concatenate([*arcs_from, np.full(sources.size, top), sinks])
    cols = np.concatenate([*arcs_to, sources, np.full(sinks.size, bottom)])
    caps = np.minimum(np.concatenate([*arcs_cap, needs, needs]), UNBOUNDED).astype(np.int64)
    keep = caps > 0
    graph = sparse.csr_array((caps[keep], (rows[keep], cols[keep])), shape=(offset + 2, offset + 2))
    flow = sparse.csr_array(maximum_flow(graph, top, bottom).flow)
    through = np.asarray(flow[np.full(sources.size, top), sources], dtype=np.float64).ravel()
    short = through < needs - 1e-9
    if not short.any():
        return sparse.csr_matrix((0, size)), np.array([])
    residual = (graph - flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reach = np.zeros(offset + 2, dtype=bool)
    reach[breadth_first_order(residual, top, directed=True, return_predecessors=False)] = True
    cut_rows, cut_cols, cut_vals, rhs = [], [], [], []
    row = 0
    for block, (axis, base, _, _) in enumerate(copies):
        failing = np.flatnonzero(short[block * ks.size:(block + 1) * ks.size])
        if failing.size == 0:
            continue
        b_axis, c_axis = [a for a in range(3) if a != axis]
        n_b, n_c = shape[b_axis], shape[c_axis]
        j, b, c = np.nonzero(np.ones((failing.size, n_b, n_c), dtype=bool))
        f = failing[j]
        cell = np.moveaxis(index, axis, 0)[coords[f, axis], b, c]
        a_low, a_high = _arc_bounds(np.moveaxis(v3, axis, 0)[coords[f, axis], b, c], b, c, n_b, n_c)
        in_b, in_c = reach[base[f] + b], reach[base[f] + n_b + c]
        coef = np.where(in_b & ~in_c, a_high, np.where(in_c & ~in_b, -a_low, 0.0))
        coef = np.minimum(coef, need[f])
        useful = (coef > 1e-9) & (cell != checks.cell[ks[f]])
        local = np.searchsorted(failing, f[useful])
        cut_rows.append(row + local)
        cut_cols.append(cell[useful])
        cut_vals.append(coef[useful])
        rhs.append(need[failing])
        row += failing.size
    cuts = sparse.csr_matrix((np.concatenate(cut_vals), (np.concatenate(cut_rows), np.concatenate(cut_cols))),
                             shape=(row, size))
    return cuts, np.concatenate(rhs)


def _arc_bounds(value: np.ndarray, b: np.ndarray, c: np.ndarray, n_b: int, n_c: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """A cell's range in circulation terms: it may fall by its value and rise without bound; a total code
    flips the sign."""
    flip = np.where(b == n_b - 1, -1.0, 1.0) * np.where(c == n_c - 1, -1.0, 1.0)
    return np.where(flip > 0, -value, -np.inf), np.where(flip > 0, np.inf, value)
