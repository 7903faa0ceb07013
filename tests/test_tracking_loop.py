"""The tracking loop runs its registered jobs under a lease: one instance at a time, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.clock import FrozenClock
from dispatch.context import AdaptersMissing, AppContext
from dispatch.outbox.adapters import recording_adapters
from dispatch.tracking.scheduler import JOBS, Job, TrackingLoop


def make_ctx(settings, clock) -> AppContext:
    return AppContext.build(settings, clock, adapters=recording_adapters())


def test_registry_names_the_jobs() -> None:
    assert [j.name for j in JOBS] == [
        "expire_offers",
        "make_care_visits",
        "sweep_orders",
        "refresh_star_levels",
        "calendar_coverage",
        "prune_call_inbox",
        "prune_sign_in_codes",
        "send_outbox",
    ]


def test_one_instance_holds_the_lease_until_it_expires(settings, db_url) -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    ctx = make_ctx(settings, clock)
    ran: list[str] = []
    jobs = (Job("record", lambda s, c, now: ran.append(now.isoformat()) or 1),)
    a = TrackingLoop(ctx, jobs=jobs, holder="a")
    b = TrackingLoop(ctx, jobs=jobs, holder="b")
    try:
        assert a.tick() == {"record": 1}
        assert b.tick() is None  # a holds it
        assert a.tick() == {"record": 1}  # renewed
        clock.advance(a.ttl + timedelta(seconds=1))  # a died: its lease runs out
        assert b.tick() == {"record": 1}
        assert a.tick() is None
        assert len(ran) == 3
    finally:
        ctx.close()


def test_concurrent_ticks_never_run_twice(settings, db_url) -> None:
    """Two schedulers racing on one database: each round the jobs run exactly once."""
    clock = FrozenClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    ctx_a, ctx_b = make_ctx(settings, clock), make_ctx(settings, clock)
    runs: list[str] = []
    lock = threading.Lock()

    def job(holder: str) -> Job:
        def run(session, ctx, now) -> int:
            with lock:
                runs.append(holder)
            return 1

        return Job("count", run)

    loops = [
        TrackingLoop(ctx_a, jobs=(job("a"),), holder="a"),
        TrackingLoop(ctx_b, jobs=(job("b"),), holder="b"),
    ]
    try:
        for _ in range(10):
            barrier = threading.Barrier(2)

            def go(loop: TrackingLoop, barrier: threading.Barrier) -> None:
                barrier.wait()
                loop.tick()

            threads = [threading.Thread(target=go, args=(lp, barrier)) for lp in loops]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
        assert len(runs) == 10 and len(set(runs)) == 1, runs
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_failing_job_does_not_stop_the_others(settings, db_url) -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    ctx = make_ctx(settings, clock)

    def boom(session, ctx, now) -> int:
        raise RuntimeError("boom")

    loop = TrackingLoop(ctx, jobs=(Job("boom", boom), Job("fine", lambda s, c, n: 2)), holder="x")
    try:
        assert loop.tick() == {"boom": -1, "fine": 2}
    finally:
        ctx.close()


def test_real_jobs_tick_on_an_empty_database(settings, db_url) -> None:
    ctx = make_ctx(settings, FrozenClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC)))
    try:
        # An empty calendar covers no year, this one included: admins and supervisors are told.
        assert TrackingLoop(ctx).tick() == {
            "expire_offers": 0,
            "make_care_visits": 0,
            "sweep_orders": 0,
            "refresh_star_levels": 0,
            "calendar_coverage": 2,
            "prune_call_inbox": 0,
            "prune_sign_in_codes": 0,
            "send_outbox": 2,
        }
    finally:
        ctx.close()


def test_a_loop_that_sends_needs_its_adapters_wired(settings, db_url) -> None:
    ctx = AppContext.build(settings)  # as a CLI command builds it: no delivery adapters
    try:
        with pytest.raises(AdaptersMissing):
            TrackingLoop(ctx)
        assert TrackingLoop(ctx, jobs=JOBS[:-1]).jobs == JOBS[:-1]  # sending nothing, it needs none
    finally:
        ctx.close()


def test_app_starts_and_stops_the_loop(settings) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app

    live = settings.model_copy(update={"server": settings.server.model_copy(update={"tracking_loop": True})})
    with TestClient(create_app(live)) as client:
        assert client.get("/health").status_code == 200
