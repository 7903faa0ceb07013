"""``sanshe seed-demo``: a whole demo district with three months of history, deterministic and once only.

The caller owns the transaction: nothing here commits. Seeding is skipped (and nothing changes)
when the demo district's area code already exists. The same ``now`` always gives the same data:
one ``random.Random`` drives every choice, in a fixed order.

Bulk rows (orders, their events/offers/ratings, calls) are built as plain dicts and inserted with
executemany ``INSERT … RETURNING`` in parameter order, so a few thousand orders take seconds, not
minutes; the standing data (areas, gazetteer, providers, residents) goes through the ORM.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Insert, func, insert, select, update
from sqlalchemy.orm import Session

from dispatch import facts as kpi_facts
from dispatch.auth.security import hash_password
from dispatch.catalogue.csvio import read_catalogue
from dispatch.catalogue.service import import_catalogue
from dispatch.seed.calls import CallBuilder, CallDraft
from dispatch.seed.district import DISTRICT_CODE
from dispatch.seed.draft import Draft
from dispatch.seed.history import HistoryBuilder
from dispatch.seed.lineup import build_providers
from dispatch.seed.timing import TZ, load_time_rules
from dispatch.seed.world import ProviderFacts, build_areas, build_places, build_residents, load_items
from models import (
    Area,
    Call,
    Category,
    Item,
    Offer,
    Order,
    OrderCounter,
    OrderEvent,
    Place,
    Provider,
    Rating,
    RatingOutcome,
    Resident,
    ResidentPhone,
    Role,
    User,
    call_order,
)

SEED = 20261122
DEMO_PASSWORD = "demo1234"  # demo only: printed by the CLI and the README, never for production
DEMO_USERS: list[tuple[str, Role, str]] = [
    ("admin", Role.ADMIN, "everything, including catalogue and user administration"),
    ("supervisor", Role.SUPERVISOR, "KPIs, overdue/escalated orders, manual dispatch, extensions, reopen"),
    ("operator1", Role.OPERATOR, "takes calls on extension 1001"),
    ("operator2", Role.OPERATOR, "takes calls on extension 1002"),
    ("orgadmin", Role.ORG_ADMIN, "admin of the first demo organisation (西湖区颐乐居家养老服务中心)"),
    ("worker", Role.WORKER, "a field worker of that organisation"),
]
_DISPLAY = {
    "admin": ("系统管理员", None),
    "supervisor": ("督办 陈静", None),
    "operator1": ("坐席 李婷", "1001"),
    "operator2": ("坐席 张敏", "1002"),
    "orgadmin": ("机构管理员", None),
    "worker": ("", None),
}
COUNTED = {
    "areas": Area,
    "places": Place,
    "categories": Category,
    "items": Item,
    "providers": Provider,
    "residents": Resident,
    "orders": Order,
    "offers": Offer,
    "events": OrderEvent,
    "calls": Call,
    "ratings": Rating,
    "users": User,
}


def _bulk(model: type) -> Insert:
    """An ORM bulk INSERT that keeps rows with NULLs in one batch (instead of one per NULL pattern)."""
    return insert(model).execution_options(render_nulls=True)


@dataclass
class SeedReport:
    created: bool
    counts: dict[str, int]


def counts(session: Session) -> dict[str, int]:
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in COUNTED.items()
    }


def _users(session: Session, providers: list[ProviderFacts], now: datetime) -> dict[str, int]:
    """The demo staff accounts (kept as they are when a username already exists)."""
    organisation = providers[0]
    worker = session.get_one(Provider, organisation.workers[0])
    existing = {u.username: u for u in session.scalars(select(User))}
    taken_extensions = {u.extension for u in existing.values() if u.extension}
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: once for all accounts
    for username, role, _note in DEMO_USERS:
        if username in existing:
            continue
        display, extension = _DISPLAY[username]
        provider_id = {"orgadmin": organisation.id, "worker": worker.id}.get(username)
        user = User(
            username=username,
            display_name=display or worker.name,
            role=role,
            password_hash=password_hash,
            provider_id=provider_id,
            extension=extension if extension not in taken_extensions else None,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        existing[username] = user
    session.flush()
    return {name: u.id for name, u in existing.items()}


def seed_demo(session: Session, *, now: datetime) -> SeedReport:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if session.scalar(select(Area.id).where(Area.code == DISTRICT_CODE)) is not None:
        return SeedReport(created=False, counts=counts(session))
    import_catalogue(session, read_catalogue())
    rng = random.Random(SEED)
    used_phones = set(session.scalars(select(ResidentPhone.e164)))

    layout = build_areas(session, rng, used_phones)
    flats = build_places(session, rng, layout)
    items = load_items(session)
    providers = build_providers(session, rng, layout, items, used_phones, now)
    users = _users(session, providers, now)
    residents = build_residents(session, rng, flats, used_phones, now)

    existing_counters = {
        day: last for day, last in session.execute(select(OrderCounter.day, OrderCounter.last))
    }
    rules = load_time_rules(session, TZ)
    history = HistoryBuilder(rng, now, items, residents, providers, users, rules)
    orders = history.run(existing_counters)
    call_builder = CallBuilder(rng, now, residents, users, used_phones)
    calls = call_builder.build(orders)

    ratings = _insert_history(session, orders, calls, call_builder.intake)
    _provider_stats(session, providers, history, ratings, now)
    _counters(session, history.counters, existing_counters)
    session.flush()
    return SeedReport(created=True, counts=counts(session))


def _insert_history(
    session: Session, orders: list[Draft], calls: list[CallDraft], intake: dict[int, CallDraft]
) -> list[dict[str, object]]:
    """Calls, then orders (pointing at their intake call), then the orders' child rows; returns the ratings."""
    call_ids = session.scalars(
        _bulk(Call).returning(Call.id, sort_by_parameter_order=True), [c.cols for c in calls]
    ).all()
    for call, call_id in zip(calls, call_ids, strict=True):
        call.id = call_id
    order_rows = [
        {**o.cols, "call_id": intake[index].id if index in intake else None} for index, o in enumerate(orders)
    ]
    order_ids = session.scalars(
        _bulk(Order).returning(Order.id, sort_by_parameter_order=True), order_rows
    ).all()

    def children(attr: str) -> list[dict[str, object]]:
        return [
            {**row, "order_id": oid}
            for o, oid in zip(orders, order_ids, strict=True)
            for row in getattr(o, attr)
        ]

    session.execute(_bulk(OrderEvent), children("events"))
    session.execute(_bulk(Offer), children("offers"))
    ratings = children("ratings")
    if ratings:
        session.execute(_bulk(Rating), ratings)
    links = [{"call_id": c.id, "order_id": order_ids[i]} for c in calls for i in c.orders]
    if links:
        session.execute(insert(call_order), links)
    for order_id in order_ids:  # bulk inserts bypass the unit of work that notes them
        kpi_facts.touch(session, order_id)
    for call in calls:
        kpi_facts.touch_call(session, call.id)
    return ratings


def _provider_stats(
    session: Session,
    providers: list[ProviderFacts],
    history: HistoryBuilder,
    ratings: list[dict[str, object]],
    now: datetime,
) -> None:
    """open_count = slots held at ``now``; rating totals and star level from the ratings."""
    stars: dict[int, list[int]] = {}
    for r in ratings:
        if r["outcome"] == RatingOutcome.RATED and r["provider_id"] is not None:
            stars.setdefault(r["provider_id"], []).append(r["stars"])  # type: ignore[arg-type]
    chooser = history.chooser
    rows = {
        p.id: p for p in session.scalars(select(Provider).where(Provider.id.in_([f.id for f in providers])))
    }
    for facts in providers:
        p = rows[facts.id]
        given = stars.get(facts.id, [])
        p.open_count = chooser.held[facts.id]
        p.rating_count = len(given)
        p.rating_sum = sum(given)
        if given:
            p.star_level = round(sum(given) / len(given), 2)
        p.last_offered_at = chooser.last_offered.get(facts.id)
        p.updated_at = now
    session.flush()


def _counters(session: Session, counters: dict[date, int], existing: dict[date, int]) -> None:
    """Keep the per-day order-number sequence past the seeded numbers."""
    fresh = [{"day": day, "last": last} for day, last in counters.items() if day not in existing]
    if fresh:
        session.execute(insert(OrderCounter), fresh)
    for day, last in counters.items():
        if day in existing:
            session.execute(update(OrderCounter).where(OrderCounter.day == day).values(last=last))
