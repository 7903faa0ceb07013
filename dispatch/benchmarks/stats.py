"""``sanshe bench stats``: a month of KPIs, grouped, over a database of N synthetic orders.

The database is built by the migrations (a temporary SQLite file unless ``backend_url`` names
an empty migrated database) and filled with bulk inserts: N orders over four months across the
12 catalogue categories and ~200 providers, with their offers (about 1.3 per order), ratings,
and about one inbound call per order. Then one month is summarised overall and by each grouping;
every timing is the median and the p99 (nearest rank) of 20 runs after a first (cold) run, which
is reported too. The fact rows the summary reads are built after the bulk inserts, as the
migration builds them for an existing database; then the tables are analysed (on PostgreSQL
vacuumed too, as autovacuum does after such inserts).
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dispatch import facts, migrate
from dispatch.catalogue.csvio import read_catalogue
from dispatch.catalogue.service import import_catalogue
from dispatch.db import make_engine, make_sessionmaker, transaction
from dispatch.reports.kpis import GroupBy, summarise
from dispatch.reports.league import Period, Rules, league
from dispatch.settings import Settings
from models import (
    Area,
    AreaKind,
    Base,
    Call,
    CallDirection,
    Channel,
    Disposition,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Provider,
    ProviderKind,
    Rating,
    RatingOutcome,
)

CST = timezone(timedelta(hours=8))
START = datetime(2025, 1, 1, tzinfo=CST)
DAYS = 120
MONTH = (datetime(2025, 2, 1, tzinfo=CST), datetime(2025, 3, 1, tzinfo=CST))
LEAGUE_PERIOD = "2025-02"  # MONTH, in the default [locale] timezone
PROVIDERS = 200
COMMUNITIES = 40
CHUNK = 20_000
RUNS = 20
TARGET_P50_MS = 300.0
TARGET_P99_MS = 500.0
GROUPINGS: tuple[GroupBy | None, ...] = (
    GroupBy.CATEGORY,
    GroupBy.PROVIDER,
    None,
    GroupBy.DAY,
    GroupBy.ITEM,
    GroupBy.COMMUNITY,
    GroupBy.WEEK,
    GroupBy.MONTH,
)
# Current status of the synthetic orders (cumulative shares).
STATUS_SHARES = (
    (0.04, OrderStatus.CANCELLED),
    (0.06, OrderStatus.RECEIVED),
    (0.08, OrderStatus.OFFERED),
    (0.10, OrderStatus.ACCEPTED),
    (0.12, OrderStatus.IN_SERVICE),
    (0.40, OrderStatus.COMPLETED),
    (1.00, OrderStatus.CLOSED),
)
STARS = np.array([5, 4, 3, 2, 1])
STAR_SHARES = np.array([0.5, 0.25, 0.12, 0.08, 0.05])
DISPOSITIONS = (Disposition.ANSWERED, Disposition.ABANDONED, Disposition.MISSED, Disposition.VOICEMAIL)
DISPOSITION_SHARES = np.array([0.85, 0.08, 0.05, 0.02])


class _Stamps:
    """Timestamps as text the database stores directly, from seconds after START."""

    def __init__(self, dialect: str) -> None:
        self.epoch = np.datetime64(START.astimezone(UTC).replace(tzinfo=None), "us")
        # SQLite keeps naive UTC text (what UTCDateTime writes); PostgreSQL reads the offset.
        self.suffix = "+00:00" if dialect == "postgresql" else ""

    def __call__(self, seconds: np.ndarray, present: np.ndarray | None = None) -> list[str | None]:
        text = np.datetime_as_string(
            self.epoch + np.round(seconds * 1e6).astype("timedelta64[us]"), unit="us"
        )
        text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")  # the ISO "T" → " "
        if self.suffix:
            text = np.char.add(text, self.suffix)
        return text.tolist() if present is None else np.where(present, text, None).tolist()


def _insert(session: Session, model: type[Base], columns: dict[str, Any], n: int) -> int:
    """Insert n rows given column-wise (lists, or one value for every row), in chunks.

    The values are already what the database stores (timestamps as UTC text, enums as their
    values) and go straight to the driver's executemany: SQLAlchemy's per-value conversion
    (``UTCDateTime`` costs several µs a value) and per-row parameter building would otherwise be
    most of the cost of a million-row insert. (The ORM's ``insert(Model)`` also splits the rows
    into one statement per pattern of None values.)
    """
    conn = session.connection()
    positional = type(conn.dialect)(paramstyle="qmark" if conn.dialect.name == "sqlite" else "format")
    compiled = insert(model.__table__).compile(dialect=positional, column_keys=list(columns))
    missing = [name for name in compiled.positiontup or () if name not in columns]
    if missing:
        raise ValueError(f"{model.__tablename__}: no values for {', '.join(missing)}")
    values = [v if isinstance(v, list) else [v] * n for v in (columns[k] for k in compiled.positiontup or ())]
    for lo in range(0, n, CHUNK):
        conn.exec_driver_sql(str(compiled), list(zip(*(v[lo : lo + CHUNK] for v in values), strict=True)))
    return n


def _world(session: Session) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Catalogue, communities and providers: (item ids, their category ids, community ids, provider ids)."""
    import_catalogue(session, read_catalogue())
    items = np.array(session.execute(select(Item.id, Item.category_id).order_by(Item.id)).all())
    district = Area(kind=AreaKind.DISTRICT, code="BD", name="基准区", lat=30.27, lon=120.15)
    session.add(district)
    session.flush()
    communities = [
        Area(
            kind=AreaKind.COMMUNITY,
            code=f"BC{n}",
            name=f"基准{n}社区",
            parent_id=district.id,
            lat=30.2,
            lon=120.1,
        )
        for n in range(COMMUNITIES)
    ]
    # A tenth of the providers are organisations, the rest their workers (the league's two kinds).
    organisations = [
        Provider(kind=ProviderKind.ORGANISATION, name=f"服务机构{n:02d}", lat=30.27, lon=120.15)
        for n in range(PROVIDERS // 10)
    ]
    session.add_all(communities + organisations)
    session.flush()
    workers = [
        Provider(
            kind=ProviderKind.WORKER,
            name=f"服务方{n:03d}",
            lat=30.27,
            lon=120.15,
            organisation_id=organisations[n % len(organisations)].id,
        )
        for n in range(PROVIDERS - len(organisations))
    ]
    session.add_all(workers)
    session.flush()
    providers = organisations + workers
    return items[:, 0], items[:, 1], [c.id for c in communities], [p.id for p in providers]


def _nullable(values: np.ndarray, present: np.ndarray) -> list[Any]:
    return np.where(present, values.astype(object), None).tolist()


def build_database(session: Session, orders: int, seed: int = 7) -> dict[str, int]:
    """Fill an empty migrated database with synthetic history; returns the row counts."""
    rng = np.random.default_rng(seed)
    stamp = _Stamps(session.get_bind().dialect.name)
    item_ids, category_ids, community_ids, provider_ids = _world(session)
    n = orders
    t0 = np.sort(rng.uniform(0, DAYS * 86400, n))  # ids follow creation time, as in real life
    status_names = np.array([status.value for _, status in STATUS_SHARES])
    status = status_names[np.searchsorted([share for share, _ in STATUS_SHARES], rng.uniform(0, 1, n))]
    cancelled = status == OrderStatus.CANCELLED.value
    accepted = ~np.isin(
        status, [OrderStatus.CANCELLED.value, OrderStatus.RECEIVED.value, OrderStatus.OFFERED.value]
    )
    arrived = accepted & (status != OrderStatus.ACCEPTED.value)
    done = np.isin(status, [OrderStatus.COMPLETED.value, OrderStatus.CLOSED.value])
    closed = status == OrderStatus.CLOSED.value
    item = rng.integers(0, len(item_ids), n)
    community = rng.integers(0, len(community_ids) + 2, n)  # the last two: no community known
    pick = rng.integers(0, len(provider_ids), n)
    provider = np.array(provider_ids)[pick]
    # A returned offer went to the next provider in the list before the order's own accepted it.
    other_provider = np.array(provider_ids)[(pick + 1) % len(provider_ids)]
    to_accept = rng.lognormal(np.log(20 * 60), 0.8, n)
    to_arrive = to_accept + rng.lognormal(np.log(2 * 3600), 0.7, n)
    to_complete = to_arrive + rng.lognormal(np.log(3600), 0.9, n)
    limit = rng.choice([2 * 3600, 24 * 3600, 5 * 86400], n, p=[0.1, 0.2, 0.7])
    stars = rng.choice(STARS, n, p=STAR_SHARES)
    ids = np.arange(1, n + 1)
    created = stamp(t0)
    _insert(
        session,
        Order,
        {
            "id": ids.tolist(),
            "number": [f"B{i:09d}" for i in range(1, n + 1)],
            "channel": Channel.PHONE.value,
            "status": status.tolist(),
            "priority": "normal",
            "caller_phone": [f"+86138{i % 300_000:08d}" for i in range(n)],
            "item_id": item_ids[item].tolist(),
            "category_id": category_ids[item].tolist(),
            "description": "基准工单",
            "suggestions": "[]",
            "address": "",
            "community_id": _nullable(
                np.array(community_ids + [0, 0])[community], community < len(community_ids)
            ),
            "provider_id": _nullable(provider, accepted),
            "sign_by": stamp(t0 + 1800),
            "complete_by": stamp(t0 + limit),
            "supervision": "none",
            "overdue": False,
            "extension_days": 0,
            "reopen_count": (rng.uniform(0, 1, n) < 0.03).astype(int).tolist(),
            "return_count": 0,
            "accepted_at": stamp(t0 + to_accept, accepted),
            "arrived_at": stamp(t0 + to_arrive, arrived),
            "checkin_far": False,
            "checkout_far": False,
            "completed_at": stamp(t0 + to_complete, done),
            "completion_note": "",
            "closed_at": stamp(t0 + to_complete + 86400, closed),
            "cancelled_at": stamp(t0 + 600, cancelled),
            "rating_stars": _nullable(stars, closed),
            "created_at": created,
            "updated_at": created,
        },
        n,
    )
    session.commit()
    counts = {"orders": n}
    counts["offers"] = _insert_offers(
        session, rng, stamp, t0, to_accept, status, accepted, provider, other_provider
    )
    session.commit()
    rating_draw = rng.uniform(0, 1, n)
    rated_or_not = closed & (rating_draw < 0.85)
    rated = rating_draw[rated_or_not] < 0.7
    m = int(rated_or_not.sum())
    counts["ratings"] = _insert(
        session,
        Rating,
        {
            "order_id": ids[rated_or_not].tolist(),
            "provider_id": provider[rated_or_not].tolist(),
            "outcome": np.where(rated, RatingOutcome.RATED.value, RatingOutcome.UNREACHABLE.value).tolist(),
            "stars": _nullable(stars[rated_or_not], rated),
            "comment": "",
            "channel": "phone",
            "created_at": stamp((t0 + to_complete + 20 * 3600)[rated_or_not]),
        },
        m,
    )
    session.commit()
    counts["calls"] = _insert_calls(session, rng, stamp, t0)
    session.commit()
    return counts


def build_facts(session: Session) -> int:
    """The KPI fact rows of the bulk-inserted orders and calls, as the migration builds them (the bulk
    inserts above bypass the sessions that keep them)."""
    written = facts.backfill(session.connection()) + facts.backfill_calls(session.connection())
    session.commit()
    return written


def _insert_offers(
    session: Session,
    rng: np.random.Generator,
    stamp: _Stamps,
    t0: np.ndarray,
    to_accept: np.ndarray,
    status: np.ndarray,
    accepted: np.ndarray,
    provider: np.ndarray,
    other_provider: np.ndarray,
) -> int:
    """An accepted offer per accepted order, for a quarter of them a declined or expired one to
    another provider before it, and a pending offer per offered order."""
    n = len(t0)
    returned = np.flatnonzero(accepted & (rng.uniform(0, 1, n) < 0.25))
    declined = rng.uniform(0, 1, len(returned)) < 0.6
    taken = np.flatnonzero(accepted)
    pending = np.flatnonzero(status == OrderStatus.OFFERED.value)
    order_ids = [returned, taken, pending]
    providers = [other_provider[returned], provider[taken], provider[pending]]
    statuses = [
        np.where(declined, OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value),
        np.full(len(taken), OfferStatus.ACCEPTED.value),
        np.full(len(pending), OfferStatus.PENDING.value),
    ]
    responded = [
        t0[returned] + np.where(declined, 300.0, 1860.0),  # declined after 5 min, expired at the limit
        t0[taken] + to_accept[taken],
        np.full(len(pending), np.nan),
    ]
    order_index = np.concatenate(order_ids)
    by_order = np.argsort(order_index, kind="stable")
    order_index = order_index[by_order]
    responded_at = np.concatenate(responded)[by_order]
    return _insert(
        session,
        Offer,
        {
            "order_id": (order_index + 1).tolist(),
            "provider_id": np.concatenate(providers)[by_order].tolist(),
            "status": np.concatenate(statuses)[by_order].tolist(),
            "mode": "auto",
            "offered_at": stamp(t0[order_index] + 60),
            "sign_by": stamp(t0[order_index] + 1860),
            "responded_at": stamp(np.nan_to_num(responded_at), ~np.isnan(responded_at)),
            "reason": "",
            "reasons": "[]",
            "out_of_hours": False,
        },
        len(order_index),
    )


def _insert_calls(session: Session, rng: np.random.Generator, stamp: _Stamps, t0: np.ndarray) -> int:
    """One inbound call five minutes before each order, from a pool of callers that call again."""
    n = len(t0)
    callers = rng.integers(0, max(1, n // 3), n)
    disposition = np.array([d.value for d in DISPOSITIONS])[
        rng.choice(len(DISPOSITIONS), n, p=DISPOSITION_SHARES)
    ]
    answered = disposition == Disposition.ANSWERED.value
    started = t0 - 300
    return _insert(
        session,
        Call,
        {
            "source": "bench",
            "external_id": [f"b{i}" for i in range(n)],
            "direction": CallDirection.INBOUND.value,
            "caller": [f"+86139{c:08d}" for c in callers.tolist()],
            "callee": "",
            "queue": "",
            "operator_ext": "",
            "started_at": stamp(started),
            "answered_at": stamp(started + rng.exponential(12.0, n), answered),
            "ended_at": stamp(started + 240),
            "hold_seconds": 0,
            "talk_seconds": 0,
            "disposition": disposition.tolist(),
            "recording_url": "",
            "ivr_digits": "",
        },
        n,
    )


def _time_ms(session: Session, group_by: GroupBy | None, runs: int) -> tuple[float, list[float], int]:
    samples = []
    groups = 0
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        result = summarise(session, start=MONTH[0], end=MONTH[1], group_by=group_by)
        samples.append((time.perf_counter() - t0) * 1000)
        groups = len(result.groups)
        session.rollback()  # release the read snapshot between runs, as separate requests would
    return samples[0], samples[1:], groups


LEAGUE_RUNS = 5


def _time_league(session: Session, kind: ProviderKind, runs: int) -> tuple[float, list[float], int]:
    """The star evaluation of the month (``GET /api/v1/stats/providers``): this month's and the
    month before's provider figures (for the star change and 淘汰预警) and the complaints."""
    rules = Rules.from_settings(Settings())  # the defaults: Asia/Shanghai, as MONTH
    samples = []
    rows = 0
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        rows = len(league(session, period=Period.parse(LEAGUE_PERIOD), kind=kind, rules=rules).items)
        samples.append((time.perf_counter() - t0) * 1000)
        session.rollback()
    return samples[0], samples[1:], rows


def _rank(samples: list[float], fraction: float) -> float:
    return sorted(samples)[math.ceil(len(samples) * fraction) - 1]


def bench_stats(orders: int = 1_000_000, backend_url: str | None = None, runs: int = RUNS) -> dict[str, Any]:
    """Build the database, then time one month's summary per grouping (see the module docstring)."""
    tmp = None if backend_url else tempfile.TemporaryDirectory(prefix="sanshe-bench-stats-")
    url = backend_url or f"sqlite:///{Path(tmp.name) / 'stats.db'}"  # type: ignore[union-attr]
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        t0 = time.perf_counter()
        with transaction(sessions) as session:
            counts = build_database(session, orders)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with transaction(sessions) as session:
            counts["facts"] = build_facts(session)
        facts_s = time.perf_counter() - t0
        with engine.connect() as conn:
            # Fresh statistics, as a running server would have; on PostgreSQL also the visibility
            # map autovacuum keeps, which lets a past month be read from the fact keys' index alone.
            if engine.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        timings: dict[str, dict[str, Any]] = {}
        with sessions() as session:
            in_month = summarise(session, start=MONTH[0], end=MONTH[1]).groups[0].metrics["received"]
            for group_by in GROUPINGS:
                cold, warm, groups = _time_ms(session, group_by, runs)
                timings[group_by.value if group_by else "overall"] = {
                    "cold_ms": cold,
                    "median_ms": statistics.median(warm),
                    "p99_ms": _rank(warm, 0.99),
                    "groups": groups,
                }
            league_timings: dict[str, dict[str, Any]] = {}
            for kind in ProviderKind:
                cold, warm, rows = _time_league(session, kind, min(runs, LEAGUE_RUNS))
                league_timings[kind.value] = {
                    "cold_ms": cold,
                    "median_ms": statistics.median(warm),
                    "max_ms": max(warm),
                    "rows": rows,
                }
        engine.dispose()
        return {
            "backend": engine.dialect.name,
            "rows": counts,
            "month_orders": in_month,
            "build_s": build_s,
            "facts_s": facts_s,
            "timings": timings,
            "league": league_timings,
            "runs": runs,
            "load": os.getloadavg(),
        }
    finally:
        if tmp is not None:
            tmp.cleanup()


def format_stats(result: dict[str, Any]) -> str:
    rows = result["rows"]
    lines = [
        f"stats ({result['backend']}): {rows['orders']:,} orders, {rows['offers']:,} offers, "
        f"{rows['ratings']:,} ratings, {rows['calls']:,} calls built in {result['build_s']:.1f} s; "
        f"{rows['facts']:,} fact rows backfilled in {result['facts_s']:.1f} s; "
        f"one month = {result['month_orders']:,} orders",
        f"  {result['runs']} runs after a cold one; load average {result['load'][0]:.1f} at the end",
        f"  {'group_by':<10} {'groups':>6} {'p50 ms':>7} {'p99 ms':>7} {'cold ms':>8}"
        f"  (targets p50 ≤ {TARGET_P50_MS:.0f} ms, p99 ≤ {TARGET_P99_MS:.0f} ms)",
    ]
    for name, t in result["timings"].items():
        over = t["median_ms"] > TARGET_P50_MS or t["p99_ms"] > TARGET_P99_MS
        flag = "  over target" if over else ""
        lines.append(
            f"  {name:<10} {t['groups']:>6} {t['median_ms']:>7.0f} {t['p99_ms']:>7.0f} {t['cold_ms']:>8.0f}{flag}"
        )
    league_runs = min(result["runs"], LEAGUE_RUNS)
    lines.append(f"  league table of the month ({league_runs} runs after a cold one; no target)")
    lines.append(f"  {'kind':<13} {'rows':>4} {'p50 ms':>7} {'max ms':>7} {'cold ms':>8}")
    for kind, t in result["league"].items():
        lines.append(
            f"  {kind:<13} {t['rows']:>4} {t['median_ms']:>7.0f} {t['max_ms']:>7.0f} {t['cold_ms']:>8.0f}"
        )
    return "\n".join(lines)
