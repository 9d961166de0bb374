"""Repair by hypercubes: hide the cheapest 2 x 2 x 2 cube of cells that lets a cell move as far as it must.

Pick, beside a cell's own code on each of the three axes, one other code. The eight cells so chosen (the cube's
corners) can move together: +d where an even number of axes took a sibling code, -d where an odd number did (a
total code keeps the sign instead, since a total moves with its parts), and every relation still adds up. So
once the corners are hidden the cell can rise by d as long as each corner that falls holds at least d (and fall
likewise). This is the hypercube method of Repsilber (tau-Argus's GHMITER), used here only for the checks the
flow witnesses could not show, and choosing among all cubes the one whose corners cost least to hide (already
hidden corners are free). When no single cube carries the whole amount, cubes are added until their sum does.
"""

from __future__ import annotations

import itertools

import numpy as np

CORNERS = tuple(itertools.product((0, 1), repeat=3))


class Cubes:
    """Cube search on a flat three-way table (categories and a total on each axis, the total last)."""

    def __init__(self, shape: tuple[int, ...], values: np.ndarray, weights: np.ndarray, keep: np.ndarray) -> None:
        self.shape = shape
        self.values = values.reshape(shape).astype(np.float64)
        self.weights = weights.reshape(shape).astype(np.float64)
        self.keep = keep.reshape(shape)

    def protect(self, cell: int, direction: float, need: float, hidden: np.ndarray,
                start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Cells and amounts of a deviation moving ``cell`` by ``direction * need`` more through cubes whose
        corners are hidden once ``hidden`` (a flat mask, updated in place) includes them, on top of the deviation
        ``start`` (flat, already feasible); None when no cube helps."""
        h = hidden.reshape(self.shape)
        p = tuple(int(i) for i in np.unravel_index(cell, self.shape))
        used = np.zeros(self.shape) if start is None else -start.reshape(self.shape)
        moves: dict[int, float] = {}
        left = need
        while left > 1e-9:
            choice = self._best(p, direction, left, h, used)
            if choice is None:
                return None
            corners, signs, amount = choice
            for c, s in zip(corners, signs, strict=True):
                h[c] = True
                move = direction * s * amount
                used[c] -= move
                flat = int(np.ravel_multi_index(c, self.shape))
                moves[flat] = moves.get(flat, 0.0) + move
            left -= amount
        cells = np.array(list(moves), dtype=np.int64)
        return cells, np.array([moves[c] for c in cells.tolist()])

    def _best(self, p: tuple[int, ...], direction: float, left: float, h: np.ndarray, used: np.ndarray
              ) -> tuple[list[tuple[int, ...]], list[float], float] | None:
        """The cube to add next: the cheapest that carries all of ``left``, else the most per unit of cost."""
        n = self.shape
        # Per axis: every other code and the sign a corner takes there (+1 for a total pairing, else -1).
        signs = [np.where((np.arange(n[a]) == n[a] - 1) | (p[a] == n[a] - 1), 1.0, -1.0) for a in range(3)]
        cost = np.zeros(n)
        room = np.full(n, np.inf)
        for corner in CORNERS:
            index = tuple(slice(None) if take else p[a] for a, take in enumerate(corner))
            shape = tuple(n[a] if take else 1 for a, take in enumerate(corner))
            value = (self.values[index] - used[index]).reshape(shape)
            hide = (~h[index]).reshape(shape)
            forbidden = (self.keep[index] & ~h[index]).reshape(shape)
            cost = cost + np.where(forbidden, np.inf, np.where(hide, self.weights[index].reshape(shape), 0.0))
            sign = np.ones(1)
            for a, take in enumerate(corner):
                if take:
                    sign = sign * signs[a].reshape(tuple(n[a] if b == a else 1 for b in range(3)))
            falls = direction * sign < 0
            room = np.minimum(room, np.where(falls, value, np.inf))
        own = np.zeros(n, dtype=bool)
        own[p[0], :, :] = own[:, p[1], :] = own[:, :, p[2]] = True  # a cube needs another code on every axis
        cost[own] = np.inf
        room = np.minimum(np.floor(room + 1e-9), left)
        useful = np.isfinite(cost) & (room >= 1)
        if not useful.any():
            return None
        full = useful & (room >= left - 1e-9)
        per_unit = np.divide(cost, room, out=np.full(n, np.inf), where=useful)
        pick = np.where(full, cost, np.inf) if full.any() else per_unit
        best = tuple(int(i) for i in np.unravel_index(int(np.argmin(pick)), n))
        corners = [tuple(best[a] if take else p[a] for a, take in enumerate(c)) for c in CORNERS]
        corner_signs = [float(np.prod([signs[a][best[a]] for a, take in enumerate(c) if take])) for c in CORNERS]
        return corners, corner_signs, float(room[best])
