"""One tracking tick with N open orders of which a fraction is due (target: 100k open, 1 % due, ≤ 1 s).

The orders are accepted home visits spread over providers; the due ones have reached their
reminder or deadline, the others are hours away. Every job of the registry runs (offer expiry,
the sweep, star levels, the outbox), as in production; the tick is timed end to end, then a
tick sending one batch of the messages the first one wrote, and, once the outbox is empty, a tick
with nothing due (the idle cost).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import timedelta

from sqlalchemy import insert, select

from dispatch import migrate
from dispatch.catalogue.csvio import read_catalogue
from dispatch.catalogue.service import import_catalogue
from dispatch.clock import FrozenClock
from dispatch.context import AppContext
from dispatch.db import transaction
from dispatch.outbox.adapters import logging_adapters
from dispatch.settings import Settings
from dispatch.timelimits.calendar import library_years, seed_calendar
from dispatch.tracking.scheduler import TrackingLoop
from models import Channel, Item, Order, OrderStatus, Provider, ProviderKind


def _populate(ctx: AppContext, open_orders: int, due_fraction: float, rng: random.Random) -> int:
    now = ctx.clock.now()
    with transaction(ctx.sessions) as s:
        import_catalogue(s, read_catalogue())
        seed_calendar(s, library_years())
        items = list(s.execute(select(Item.id, Item.category_id).where(Item.sla_class_code == "priority")))
        s.execute(
            insert(Provider),
            [
                {
                    "kind": ProviderKind.WORKER,
                    "name": f"bench {i}",
                    "lat": 30.27,
                    "lon": 120.13,
                    "capacity": 10_000,
                    "phone": "+8613900000000",
                }
                for i in range(200)
            ],
        )
        provider_ids = list(s.scalars(select(Provider.id)))
    due = int(open_orders * due_fraction)
    rows = []
    for n in range(open_orders):
        item_id, category_id = rng.choice(items)
        created = now - timedelta(hours=rng.uniform(1, 20))
        is_due = n < due
        rows.append(
            {
                "number": f"B{n:09d}",
                "channel": Channel.PHONE,
                "status": OrderStatus.ACCEPTED,
                "item_id": item_id,
                "category_id": category_id,
                "description": "bench",
                "provider_id": rng.choice(provider_ids),
                "created_at": created,
                "updated_at": created,
                "accepted_at": created + timedelta(minutes=10),
                # Due ones have passed their deadline a little; the others are hours from anything.
                "complete_by": now - timedelta(minutes=5) if is_due else now + timedelta(hours=10),
                "next_check_at": now - timedelta(minutes=1) if is_due else now + timedelta(hours=9),
            }
        )
    with transaction(ctx.sessions) as s:
        for start in range(0, len(rows), 10_000):
            s.execute(insert(Order), rows[start : start + 10_000])
    return due


def bench_tracking(
    open_orders: int = 100_000, due_fraction: float = 0.01, database_url: str | None = None
) -> dict[str, float]:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="sanshe-bench-tracking-") as tmp:
        url = database_url or f"sqlite:///{tmp}/tracking.db"
        migrate.upgrade(url)
        from datetime import UTC, datetime

        clock = FrozenClock(datetime(2026, 3, 4, 6, 0, tzinfo=UTC))
        ctx = AppContext.build(Settings(database_url=url), clock, adapters=logging_adapters())
        try:
            loop = TrackingLoop(ctx, holder="bench")
            loop.tick()  # warm-up on the empty database: a running server has paid its imports long ago
            started = time.perf_counter()
            due = _populate(ctx, open_orders, due_fraction, rng)
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            handled = loop.tick() or {}
            tick_s = time.perf_counter() - started
            started = time.perf_counter()
            sent = (loop.tick() or {}).get("send_outbox", 0)  # messages the first tick wrote (one batch)
            send_s = time.perf_counter() - started
            for _ in range(100):  # the rest of the outbox, then the loop is truly idle
                if not (loop.tick() or {}).get("send_outbox", 0):
                    break
            started = time.perf_counter()
            loop.tick()
            idle_s = time.perf_counter() - started
        finally:
            ctx.close()
    return {
        "open": open_orders,
        "due": due,
        "build_s": build_s,
        "tick_s": tick_s,
        "send_tick_s": send_s,
        "sent": sent,
        "idle_tick_s": idle_s,
        "swept": handled.get("sweep_orders", 0),
    }


def format_tracking(r: dict[str, float]) -> str:
    return (
        f"tracking tick: {r['open']:.0f} open orders, {r['due']:.0f} due → {r['tick_s'] * 1000:.0f} ms "
        f"(target ≤ 1000 ms; swept {r['swept']:.0f}); a tick sending {r['sent']:.0f} outbox messages: "
        f"{r['send_tick_s'] * 1000:.0f} ms; with nothing due: {r['idle_tick_s'] * 1000:.0f} ms; "
        f"data built in {r['build_s']:.1f} s"
    )
