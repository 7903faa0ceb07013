"""The demo history runs on the product's time limits: the SLA classes and item overrides in the
database, the working-day calendar with its holidays, and ``dispatch/timelimits``' arithmetic."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.catalogue.csvio import read_catalogue
from dispatch.catalogue.service import import_catalogue
from dispatch.db import make_engine, make_sessionmaker
from dispatch.orders.offers import DEFAULT_SIGN_FOR
from dispatch.seed.demo import seed_demo
from dispatch.seed.timing import REMIND_BEFORE
from dispatch.timelimits.calendar import WorkCalendar, library_years, load_calendar, seed_calendar
from dispatch.timelimits.deadlines import (
    Limits,
    add_limit,
    auto_close_at,
    callback_due,
    ladder,
    order_deadlines,
)
from dispatch.timelimits.sla import effective_limits
from models import (
    OPEN_STATUSES,
    ClockKind,
    Item,
    Offer,
    Order,
    OrderEvent,
    Priority,
    SlaClass,
    Supervision,
)
from tests.test_seed import NOW, TZ

NATIONAL_DAY = date(2026, 10, 1)  # 10-01..07 off in 2026, inside the 90 days before NOW


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Session]:
    path = tmp_path_factory.mktemp("seed-deadlines") / "t.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_sessionmaker(engine)() as session:
        seed_calendar(session, library_years())  # as `sanshe migrate` does before seed-demo
        assert seed_demo(session, now=NOW).created
        session.commit()
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def calendar(db: Session) -> WorkCalendar:
    cal = load_calendar(db, TZ)
    assert not cal.is_workday(NATIONAL_DAY)
    return cal


@pytest.fixture(scope="module")
def limits(db: Session) -> dict[tuple[int, Priority], Limits]:
    """Each order's limits as the product works them out (urgent orders on the urgent class)."""
    items = {i.id: i for i in db.scalars(select(Item))}
    keys = set(db.execute(select(Order.item_id, Order.priority)).all())
    return {(item_id, p): effective_limits(db, items[item_id], p) for item_id, p in keys}


def _reopened_at(db: Session) -> dict[int, datetime]:
    """The last reopening of each reopened order: its deadlines were set afresh from then."""
    at: dict[int, datetime] = {}
    for order_id, moment in db.execute(
        select(OrderEvent.order_id, OrderEvent.at)
        .where(OrderEvent.action == "reopen")
        .order_by(OrderEvent.id)
    ):
        at[order_id] = moment
    return at


def test_order_deadlines_are_the_products(
    db: Session, calendar: WorkCalendar, limits: dict[tuple[int, Priority], Limits]
) -> None:
    plain = WorkCalendar({}, tz=TZ)  # Mon–Fri only: what the seed used to assume
    reopened = _reopened_at(db)
    checked = across_holiday = moved_by_calendar = 0
    for o in db.scalars(select(Order).where(Order.extension_days == 0)):
        start = reopened.get(o.id, o.created_at)
        rule = limits[(o.item_id, o.priority)]
        expected = order_deadlines(start, rule, calendar)
        assert (o.sign_by, o.complete_by) == (expected.sign_by, expected.complete_by), o.number
        checked += 1
        weekdays_only = order_deadlines(start, rule, plain).complete_by
        moved_by_calendar += weekdays_only != o.complete_by
        runs_into_holiday = start.astimezone(TZ).date() < NATIONAL_DAY <= weekdays_only.astimezone(TZ).date()
        if rule.clock == ClockKind.WORKING_DAYS and runs_into_holiday:
            # National Day's days off do not count, so the order is due after them.
            across_holiday += 1
            assert o.complete_by > weekdays_only, o.number
            assert o.complete_by.astimezone(TZ).date() >= date(2026, 10, 8), o.number
    assert checked > 2000 and reopened
    assert across_holiday > 0 and moved_by_calendar > across_holiday


def test_wall_clock_and_urgent_limits(db: Session, limits: dict[tuple[int, Priority], Limits]) -> None:
    """Urgent orders of non-consultation items run on the urgent class: 15 min / 2 h, round the clock."""
    reopened = _reopened_at(db)
    urgent = list(db.scalars(select(Order).where(Order.priority == Priority.URGENT)))
    assert urgent
    for o in urgent:
        if o.id in reopened:
            continue
        assert limits[(o.item_id, o.priority)] == Limits(ClockKind.WALL, 15, 120)
        assert (o.complete_by - o.created_at).total_seconds() == 2 * 3600, o.number


def test_offer_sign_by_counts_from_the_offer(
    db: Session, calendar: WorkCalendar, limits: dict[tuple[int, Priority], Limits]
) -> None:
    rows = db.execute(
        select(Offer.offered_at, Offer.sign_by, Order.item_id, Order.priority, Order.number).join(
            Order, Order.id == Offer.order_id
        )
    ).all()
    without_step = 0
    for offered_at, sign_by, item_id, priority, number in rows:
        rule = limits[(item_id, priority)]
        if rule.sign_for is None:  # consultations: dispatch still gives the provider a window
            expected = offered_at + DEFAULT_SIGN_FOR
            without_step += 1
        else:
            expected = add_limit(offered_at, rule.sign_for, rule.clock, calendar)
        assert sign_by == expected, number
    assert len(rows) > 2000 and without_step > 0


def test_callbacks_and_auto_close_follow_the_calendar(db: Session, calendar: WorkCalendar) -> None:
    completed = {o.id: o for o in db.scalars(select(Order).where(Order.completed_at.is_not(None)))}
    for o in completed.values():
        assert o.callback_due_at == callback_due(o.completed_at, calendar), o.number
    auto_closed = db.execute(
        select(OrderEvent.order_id, OrderEvent.at).where(
            OrderEvent.action == "close", OrderEvent.actor == "system"
        )
    ).all()
    assert auto_closed
    for order_id, at in auto_closed:
        o = completed[order_id]  # a reopened order was completed again before closing again
        assert at == auto_close_at(o.completed_at, calendar), o.number


def test_open_orders_are_escalated_as_the_ladder_says(
    db: Session, calendar: WorkCalendar, limits: dict[tuple[int, Priority], Limits]
) -> None:
    reopened = _reopened_at(db)
    open_orders = list(db.scalars(select(Order).where(Order.status.in_(OPEN_STATUSES))))
    assert open_orders
    for o in open_orders:
        start = reopened.get(o.id, o.created_at)
        steps = ladder(
            start, o.complete_by, limits[(o.item_id, o.priority)].clock, calendar, remind_before=REMIND_BEFORE
        )
        expected = (
            Supervision.RED
            if steps.red_at <= NOW
            else Supervision.YELLOW
            if steps.yellow_at < NOW
            else Supervision.NONE
        )
        assert (o.supervision, o.overdue) == (expected, o.complete_by < NOW), o.number
        upcoming = [t for t in (steps.remind_at, steps.yellow_at, steps.red_at) if t is not None and t > NOW]
        if upcoming:
            assert o.next_check_at is not None and o.next_check_at <= min(upcoming), o.number


def test_limits_edited_in_the_database_are_the_ones_seeded(tmp_path: Path, sqlite_template: Path) -> None:
    """An item's own override and an SLA class changed by an admin reach the seeded deadlines."""
    path = tmp_path / "t.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with make_sessionmaker(engine)() as session:
            seed_calendar(session, library_years())
            import_catalogue(session, read_catalogue())
            item = session.scalars(select(Item).where(Item.code == "ELD-03")).one()  # a normal item
            item.sign_for_limit, item.complete_limit = 2, 8  # working days, like its class
            session.get_one(SlaClass, "priority").complete_limit = 720  # 12 h instead of 24 h
            session.flush()
            assert seed_demo(session, now=NOW).created
            cal = load_calendar(session, TZ)
            reopened = _reopened_at(session)
            on_own_class = select(Order).join(Item, Item.id == Order.item_id)
            on_own_class = on_own_class.where(Order.priority == Priority.NORMAL, Order.id.not_in(reopened))
            overridden = session.scalars(on_own_class.where(Item.id == item.id)).all()
            assert overridden
            for o in overridden:
                assert o.sign_by == cal.add_working_days(o.created_at, 2), o.number
                assert o.complete_by == cal.add_working_days(o.created_at, 8), o.number
            priority_class = session.scalars(on_own_class.where(Item.sla_class_code == "priority")).all()
            assert priority_class
            for o in priority_class:
                assert (o.complete_by - o.created_at).total_seconds() == 12 * 3600, o.number
    finally:
        engine.dispose()
