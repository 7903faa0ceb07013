"""``sanshe bench dispatch``: candidate lookup + ranking, and batch assignment quality.

Matching: synthetic providers over a ~40×40 km city; per size, the index build time and the
latency of ``covering`` + ``rank`` per query, against a naive baseline measured in the same run
(geopy geodesic to every provider serving the item, radius filter, sort, rank). Both return the
same shortlist — checked on every naive query — so the ratio compares equal work.

Batch: random instances; optimal vs greedy total km, with the optimum cross-checked against
``linear_sum_assignment`` on the full dense slot matrix.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from dispatch.geo.coords import geodesic_km, haversine_km_many
from dispatch.matching.assignment import (
    BatchOrder,
    BatchResult,
    assign_greedy,
    assign_optimal,
    slot_columns,
    solve_slots,
)
from dispatch.matching.index import ProviderIndex, ProviderPoint
from dispatch.matching.ranking import CandidateFacts, rank

CENTRE = (30.27, 120.15)
HALF_SIDE_KM = 20.0
CATEGORIES = range(1, 13)
ITEMS_PER_CATEGORY = 10
COMMUNITY_CELL_KM = 4.0  # synthetic communities: a 10×10 grid of 4 km cells
SHORTLIST = 50  # what the dispatcher ranks: the nearest 50 covering providers
WARMUP_QUERIES = 20
NAIVE_QUERIES_LARGE = 30  # the naive scan at 100k costs ~0.3 s a query
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

_DEG_LAT_KM = 110.6
_DEG_LON_KM = 111.32 * math.cos(math.radians(CENTRE[0]))


def _random_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    dy = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, n)
    dx = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, n)
    return CENTRE[0] + dy / _DEG_LAT_KM, CENTRE[1] + dx / _DEG_LON_KM


def community_of(lat: float, lon: float) -> int:
    """Synthetic community id of a point: its cell in the city grid."""
    row = int((lat - CENTRE[0]) * _DEG_LAT_KM // COMMUNITY_CELL_KM)
    col = int((lon - CENTRE[1]) * _DEG_LON_KM // COMMUNITY_CELL_KM)
    return (row + 50) * 100 + (col + 50)


def synthetic_providers(n: int, rng: np.random.Generator) -> list[ProviderPoint]:
    """1–3 items of one category (75 %) or a whole category (20 %); 5 % serve community lists."""
    lats, lons = _random_points(rng, n)
    radii = rng.uniform(2.0, 10.0, n)
    kinds = rng.uniform(0.0, 1.0, n)
    cats = rng.integers(CATEGORIES.start, CATEGORIES.stop, n)
    out: list[ProviderPoint] = []
    for i in range(n):
        cat = int(cats[i])
        communities: frozenset[int] = frozenset()
        if kinds[i] < 0.20:
            items: frozenset[int] = frozenset()
            categories = frozenset({cat})
        else:
            k = int(rng.integers(1, 4))
            picked = rng.choice(ITEMS_PER_CATEGORY, size=k, replace=False)
            items = frozenset(cat * 10 + int(j) for j in picked)
            categories = frozenset()
            if kinds[i] > 0.95:
                home = community_of(float(lats[i]), float(lons[i]))
                communities = frozenset({home, home + 1, home + 100})
        out.append(
            ProviderPoint(
                id=i + 1,
                lat=float(lats[i]),
                lon=float(lons[i]),
                radius_km=float(radii[i]),
                item_ids=items,
                category_ids=categories,
                community_ids=communities,
            )
        )
    return out


def _facts_table(providers: Sequence[ProviderPoint], rng: np.random.Generator) -> dict[int, tuple]:
    stars = rng.uniform(1.0, 5.0, len(providers))
    caps = rng.integers(1, 8, len(providers))
    opens = rng.integers(0, 8, len(providers)) % caps
    idle_h = rng.exponential(48.0, len(providers))
    return {
        p.id: (
            f"provider {p.id}",
            p.radius_km,
            float(stars[i]),
            int(opens[i]),
            int(caps[i]),
            float(idle_h[i]),
        )
        for i, p in enumerate(providers)
    }


def _rank_shortlist(shortlist: list[tuple[int, float]], facts: dict[int, tuple]) -> list:
    candidates = []
    for pid, km in shortlist:
        name, radius, star, open_count, capacity, idle_h = facts[pid]
        candidates.append(
            CandidateFacts(pid, name, km, radius, star, open_count, capacity, NOW - timedelta(hours=idle_h))
        )
    return rank(candidates, now=NOW)


def naive_covering(
    providers: Sequence[ProviderPoint],
    *,
    lat: float,
    lon: float,
    item_id: int,
    category_id: int,
    community_id: int,
) -> list[tuple[int, float]]:
    """Every provider serving the item, one geopy geodesic each; the baseline and the test oracle."""
    found = []
    for p in providers:
        if item_id not in p.item_ids and category_id not in p.category_ids:
            continue
        km = geodesic_km(lat, lon, p.lat, p.lon)
        if (community_id in p.community_ids) if p.community_ids else km <= p.radius_km:
            found.append((km, p.id))
    found.sort()
    return [(pid, km) for km, pid in found]


def _pct_ms(samples_ns: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(samples_ns, dtype=np.float64), q)) / 1e6


def _bench_size(n: int, queries: int, naive_queries: int, rng: np.random.Generator) -> dict:
    providers = synthetic_providers(n, rng)
    facts = _facts_table(providers, rng)
    t0 = time.perf_counter_ns()
    index = ProviderIndex(providers)
    build_ms = (time.perf_counter_ns() - t0) / 1e6

    qlat, qlon = _random_points(rng, queries)
    qitem = [
        int(c) * 10 + int(k)
        for c, k in zip(rng.integers(1, 13, queries), rng.integers(0, 10, queries), strict=True)
    ]
    query_args = [
        {
            "lat": float(qlat[i]),
            "lon": float(qlon[i]),
            "item_id": qitem[i],
            "category_id": qitem[i] // 10,
            "community_id": community_of(float(qlat[i]), float(qlon[i])),
        }
        for i in range(queries)
    ]

    # Warm-up: one query per item fills the (item, category) cache the steady state runs with.
    for item in (c * 10 + k for c in CATEGORIES for k in range(ITEMS_PER_CATEGORY)):
        index.covering(
            lat=CENTRE[0], lon=CENTRE[1], item_id=item, category_id=item // 10, max_results=SHORTLIST
        )
    for args in query_args[:WARMUP_QUERIES]:
        _rank_shortlist(index.covering(**args, max_results=SHORTLIST), facts)

    indexed_ns: list[int] = []
    shortlists: list[list[tuple[int, float]]] = []
    sizes: list[int] = []
    for args in query_args:
        t0 = time.perf_counter_ns()
        shortlist = index.covering(**args, max_results=SHORTLIST)
        _rank_shortlist(shortlist, facts)
        indexed_ns.append(time.perf_counter_ns() - t0)
        shortlists.append(shortlist)
        sizes.append(len(shortlist))

    naive_ns: list[int] = []
    mismatches = 0
    for args, expected in zip(query_args[:naive_queries], shortlists, strict=False):
        t0 = time.perf_counter_ns()
        shortlist = naive_covering(providers, **args)[:SHORTLIST]
        _rank_shortlist(shortlist, facts)
        naive_ns.append(time.perf_counter_ns() - t0)
        mismatches += shortlist != expected

    row = {
        "section": "matching",
        "providers": n,
        "build_ms": round(build_ms, 1),
        "queries": queries,
        "avg_candidates": round(float(np.mean(sizes)), 1),
        "p50_ms": round(_pct_ms(indexed_ns, 50), 3),
        "p99_ms": round(_pct_ms(indexed_ns, 99), 3),
        "naive_queries": len(naive_ns),
        "naive_p50_ms": round(_pct_ms(naive_ns, 50), 2) if naive_ns else None,
        "naive_p99_ms": round(_pct_ms(naive_ns, 99), 2) if naive_ns else None,
        "mismatches": mismatches,
    }
    if naive_ns:
        row["speedup_p50"] = round(row["naive_p50_ms"] / max(row["p50_ms"], 1e-9), 1)
    return row


def random_batch_instance(
    rng: np.random.Generator, n_orders: int, n_providers: int
) -> tuple[list[BatchOrder], dict[int, int]]:
    """Orders and providers over the city; eligible when inside the provider's 2–10 km radius."""
    olat, olon = _random_points(rng, n_orders)
    plat, plon = _random_points(rng, n_providers)
    radii = rng.uniform(2.0, 10.0, n_providers)
    free = {p + 1: int(c) for p, c in enumerate(rng.integers(1, 4, n_providers))}
    orders = []
    for i in range(n_orders):
        km = haversine_km_many(float(olat[i]), float(olon[i]), plat, plon)
        inside = np.flatnonzero(km <= radii)
        orders.append(BatchOrder(order_id=1000 + i, eligible={int(p) + 1: float(km[p]) for p in inside}))
    return orders, free


def dense_optimum(orders: Sequence[BatchOrder], free_slots: dict[int, int]) -> BatchResult:
    """The optimum from the full, unpruned slot matrix: an independent check of ``assign_optimal``."""
    assignments = solve_slots(list(orders), slot_columns(orders, free_slots, prune=False))
    total = math.fsum(
        next(o for o in orders if o.order_id == oid).eligible[p] for oid, p in assignments.items()
    )
    return BatchResult(assignments, total, [o.order_id for o in orders if o.order_id not in assignments])


def bench_batch(*, instances: int = 5, orders: int = 200, providers: int = 300, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(instances):
        inst_orders, free = random_batch_instance(rng, orders, providers)
        t0 = time.perf_counter_ns()
        best = assign_optimal(inst_orders, free)
        optimal_ms = (time.perf_counter_ns() - t0) / 1e6
        greedy = assign_greedy(inst_orders, free)
        dense = dense_optimum(inst_orders, free)
        same = len(dense.assignments) == len(best.assignments) and math.isclose(
            dense.total_km, best.total_km, rel_tol=1e-9, abs_tol=1e-9
        )
        rows.append(
            {
                "section": "batch",
                "instance": k + 1,
                "orders": orders,
                "providers": providers,
                "optimal_assigned": len(best.assignments),
                "greedy_assigned": len(greedy.assignments),
                "optimal_km": round(best.total_km, 2),
                "greedy_km": round(greedy.total_km, 2),
                "greedy_gap_pct": round(100.0 * (greedy.total_km / best.total_km - 1.0), 2)
                if best.total_km
                else 0.0,
                "optimal_ms": round(optimal_ms, 1),
                "equals_dense_optimum": same,
            }
        )
    return rows


def bench_matching(
    sizes: Sequence[int] = (1_000, 10_000, 100_000),
    queries: int = 500,
    seed: int = 1,
    *,
    naive_queries: int | None = None,
    batch_instances: int = 3,
) -> list[dict]:
    """One row per provider count, then one per batch instance (``section`` tells them apart).

    The naive baseline runs on every query up to 10,000 providers and on ``NAIVE_QUERIES_LARGE``
    above that, unless ``naive_queries`` says otherwise.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        naive = (
            naive_queries if naive_queries is not None else (queries if n <= 10_000 else NAIVE_QUERIES_LARGE)
        )
        rows.append(_bench_size(n, queries, min(naive, queries), rng))
    if batch_instances > 0:
        rows.extend(bench_batch(instances=batch_instances, seed=seed))
    return rows


_MATCHING_COLUMNS = [
    ("providers", "providers"),
    ("build_ms", "build ms"),
    ("queries", "queries"),
    ("avg_candidates", "avg hits"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("naive_queries", "naive q"),
    ("naive_p50_ms", "naive p50"),
    ("naive_p99_ms", "naive p99"),
    ("speedup_p50", "× faster"),
    ("mismatches", "mismatch"),
]
_BATCH_COLUMNS = [
    ("instance", "instance"),
    ("orders", "orders"),
    ("providers", "providers"),
    ("optimal_assigned", "opt n"),
    ("greedy_assigned", "greedy n"),
    ("optimal_km", "optimal km"),
    ("greedy_km", "greedy km"),
    ("greedy_gap_pct", "gap %"),
    ("optimal_ms", "opt ms"),
    ("equals_dense_optimum", "= dense"),
]


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    cells = [[h for _, h in columns]] + [
        ["" if r.get(k) is None else str(r.get(k)) for k, _ in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_table(rows: list[dict]) -> str:
    matching = [r for r in rows if r.get("section") == "matching"]
    batch = [r for r in rows if r.get("section") == "batch"]
    out: list[str] = []
    if matching:
        out.append(f"Candidate lookup + ranking (covering(max_results={SHORTLIST}) + rank), per query")
        out.extend(_table(matching, _MATCHING_COLUMNS))
        out.append(
            "naive = geopy geodesic to every provider serving the item, filter, sort, rank (same output)"
        )
    if batch:
        if out:
            out.append("")
        out.append("Batch assignment: optimal (linear_sum_assignment over slots) vs greedy nearest-first")
        out.extend(_table(batch, _BATCH_COLUMNS))
    return "\n".join(out)
