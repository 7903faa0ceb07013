"""Provider index, ranking and batch assignment (pure, no database)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from geopy.distance import geodesic as geopy_geodesic
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from dispatch.benchmarks.dispatch import bench_matching, dense_optimum, format_table, random_batch_instance
from dispatch.geo.coords import geodesic_km, haversine_km
from dispatch.matching.assignment import BatchOrder, assign_greedy, assign_optimal
from dispatch.matching.index import ProviderIndex, ProviderPoint
from dispatch.matching.ranking import CandidateFacts, RankingWeights, rank

CENTRE = (30.27, 120.15)
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def provider(
    pid: int,
    lat: float = CENTRE[0],
    lon: float = CENTRE[1],
    *,
    radius_km: float = 5.0,
    items: set[int] | None = None,
    categories: set[int] | None = None,
    communities: set[int] | None = None,
) -> ProviderPoint:
    return ProviderPoint(
        id=pid,
        lat=lat,
        lon=lon,
        radius_km=radius_km,
        item_ids=frozenset(items if items is not None else {31}),
        category_ids=frozenset(categories or ()),
        community_ids=frozenset(communities or ()),
    )


def ids(hits: list[tuple[int, float]]) -> list[int]:
    return [pid for pid, _ in hits]


def query(
    index: ProviderIndex, lat: float = CENTRE[0], lon: float = CENTRE[1], **kw: int | None
) -> list[int]:
    args: dict = {"item_id": 31, "category_id": 3} | kw
    return ids(index.covering(lat=lat, lon=lon, **args))


# --- index ---------------------------------------------------------------------------------------


def test_radius_boundary_is_inclusive() -> None:
    q = (30.30, 120.20)
    exact = geodesic_km(*q, *CENTRE)
    inside = ProviderIndex([provider(1, radius_km=exact)])
    outside = ProviderIndex([provider(1, radius_km=math.nextafter(exact, 0.0))])
    assert inside.covering(lat=q[0], lon=q[1], item_id=31, category_id=3) == [(1, exact)]
    assert query(outside, *q) == []
    assert query(ProviderIndex([provider(1, radius_km=exact * (1 - 1e-9))]), *q) == []


def test_boundary_decided_by_geodesic_for_many_random_pairs() -> None:
    rng = np.random.default_rng(5)
    for _ in range(60):
        lat, lon = CENTRE[0] + rng.uniform(-0.2, 0.2), CENTRE[1] + rng.uniform(-0.2, 0.2)
        d = geodesic_km(lat, lon, *CENTRE)
        on_edge = ProviderIndex([provider(1, radius_km=d), provider(2, radius_km=math.nextafter(d, 0.0))])
        assert query(on_edge, lat, lon) == [1]
        assert query(on_edge, lat, lon, max_results=1) == [1]


def test_zero_radius_covers_only_its_own_point() -> None:
    index = ProviderIndex([provider(1, radius_km=0.0)])
    assert index.covering(lat=CENTRE[0], lon=CENTRE[1], item_id=31, category_id=3) == [(1, 0.0)]
    assert query(index, CENTRE[0] + 1e-6) == []


def test_item_versus_whole_category_service() -> None:
    index = ProviderIndex(
        [
            provider(1, items={31}),
            provider(2, items=set(), categories={3}),
            provider(3, items={31}, categories={3}),  # listed twice, returned once
            provider(4, items={41}, categories={4}),
        ]
    )
    assert sorted(query(index, item_id=31, category_id=3)) == [1, 2, 3]
    assert sorted(query(index, item_id=35, category_id=3)) == [2, 3]
    assert query(index, item_id=99, category_id=9) == []
    assert query(index, item_id=41, category_id=4) == [4]


def test_community_list_replaces_the_radius() -> None:
    far = (CENTRE[0] + 0.3, CENTRE[1])  # ~33 km away
    index = ProviderIndex(
        [
            provider(1, *far, radius_km=0.1, communities={7, 8}),
            provider(2, *far, radius_km=0.1, communities={7}, items={32}),
            provider(3, radius_km=50.0, communities={9}),  # a large radius does not count
        ]
    )
    hits = index.covering(lat=CENTRE[0], lon=CENTRE[1], item_id=31, category_id=3, community_id=7)
    assert hits == [(1, geodesic_km(*CENTRE, *far))]
    assert query(index, community_id=8) == [1]
    assert query(index, community_id=None) == []
    assert query(index, community_id=10) == []


def test_nearest_first_ties_by_id_and_max_results() -> None:
    index = ProviderIndex(
        [
            provider(5, CENTRE[0] + 0.02, CENTRE[1]),
            provider(3, CENTRE[0] + 0.02, CENTRE[1]),
            provider(9, CENTRE[0] + 0.01, CENTRE[1]),
            provider(1, CENTRE[0] + 0.03, CENTRE[1]),
        ]
    )
    hits = index.covering(lat=CENTRE[0], lon=CENTRE[1], item_id=31, category_id=3)
    assert ids(hits) == [9, 3, 5, 1]
    assert [d for _, d in hits] == sorted(d for _, d in hits)
    assert query(index, max_results=2) == [9, 3]
    assert query(index, max_results=0) == []


def test_geodesic_order_wins_where_haversine_order_differs() -> None:
    # At 30°N haversine overstates north-south distances (~+0.3 %) and understates east-west
    # ones, so four providers due east just beyond 5 km look nearer than one due north at 5 km.
    def at(km: float, bearing: float) -> tuple[float, float]:
        point = geopy_geodesic(kilometers=km).destination(CENTRE, bearing)
        return point.latitude, point.longitude

    east = [provider(10 + i, *at(5.010 + i * 0.001, 90.0), radius_km=20.0) for i in range(4)]
    north = provider(99, *at(5.000, 0.0), radius_km=20.0)
    index = ProviderIndex([*east, north])
    assert all(
        haversine_km(*CENTRE, p.lat, p.lon) < haversine_km(*CENTRE, north.lat, north.lon) for p in east
    )
    assert query(index, max_results=1) == [99]
    assert query(index, max_results=2) == [99, 10]
    assert query(index) == [99, 10, 11, 12, 13]


def test_wraps_the_antimeridian_and_handles_the_pole() -> None:
    index = ProviderIndex([provider(1, 0.0, 179.99, radius_km=5.0), provider(2, 89.99, 0.0, radius_km=5.0)])
    assert query(index, 0.0, -179.99) == [1]
    assert query(index, 89.99, 180.0) == [2]


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unique"):
        ProviderIndex([provider(1), provider(1)])
    with pytest.raises(ValueError, match="latitude"):
        ProviderIndex([provider(1, 95.0, 120.0)])
    with pytest.raises(ValueError, match="radius"):
        ProviderIndex([provider(1, radius_km=-1.0)])
    with pytest.raises(ValueError, match="longitude"):
        ProviderIndex([provider(1)]).covering(lat=30.0, lon=200.0, item_id=31, category_id=3)


def test_len_and_version() -> None:
    index = ProviderIndex([provider(1), provider(2)], version=42)
    assert len(index) == 2
    assert index.version == 42
    assert len(ProviderIndex([])) == 0
    assert query(ProviderIndex([])) == []


def _brute_force(providers, lat, lon, item_id, category_id, community_id):
    found = []
    for p in providers:
        if item_id not in p.item_ids and category_id not in p.category_ids:
            continue
        d = geodesic_km(lat, lon, p.lat, p.lon)
        inside = community_id in p.community_ids if p.community_ids else d <= p.radius_km
        if inside:
            found.append((d, p.id))
    return [(pid, d) for d, pid in sorted(found)]


def test_matches_a_brute_force_geodesic_scan_on_random_data() -> None:
    rng = random.Random(20250301)
    providers = []
    for pid in range(1, 201):
        lat, lon = CENTRE[0] + rng.uniform(-0.18, 0.18), CENTRE[1] + rng.uniform(-0.2, 0.2)
        cat = rng.randint(1, 2)
        whole = rng.random() < 0.3
        providers.append(
            provider(
                pid,
                lat,
                lon,
                radius_km=rng.uniform(0.5, 12.0),
                items=set() if whole else {cat * 10 + rng.randint(0, 2) for _ in range(rng.randint(1, 2))},
                categories={cat} if whole else set(),
                communities={rng.randint(1, 5)} if rng.random() < 0.1 else set(),
            )
        )
    index = ProviderIndex(providers)
    for _ in range(250):
        lat, lon = CENTRE[0] + rng.uniform(-0.2, 0.2), CENTRE[1] + rng.uniform(-0.22, 0.22)
        cat = rng.randint(1, 2)
        item = cat * 10 + rng.randint(0, 2)
        community = rng.choice([None, 1, 2, 3, 4, 5])
        expected = _brute_force(providers, lat, lon, item, cat, community)
        args = {"lat": lat, "lon": lon, "item_id": item, "category_id": cat, "community_id": community}
        assert index.covering(**args) == expected
        k = rng.randint(1, 8)
        assert index.covering(**args, max_results=k) == expected[:k]


# --- ranking -------------------------------------------------------------------------------------


def facts(pid: int = 1, **kw) -> CandidateFacts:
    base = {
        "provider_id": pid,
        "name": f"p{pid}",
        "distance_km": 2.0,
        "radius_km": 5.0,
        "star_level": 4.0,
        "open_count": 1,
        "capacity": 5,
        "last_offered_at": NOW - timedelta(days=1),
    }
    return CandidateFacts(**(base | kw))


def order_of(*candidates: CandidateFacts) -> list[int]:
    return [r.provider_id for r in rank(candidates, now=NOW)]


def test_nearer_wins_when_all_else_is_equal() -> None:
    assert order_of(facts(1, distance_km=4.0), facts(2, distance_km=1.0)) == [2, 1]


def test_rating_load_and_fairness_break_ties_in_the_documented_direction() -> None:
    assert order_of(facts(1, star_level=3.5), facts(2, star_level=4.8)) == [2, 1]
    assert order_of(facts(1, open_count=4), facts(2, open_count=0)) == [2, 1]
    recent, idle = NOW - timedelta(hours=1), NOW - timedelta(days=3)
    assert order_of(facts(1, last_offered_at=recent), facts(2, last_offered_at=idle)) == [2, 1]
    assert order_of(facts(1, last_offered_at=idle), facts(2, last_offered_at=None)) == [2, 1]
    assert order_of(facts(1, out_of_hours=True), facts(2)) == [2, 1]


def test_distance_outweighs_a_small_rating_difference() -> None:
    assert order_of(facts(1, distance_km=8.0, star_level=4.2), facts(2, distance_km=1.0, star_level=4.0)) == [
        2,
        1,
    ]


def test_reasons_and_parts() -> None:
    c = facts(
        distance_km=2.34,
        star_level=4.6,
        open_count=1,
        capacity=5,
        last_offered_at=NOW - timedelta(days=3, hours=2),
    )
    (r,) = rank([c], now=NOW)
    assert r.reasons == ["2.3 km", "4.6★", "1/5 在办", "3天未派单"]
    assert set(r.parts) == {"distance", "rating", "load", "fairness"}
    assert sum(r.parts.values()) == pytest.approx(r.score)
    assert 0.0 <= r.score <= 1.0
    (late,) = rank([facts(out_of_hours=True, last_offered_at=None)], now=NOW)
    assert late.reasons[-2:] == ["从未派单", "非工作时间"]
    assert late.parts["out_of_hours"] < 0
    assert sum(late.parts.values()) == pytest.approx(late.score)
    (fresh,) = rank([facts(last_offered_at=NOW - timedelta(hours=5))], now=NOW)
    assert fresh.reasons[-1] == "5小时未派单"


def test_scores_stay_in_unit_interval_for_extreme_inputs() -> None:
    weird = [
        facts(1, distance_km=0.0, star_level=9.0, open_count=-1, last_offered_at=None),
        facts(
            2,
            distance_km=500.0,
            star_level=0.0,
            open_count=9,
            capacity=0,
            last_offered_at=NOW + timedelta(days=1),
        ),
    ]
    for r in rank(weird, now=NOW, weights=RankingWeights(1.0, 1.0, 1.0, 1.0)):
        assert 0.0 <= r.score <= 1.0


def test_ordering_is_deterministic_with_ties_by_distance_then_id() -> None:
    same = [facts(pid) for pid in (7, 3, 5)]
    candidates = [*same, facts(9, distance_km=2.0), facts(2, distance_km=3.0)]
    expected = [3, 5, 7, 9, 2]
    for seed in range(5):
        random.Random(seed).shuffle(candidates)
        assert order_of(*candidates) == expected
    # Equal score but different distance: the nearer first, even with a larger id.
    zero_distance_weight = RankingWeights(distance=0.0, rating=1.0, load=0.0, fairness=0.0)
    ranked = rank(
        [facts(1, distance_km=3.0), facts(2, distance_km=1.0)], now=NOW, weights=zero_distance_weight
    )
    assert [r.provider_id for r in ranked] == [2, 1]


def test_weights_are_validated() -> None:
    with pytest.raises(ValueError):
        RankingWeights(distance=-0.1)
    with pytest.raises(ValueError):
        RankingWeights(0.0, 0.0, 0.0, 0.0)


# --- batch ---------------------------------------------------------------------------------------


def _max_cardinality(orders: list[BatchOrder], free: dict[int, int]) -> int:
    slots = [p for p in sorted(free) for _ in range(max(0, free[p]))]
    if not orders or not slots:
        return 0
    rows, cols = [], []
    for i, o in enumerate(orders):
        for j, p in enumerate(slots):
            if p in o.eligible:
                rows.append(i)
                cols.append(j)
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(orders), len(slots)))
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


def _check_valid(result, orders: list[BatchOrder], free: dict[int, int]) -> None:
    by_id = {o.order_id: o for o in orders}
    for order_id, p in result.assignments.items():
        assert p in by_id[order_id].eligible
    used: dict[int, int] = {}
    for p in result.assignments.values():
        used[p] = used.get(p, 0) + 1
    assert all(n <= free.get(p, 0) for p, n in used.items())
    assert result.total_km == pytest.approx(sum(by_id[o].eligible[p] for o, p in result.assignments.items()))
    assert sorted(result.unassigned) == sorted(set(by_id) - set(result.assignments))


def test_optimal_on_random_instances() -> None:
    rng = np.random.default_rng(9)
    for n_orders, n_providers in [(30, 12), (60, 40), (80, 25), (15, 60)]:
        orders, free = random_batch_instance(rng, n_orders, n_providers)
        free[1] = 0  # a provider with no free slot must never be used
        best, greedy, dense = (
            assign_optimal(orders, free),
            assign_greedy(orders, free),
            dense_optimum(orders, free),
        )
        _check_valid(best, orders, free)
        _check_valid(greedy, orders, free)
        assert 1 not in best.assignments.values()
        assert len(best.assignments) == _max_cardinality(orders, free)
        assert len(best.assignments) == len(dense.assignments)
        assert best.total_km == pytest.approx(dense.total_km, abs=1e-9)
        assert len(greedy.assignments) <= len(best.assignments)
        if len(greedy.assignments) == len(best.assignments):
            assert best.total_km <= greedy.total_km + 1e-9


def test_optimal_beats_greedy_on_a_crossing_pair() -> None:
    orders = [BatchOrder(1, {10: 1.0, 20: 10.0}), BatchOrder(2, {10: 2.0, 20: 100.0})]
    free = {10: 1, 20: 1}
    assert assign_greedy(orders, free).total_km == 101.0
    best = assign_optimal(orders, free)
    assert best.assignments == {1: 20, 2: 10}
    assert best.total_km == 12.0


def test_more_orders_assigned_beats_fewer_km() -> None:
    orders = [BatchOrder(1, {10: 1.0, 20: 1.5}), BatchOrder(2, {10: 5.0})]
    free = {10: 1, 20: 1}
    assert assign_greedy(orders, free).unassigned == [2]
    best = assign_optimal(orders, free)
    assert best.assignments == {1: 20, 2: 10}
    assert best.unassigned == []


def test_unassignable_orders_are_reported_in_input_order() -> None:
    orders = [
        BatchOrder(5, {}),
        BatchOrder(3, {10: 1.0}),
        BatchOrder(4, {30: 1.0}),  # provider 30 has no entry in free_slots
        BatchOrder(1, {10: 2.0, 20: 0.5}),
    ]
    free = {10: 1, 20: 0}
    for result in (assign_optimal(orders, free), assign_greedy(orders, free)):
        assert result.assignments == {3: 10}
        assert result.unassigned == [5, 4, 1]
    assert assign_optimal([], free).assignments == {}


def test_bad_batch_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        assign_optimal([BatchOrder(1, {}), BatchOrder(1, {})], {})
    with pytest.raises(ValueError, match=">= 0"):
        assign_greedy([BatchOrder(1, {10: -1.0})], {10: 1})


# --- bench ---------------------------------------------------------------------------------------


def test_bench_runs_on_tiny_sizes() -> None:
    rows = bench_matching(sizes=(200,), queries=20, batch_instances=1)
    matching = [r for r in rows if r["section"] == "matching"]
    batch = [r for r in rows if r["section"] == "batch"]
    assert len(matching) == 1 and matching[0]["providers"] == 200
    assert matching[0]["mismatches"] == 0
    assert matching[0]["naive_queries"] == 20
    assert batch and all(r["equals_dense_optimum"] for r in batch)
    table = format_table(rows)
    assert "p99 ms" in table and "gap %" in table
