"""The optimal search of the generalisation lattice, in the spirit of Flash and OLA.

A node picks one level per quasi-identifier; a node is finer than another when every level is. The search
returns the node of least information loss among those that meet the targets with local suppression of at
most the allowed share, and proves it optimal with three facts:

* a lower bound of every node's loss, known before any query: for NCP the loss of its generalisation alone
  (suppression only adds to it), for discernibility N² / (the most classes its levels allow) and k·N;
  both grow towards coarser nodes. Nodes are visited by increasing bound, and the search stops at the first
  whose bound is not below the best loss found: no node after it can do better;
* predictive tagging (when the targets are monotone, see :class:`~.evaluate.Evaluator`): a node that needs
  too much suppression makes every finer node need at least as much, so they are all tagged as failing
  without a query; to find such failures early, each unresolved node is resolved by a binary search along a
  chain of coarser nodes (still below the best loss), as OLA does;
* every node that could still win is evaluated exactly (one GROUP BY): nothing is assumed about its loss.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from justicelab.privacy.anonymize.evaluate import EPS, Evaluator, Node, NodeResult

Progress = Callable[[int, int], None]


@dataclass
class SearchResult:
    """The chosen node and how the search got there."""

    best: NodeResult | None
    metric: str
    lattice_size: int
    evaluated: int
    tagged_failing: int  # nodes known to fail because a coarser node failed
    bounded_out: int  # nodes never needing a query because their lower bound was not below the best
    seconds: float
    results: dict[Node, NodeResult] = field(default_factory=dict)
    tagged: list[Node] = field(default_factory=list)  # the nodes tagged failing, never queried


class Lattice:
    """The nodes of a prepared evaluator and their lower bounds."""

    def __init__(self, evaluator: Evaluator, metric: str) -> None:
        self.ev = evaluator
        self.metric = metric
        self.heights = [len(q.levels) for q in evaluator.p.qi]
        self.nodes: list[Node] = list(itertools.product(*(range(h) for h in self.heights)))
        self.bound = {n: self.lower_bound(n) for n in self.nodes}

    def lower_bound(self, node: Node) -> float:
        if self.metric == "ncp":
            return self.ev.lower_bound_ncp(node)
        n = self.ev.p.records
        classes = min(n, math.prod(self.ev.p.codes[i][j] for i, j in enumerate(node)))
        return max(n * n / classes, float(self.ev.targets.k * n))

    def successors(self, node: Node) -> list[Node]:
        return [(*node[:i], node[i] + 1, *node[i + 1:]) for i in range(len(node)) if node[i] + 1 < self.heights[i]]


def _below(a: Node, b: Node) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True))


def search(evaluator: Evaluator, metric: str, progress: Progress | None = None) -> SearchResult:
    """The node of least ``metric`` loss meeting the targets (None when no node does)."""
    started = time.perf_counter()
    lattice = Lattice(evaluator, metric)
    results: dict[Node, NodeResult] = {}
    failing: list[Node] = []  # maximal nodes known to fail: everything below them fails too
    best: NodeResult | None = None
    report = progress or (lambda done, total: None)

    def best_loss() -> float:
        return math.inf if best is None else best.loss(metric)

    def tagged(node: Node) -> bool:
        return evaluator.monotone and any(_below(node, f) for f in failing)

    def run(node: Node) -> bool:
        nonlocal best, failing
        r = results[node] = evaluator.evaluate(node)
        report(len(results), len(lattice.nodes))
        if not r.feasible:
            if evaluator.monotone:
                failing = [f for f in failing if not _below(f, node)] + [node]
        elif best is None or _better(r, best, metric):
            best = r
        return r.feasible

    def known(node: Node) -> bool | None:
        if node in results:
            return results[node].feasible
        return False if tagged(node) else None

    def chain(node: Node) -> list[Node]:
        """Coarser nodes from ``node``, one level at a time, each step the one of smallest bound."""
        out = [node]
        while True:
            steps = [s for s in lattice.successors(out[-1]) if lattice.bound[s] < best_loss() - EPS]
            if not steps:
                return out
            out.append(min(steps, key=lambda s: (lattice.bound[s], s)))

    order = sorted(lattice.nodes, key=lambda n: (lattice.bound[n], n))
    stopped_at = len(order)
    for position, node in enumerate(order):
        if lattice.bound[node] >= best_loss() - EPS:
            stopped_at = position
            break
        if known(node) is not None:
            continue
        if not evaluator.monotone:
            run(node)
            continue
        path = chain(node)
        lo, hi = 0, len(path) - 1
        while lo <= hi:  # the lowest node of the path that meets the targets
            mid = (lo + hi) // 2
            ok = known(path[mid])
            if ok is None:
                ok = run(path[mid])
            if ok:
                hi = mid - 1
            else:
                lo = mid + 1
    unresolved = [n for n in order[:stopped_at] if n not in results]
    return SearchResult(
        best=best, metric=metric, lattice_size=len(lattice.nodes), evaluated=len(results),
        tagged_failing=len(unresolved), bounded_out=sum(1 for n in order[stopped_at:] if n not in results),
        seconds=time.perf_counter() - started, results=results, tagged=unresolved)


def _better(a: NodeResult, b: NodeResult, metric: str) -> bool:
    la, lb = a.loss(metric), b.loss(metric)
    if abs(la - lb) > EPS * max(1.0, abs(lb)):
        return la < lb
    return (a.suppressed, a.node) < (b.suppressed, b.node)


def brute_force(evaluator: Evaluator, metric: str) -> SearchResult:
    """Every node evaluated, no pruning: the reference the search is tested against."""
    started = time.perf_counter()
    lattice = Lattice(evaluator, metric)
    results = {n: evaluator.evaluate(n) for n in lattice.nodes}
    best = None
    for r in results.values():
        if r.feasible and (best is None or _better(r, best, metric)):
            best = r
    return SearchResult(best, metric, len(lattice.nodes), len(results), 0, 0, time.perf_counter() - started,
                        results)
