"""Assign many pending orders at once.

``assign_optimal`` solves it exactly as a rectangular assignment problem: each provider is expanded
into its free slots (columns), each order is a row, and scipy's ``linear_sum_assignment`` picks
the cheapest matching. Pairs that are not eligible get a cost larger than any possible total of
real distances, so the solver first maximises how many orders get a real provider and only then
minimises kilometres; those "forbidden" pairs are dropped from the answer.

``assign_greedy`` (nearest pair first) is kept as the cheap reference the bench compares against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True, slots=True)
class BatchOrder:
    order_id: int
    eligible: dict[int, float]  # provider_id -> distance_km, eligible providers only


@dataclass(frozen=True)
class BatchResult:
    assignments: dict[int, int]  # order_id -> provider_id
    total_km: float
    unassigned: list[int]


def _check(orders: Sequence[BatchOrder]) -> None:
    seen: set[int] = set()
    for order in orders:
        if order.order_id in seen:
            raise ValueError(f"order {order.order_id} appears twice in the batch")
        seen.add(order.order_id)
        for provider, km in order.eligible.items():
            if not (math.isfinite(km) and km >= 0):
                raise ValueError(
                    f"order {order.order_id}: distance to provider {provider} must be >= 0, got {km!r}"
                )


def _result(orders: Sequence[BatchOrder], assignments: dict[int, int]) -> BatchResult:
    by_id = {o.order_id: o for o in orders}
    total = math.fsum(by_id[o].eligible[p] for o, p in assignments.items())
    unassigned = [o.order_id for o in orders if o.order_id not in assignments]
    return BatchResult(assignments=assignments, total_km=total, unassigned=unassigned)


def slot_columns(orders: Sequence[BatchOrder], free_slots: Mapping[int, int], *, prune: bool) -> list[int]:
    """Provider id of each slot column.

    With ``prune`` only providers some order lists are kept, with at most as many slots as orders
    that list them (a provider can never take more) — the same optimum from a far smaller matrix.
    Without it every free slot of every provider is a column (the bench's independent check).
    """
    if prune:
        demand: dict[int, int] = {}
        for order in orders:
            for provider in order.eligible:
                demand[provider] = demand.get(provider, 0) + 1
        providers = sorted(demand)
        caps = {p: min(max(0, free_slots.get(p, 0)), demand[p]) for p in providers}
    else:
        providers = sorted(free_slots)
        caps = {p: max(0, free_slots[p]) for p in providers}
    return [p for p in providers for _ in range(caps[p])]


def solve_slots(orders: Sequence[BatchOrder], columns: Sequence[int]) -> dict[int, int]:
    """Min-cost max-cardinality assignment of ``orders`` to slot ``columns`` (provider ids)."""
    if not orders or not columns:
        return {}
    col_provider = np.asarray(columns, dtype=np.int64)
    first_col: dict[int, int] = {}
    for j, p in enumerate(columns):
        first_col.setdefault(p, j)
    n_slots = {p: 0 for p in first_col}
    for p in columns:
        n_slots[p] += 1

    worst_total = sum(max(o.eligible.values(), default=0.0) for o in orders)
    # Any forbidden pair costs more than all real distances together, so swapping one forbidden
    # pair for a real one always lowers the total: cardinality first, kilometres second.
    forbidden = 2.0 * worst_total + 1.0
    cost = np.full((len(orders), len(columns)), forbidden, dtype=np.float64)
    allowed = np.zeros(cost.shape, dtype=bool)
    for i, order in enumerate(orders):
        for provider, km in order.eligible.items():
            j = first_col.get(provider)
            if j is None:
                continue
            # A provider's slots are interchangeable, so the same cost goes in each of them.
            cost[i, j : j + n_slots[provider]] = km
            allowed[i, j : j + n_slots[provider]] = True
    rows, cols = linear_sum_assignment(cost)
    keep = allowed[rows, cols]
    return {orders[i].order_id: int(col_provider[j]) for i, j in zip(rows[keep], cols[keep], strict=True)}


def assign_optimal(orders: Sequence[BatchOrder], free_slots: Mapping[int, int]) -> BatchResult:
    """Assign as many orders as capacity allows with the least total distance."""
    _check(orders)
    # Orders nobody can take only enlarge the matrix; they are reported unassigned directly.
    solvable = [o for o in orders if any(free_slots.get(p, 0) > 0 for p in o.eligible)]
    columns = slot_columns(solvable, free_slots, prune=True)
    return _result(orders, solve_slots(solvable, columns))


def assign_greedy(orders: Sequence[BatchOrder], free_slots: Mapping[int, int]) -> BatchResult:
    """Repeatedly take the globally shortest remaining (order, provider) pair."""
    _check(orders)
    pairs = sorted(
        (km, i, provider)
        for i, order in enumerate(orders)
        for provider, km in order.eligible.items()
        if free_slots.get(provider, 0) > 0
    )
    left = {p: free_slots[p] for _, _, p in pairs}
    assignments: dict[int, int] = {}
    for _km, i, provider in pairs:
        order_id = orders[i].order_id
        if order_id in assignments or left[provider] <= 0:
            continue
        assignments[order_id] = provider
        left[provider] -= 1
    return _result(orders, assignments)
