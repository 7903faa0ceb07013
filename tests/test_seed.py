"""``sanshe seed-demo``: counts, idempotency, determinism and the consistency of the generated history."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import make_engine, make_sessionmaker
from dispatch.geo.coords import haversine_km
from dispatch.orders.state import TRANSITIONS, Action
from dispatch.seed.demo import DEMO_PASSWORD, DEMO_USERS, SeedReport, seed_demo
from dispatch.seed.district import format_address
from dispatch.timelimits.calendar import library_years, seed_calendar
from models import (
    Area,
    AreaKind,
    Call,
    Category,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderCounter,
    OrderEvent,
    OrderStatus,
    Place,
    PlaceKind,
    Provider,
    ProviderKind,
    Rating,
    RatingOutcome,
    Resident,
    ResidentPhone,
    User,
    call_order,
)

NOW = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)  # a Friday, 14:30 in Hangzhou
TZ = ZoneInfo("Asia/Shanghai")
S = OrderStatus


@pytest.fixture(scope="module")
def new_db(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Callable[[], sessionmaker[Session]]:
    """A factory of empty SQLite databases built by the migrations (copies of the session template)."""

    def make() -> sessionmaker[Session]:
        path: Path = tmp_path_factory.mktemp("seed") / "t.db"
        shutil.copyfile(sqlite_template, path)
        return make_sessionmaker(make_engine(f"sqlite:///{path}"))

    return make


def _seed(factory: sessionmaker[Session]) -> SeedReport:
    """As ``sanshe migrate && sanshe seed-demo`` do it: the working-day calendar first."""
    with factory() as session:
        seed_calendar(session, library_years())
        report = seed_demo(session, now=NOW)
        session.commit()
    return report


@pytest.fixture(scope="module")
def seeded(new_db: Callable[[], sessionmaker[Session]]) -> sessionmaker[Session]:
    factory = new_db()
    report = _seed(factory)
    assert report.created
    return factory


@pytest.fixture
def db(seeded: sessionmaker[Session]) -> Iterator[Session]:
    with seeded() as session:
        yield session


def _count(db: Session, model: type, *where: object) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_counts_are_in_the_expected_ranges(db: Session) -> None:
    kinds = Counter(db.scalars(select(Area.kind)))
    assert kinds[AreaKind.DISTRICT] == 1
    assert kinds[AreaKind.STREET] == 4
    assert kinds[AreaKind.COMMUNITY] == 12
    assert 40 <= kinds[AreaKind.GRID] <= 60
    assert _count(db, Category) == 12
    assert _count(db, Item) == 120
    assert 25 <= _count(db, Provider, Provider.kind == ProviderKind.ORGANISATION) <= 35
    assert 130 <= _count(db, Provider, Provider.kind == ProviderKind.WORKER) <= 170
    assert 450 <= _count(db, Resident) <= 550
    assert 2000 <= _count(db, Order) <= 4000
    assert _count(db, Call) > _count(db, Order) // 2
    assert _count(db, Rating) > 1000
    place_kinds = Counter(db.scalars(select(Place.kind)))
    assert 20 <= place_kinds[PlaceKind.ROAD] <= 30
    assert 36 <= place_kinds[PlaceKind.COMPOUND] <= 60
    assert place_kinds[PlaceKind.BUILDING] >= 4 * place_kinds[PlaceKind.COMPOUND]
    assert place_kinds[PlaceKind.LANDMARK] >= 10


def test_seeding_twice_changes_nothing(seeded: sessionmaker[Session]) -> None:
    with seeded() as session:
        before = {
            m.__name__: _count(session, m)
            for m in (Area, Place, Provider, Resident, Order, Offer, Call, User)
        }
        report = seed_demo(session, now=datetime(2027, 1, 1, tzinfo=UTC))
        session.commit()
        after = {
            m.__name__: _count(session, m)
            for m in (Area, Place, Provider, Resident, Order, Offer, Call, User)
        }
    assert report.created is False
    assert after == before
    assert report.counts["orders"] == before["Order"]


def test_same_now_gives_the_same_data(
    seeded: sessionmaker[Session], new_db: Callable[[], sessionmaker[Session]]
) -> None:
    other = new_db()
    _seed(other)

    def snapshot(factory: sessionmaker[Session]) -> tuple[list[object], ...]:
        with factory() as s:
            residents = list(s.execute(select(Resident.name, Resident.address).order_by(Resident.id)))
            phones = list(s.scalars(select(ResidentPhone.e164).order_by(ResidentPhone.id)))
            orders = list(s.execute(select(Order.number, Order.status, Order.description).order_by(Order.id)))
        return residents, phones, orders

    assert snapshot(seeded) == snapshot(other)


def test_order_status_agrees_with_timestamps_and_timeline(db: Session) -> None:
    events: dict[int, list[OrderEvent]] = {}
    for e in db.scalars(select(OrderEvent).order_by(OrderEvent.id)):
        events.setdefault(e.order_id, []).append(e)
    pending = Counter(db.scalars(select(Offer.order_id).where(Offer.status == OfferStatus.PENDING)))
    numbers_by_day: Counter[str] = Counter()
    for o in db.scalars(select(Order)):
        day = o.created_at.astimezone(TZ).strftime("%Y%m%d")
        assert re.fullmatch(rf"{day}-\d{{4}}", o.number), o.number
        numbers_by_day[day] += 1
        assert o.created_at <= NOW
        timeline = events[o.id]
        assert timeline[0].action == "create" and timeline[0].to_status == S.RECEIVED
        status = None
        for previous, e in zip([None, *timeline], timeline, strict=False):
            assert e.at <= NOW
            if previous is not None:
                assert previous.at <= e.at, o.number
            if e.to_status is not None:
                assert e.from_status == status, (o.number, e.action)
                status = e.to_status
        assert status == o.status, o.number

        done = o.status in (S.COMPLETED, S.CLOSED)
        assert (o.completed_at is not None) == done, o.number
        assert (o.closed_at is not None) == (o.status == S.CLOSED), o.number
        assert (o.cancelled_at is not None) == (o.status == S.CANCELLED), o.number
        if o.status in (S.ACCEPTED, S.IN_SERVICE):
            assert o.accepted_at is not None and o.provider_id is not None
        assert (o.arrived_at is not None) == (
            o.status == S.IN_SERVICE or (done and o.checkin_lat is not None)
        )
        if o.status in (S.RECEIVED, S.OFFERED):
            assert o.accepted_at is None and o.completed_at is None
        assert pending[o.id] == (1 if o.status == S.OFFERED else 0), o.number
        if o.overdue:
            assert (o.completed_at or NOW) > o.complete_by
        if o.rating_stars is not None:
            assert o.status == S.CLOSED
    assert len(numbers_by_day) >= 85


def test_order_counters_continue_after_the_seeded_numbers(db: Session) -> None:
    last: dict[str, int] = {}
    for number in db.scalars(select(Order.number)):
        day, seq = number.split("-")
        last[day] = max(last.get(day, 0), int(seq))
    counters = {c.day.strftime("%Y%m%d"): c.last for c in db.scalars(select(OrderCounter))}
    assert counters == last


def test_open_count_is_the_load_held(db: Session) -> None:
    held = Counter(
        db.scalars(
            select(Order.provider_id).where(
                Order.status.in_((S.ACCEPTED, S.IN_SERVICE)), Order.provider_id.is_not(None)
            )
        )
    )
    held.update(db.scalars(select(Offer.provider_id).where(Offer.status == OfferStatus.PENDING)))
    for p in db.scalars(select(Provider)):
        assert p.open_count == held[p.id], p.name
        assert p.open_count <= p.capacity
    assert sum(held.values()) > 0
    for offer in db.scalars(select(Offer).where(Offer.status == OfferStatus.PENDING)):
        assert offer.sign_by is None or offer.sign_by > NOW


def test_ratings_feed_provider_stars(db: Session) -> None:
    stars: dict[int, list[int]] = {}
    for r in db.scalars(select(Rating).where(Rating.outcome == RatingOutcome.RATED)):
        assert r.stars is not None and 1 <= r.stars <= 5
        stars.setdefault(r.provider_id, []).append(r.stars)  # type: ignore[arg-type]
    for p in db.scalars(select(Provider).where(Provider.rating_count > 0)):
        assert p.rating_count == len(stars[p.id]) and p.rating_sum == sum(stars[p.id])
        assert p.star_level == pytest.approx(p.rating_sum / p.rating_count, abs=0.01)
    given = [s for v in stars.values() for s in v]
    assert sum(s >= 4 for s in given) / len(given) > 0.7
    assert _count(db, Rating, Rating.outcome == RatingOutcome.UNREACHABLE, Rating.stars.is_(None)) > 0


def test_phone_numbers_are_valid_e164(db: Session) -> None:
    numbers = list(db.scalars(select(ResidentPhone.e164)))
    numbers += [p for p in db.scalars(select(Provider.phone))]
    numbers += [p for p in db.scalars(select(Area.grid_worker_phone).where(Area.kind == AreaKind.GRID))]
    for number in numbers:
        assert number and number.startswith("+86")
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    assert len(set(db.scalars(select(ResidentPhone.e164)))) == _count(db, ResidentPhone)
    kinds = Counter(db.scalars(select(ResidentPhone.kind)))
    assert kinds["landline"] > 0 and _count(db, ResidentPhone) > _count(db, Resident)


def test_places_sit_in_their_community_and_grid(db: Session) -> None:
    areas = {a.id: a for a in db.scalars(select(Area))}
    places = {p.id: p for p in db.scalars(select(Place))}
    for p in places.values():
        assert p.community_id is not None and p.grid_id is not None, p.name
        community, grid = areas[p.community_id], areas[p.grid_id]
        assert community.kind == AreaKind.COMMUNITY and grid.parent_id == community.id
        if p.kind == PlaceKind.COMPOUND:
            assert haversine_km(p.lat, p.lon, community.lat, community.lon) <= 0.4
        if p.kind == PlaceKind.BUILDING:
            parent = places[p.parent_id]  # type: ignore[index]
            assert parent.kind == PlaceKind.COMPOUND and parent.grid_id == p.grid_id
            assert haversine_km(p.lat, p.lon, parent.lat, parent.lon) <= 0.08
    district = next(a for a in areas.values() if a.kind == AreaKind.DISTRICT)
    assert all(haversine_km(a.lat, a.lon, district.lat, district.lon) < 6 for a in areas.values())


def test_child_rows_belong_to_orders(db: Session) -> None:
    order_ids = set(db.scalars(select(Order.id)))
    assert set(db.scalars(select(Offer.order_id))) <= order_ids
    assert set(db.scalars(select(OrderEvent.order_id))) == order_ids
    assert set(db.scalars(select(Rating.order_id))) <= order_ids
    linked = set(db.scalars(select(call_order.c.order_id)))
    assert linked <= order_ids
    phone_orders = list(db.scalars(select(Order).where(Order.channel == "phone")))
    assert all(o.call_id is not None for o in phone_orders)
    calls = list(db.scalars(select(Call)))
    assert len({c.external_id for c in calls}) == len(calls)
    dispositions = Counter(c.disposition for c in calls)
    assert dispositions["answered"] > dispositions["abandoned"] > 0 and dispositions["missed"] > 0


def test_every_item_has_an_active_provider(db: Session) -> None:
    from dispatch.seed.world import load_items

    served_items = set()
    for p in db.scalars(select(Provider).where(Provider.status == "active")):
        for s in p.services:
            served_items.add(("item", s.item_id) if s.item_id else ("category", s.category_id))
    for item in load_items(db).values():
        assert ("item", item.id) in served_items or ("category", item.category_id) in served_items, item.code


def test_demo_users_log_in_with_the_demo_password(db: Session) -> None:
    from dispatch.auth.security import verify_password

    users = {u.username: u for u in db.scalars(select(User))}
    assert set(users) == {name for name, _, _ in DEMO_USERS}
    assert verify_password(users["admin"].password_hash, DEMO_PASSWORD)
    assert users["operator1"].extension == "1001" and users["operator2"].extension == "1002"
    org, worker = (
        db.get_one(Provider, users["orgadmin"].provider_id),
        db.get_one(Provider, users["worker"].provider_id),
    )
    assert org.kind == ProviderKind.ORGANISATION and worker.organisation_id == org.id


def test_resident_addresses_resolve_in_the_gazetteer(db: Session) -> None:
    from dispatch.geo.gazetteer import Gazetteer

    gazetteer = Gazetteer.load(db)
    residents = list(db.scalars(select(Resident)))
    hits = 0
    for r in residents:
        found = gazetteer.resolve(r.address)
        hits += (
            found is not None and found.precision == "building" and (found.lat, found.lon) == (r.lat, r.lon)
        )
    assert hits >= 0.98 * len(residents)


def test_format_address_is_canonical() -> None:
    assert format_address("文三路", 128, "阳光花园", 3, 2, 501) == "文三路128号 阳光花园 3幢2单元501室"
    assert format_address("文三路", 128, "阳光花园", "3幢") == "文三路128号 阳光花园 3幢"
    assert format_address("文三路", 88) == "文三路88号"
    assert format_address("", None, "翠苑一区", 5, None, 302) == "翠苑一区 5幢302室"


@pytest.fixture(scope="module")
def seeded_pg(postgres_server_url: str, postgres_template: str) -> Iterator[sessionmaker[Session]]:
    from tests.conftest import drop_postgres_database, fresh_postgres_url

    url = fresh_postgres_url(postgres_server_url, postgres_template)
    engine = make_engine(url)
    try:
        factory = make_sessionmaker(engine)
        assert _seed(factory).created
        yield factory
    finally:
        engine.dispose()
        drop_postgres_database(postgres_server_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded_on(request: pytest.FixtureRequest) -> sessionmaker[Session]:
    """The seeded demo on each backend (seeded once per module and backend)."""
    return request.getfixturevalue("seeded" if request.param == "sqlite" else "seeded_pg")


@pytest.mark.postgres
def test_same_demo_on_postgresql(seeded: sessionmaker[Session], seeded_pg: sessionmaker[Session]) -> None:
    models_to_compare = (Area, Place, Provider, Resident, Order, Offer, Call, Rating, User)
    with seeded() as lite, seeded_pg() as post:
        for model in models_to_compare:
            assert _count(post, model) == _count(lite, model), model.__name__
        numbers = lambda db: list(db.scalars(select(Order.number).order_by(Order.number).limit(50)))  # noqa: E731
        assert numbers(post) == numbers(lite)


def test_every_status_change_is_a_step_of_the_lifecycle_table(seeded_on: sessionmaker[Session]) -> None:
    """Every seeded event that sets a status is one the product's transition table allows, and
    each order ends where its last status change left it."""
    lifecycle = {a.value for a in Action}
    last: dict[int, OrderStatus] = {}
    seen: Counter[str] = Counter()
    with seeded_on() as db:
        final = dict(db.execute(select(Order.id, Order.status)).all())
        events = db.execute(
            select(
                OrderEvent.order_id, OrderEvent.action, OrderEvent.from_status, OrderEvent.to_status
            ).order_by(OrderEvent.id)
        )
        for order_id, action, from_status, to_status in events:
            step = (order_id, action, from_status, to_status)
            if to_status is None:
                # Changes no status (a callback nobody answered, …): never a lifecycle action.
                assert from_status is None and action not in lifecycle, step
                continue
            if action == "create":
                assert from_status is None and to_status == S.RECEIVED and order_id not in last, step
            else:
                sources, target = TRANSITIONS[Action(action)]
                assert from_status in sources and to_status == target, step
                assert from_status == last[order_id], step
            last[order_id] = to_status
            seen[action] += 1
    assert last == final
    # Every step of the table occurs, so the check above covers each of them.
    assert set(seen) == {"create", *lifecycle}, seen


def test_demo_addresses_geocode_offline(db: Session) -> None:
    """Every resident's address resolves to its building; varied spellings too; outsiders to nothing."""
    from dispatch.geo.evaluate import evaluate_geocoder
    from dispatch.geo.gazetteer import Gazetteer

    gazetteer = Gazetteer.load(db)
    result = evaluate_geocoder(gazetteer)
    assert result.cases > 1000
    assert result.building / result.cases >= 0.98, result.format()
    assert result.wrong == 0 and result.false_positives == 0, result.format()


def test_kpi_facts_are_built_for_the_seeded_history(db: Session) -> None:
    from tests.support.facts import assert_facts_current

    assert assert_facts_current(db) >= db.scalar(select(func.count(Order.id))) > 0
