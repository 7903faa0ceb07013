"""Working-day calendar and order deadlines, on real Chinese calendars (National Day 2025, Spring
Festival 2026) and an ordinary week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import models
from dispatch.db import make_engine, make_sessionmaker
from dispatch.timelimits.calendar import (
    CalendarService,
    WorkCalendar,
    chinese_calendar_days,
    library_years,
    load_calendar,
    seed_calendar,
    set_day,
)
from dispatch.timelimits.deadlines import (
    MAX_EXTENSION_WORKING_DAYS,
    Deadlines,
    Ladder,
    Limits,
    add_limit,
    auto_close_at,
    callback_due,
    ladder,
    limits_for,
    order_deadlines,
)
from models import CalendarDay, CalendarYear, ClockKind, Item, SlaClass

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def calendar_session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    models.Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        yield session
    engine.dispose()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    overrides = {day: workday for day, workday, _ in chinese_calendar_days([2025, 2026])}
    return WorkCalendar(overrides, tz=SHANGHAI)


NORMAL = SlaClass(
    code="normal", name="一般", clock=ClockKind.WORKING_DAYS, sign_for_limit=1, complete_limit=5
)
CONSULT = SlaClass(
    code="consult", name="咨询", clock=ClockKind.WORKING_DAYS, sign_for_limit=None, complete_limit=3
)
URGENT = SlaClass(code="urgent", name="紧急", clock=ClockKind.WALL, sign_for_limit=15, complete_limit=120)
PRIORITY = SlaClass(
    code="priority", name="优先", clock=ClockKind.WALL, sign_for_limit=30, complete_limit=1440
)


# --- the calendar itself ---------------------------------------------------------------------


def test_library_covers_2004_to_2026_and_names_days_in_chinese() -> None:
    assert library_years() == range(2004, 2027)
    days = {day: (workday, name) for day, workday, name in chinese_calendar_days([2003, 2025, 2027])}
    assert all(day.year == 2025 for day in days)  # 2003 and 2027 are not covered: skipped
    assert days[date(2025, 9, 28)] == (True, "国庆节调休")  # Sunday, make-up working day
    assert days[date(2025, 10, 11)] == (True, "国庆节调休")  # Saturday, make-up working day
    assert days[date(2025, 10, 1)] == (False, "国庆节")
    assert days[date(2025, 10, 6)] == (False, "中秋节")
    # Weekend days inside the holiday are rest days anyway: not listed.
    assert date(2025, 10, 4) not in days


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    days = {day: (workday, name) for day, workday, name in chinese_calendar_days([2026])}
    assert days[date(2026, 2, 14)] == (True, "春节调休")
    assert days[date(2026, 2, 28)] == (True, "春节调休")
    holiday = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # 02-15 .. 02-23
    assert not any(cal.is_workday(d) for d in holiday)
    assert cal.is_workday(date(2026, 2, 14)) and cal.is_workday(date(2026, 2, 24))
    # Friday 02-13 + 5 working days: Sat 14 (make-up), then 24, 25, 26, 27.
    assert cal.add_working_days(at(2026, 2, 13, 10), 5) == at(2026, 2, 27, 10)


def test_ordinary_week(cal: WorkCalendar) -> None:
    assert cal.add_working_days(at(2025, 11, 12, 15, 30), 2) == at(2025, 11, 14, 15, 30)  # Wed → Fri
    assert cal.add_working_days(at(2025, 11, 13, 15, 30), 2) == at(2025, 11, 17, 15, 30)  # Thu → Mon
    assert cal.add_working_days(at(2025, 11, 13, 15, 30), 0) == at(2025, 11, 13, 15, 30)


def test_results_are_utc_and_naive_times_are_refused(cal: WorkCalendar) -> None:
    due = cal.add_working_days(at(2025, 11, 12, 9), 1)
    assert due.tzinfo == UTC and due == datetime(2025, 11, 13, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        cal.add_working_days(datetime(2025, 11, 12, 9), 1)
    with pytest.raises(ValueError):
        cal.add_working_days(at(2025, 11, 12, 9), -1)


def test_received_on_a_non_working_day_counts_from_9_on_the_next_working_day(cal: WorkCalendar) -> None:
    # Ordinary Saturday: treated as received Monday 09:00, so 1 working day → Tuesday 09:00.
    assert cal.next_working_moment(at(2025, 11, 15, 14)) == at(2025, 11, 17, 9)
    assert cal.add_working_days(at(2025, 11, 15, 14), 1) == at(2025, 11, 18, 9)
    # During National Day: treated as received Thursday 10-09 09:00 → Friday 10-10 09:00.
    assert cal.add_working_days(at(2025, 10, 4, 14), 1) == at(2025, 10, 10, 9)
    # A make-up working Saturday is a normal working day.
    assert cal.add_working_days(at(2025, 10, 11, 14), 1) == at(2025, 10, 13, 14)
    # The start of the day is configurable.
    early = WorkCalendar({}, tz=SHANGHAI, day_start=time(8, 30))
    assert early.add_working_days(at(2025, 11, 15, 14), 1) == at(2025, 11, 18, 8, 30)


def test_working_days_between(cal: WorkCalendar) -> None:
    start = at(2025, 9, 25, 10)
    assert cal.working_days_between(start, cal.add_working_days(start, 5)) == pytest.approx(5)
    assert cal.working_days_between(start, at(2025, 9, 25, 16)) == pytest.approx(0.25)
    assert cal.working_days_between(at(2025, 9, 25, 16), start) == pytest.approx(-0.25)
    assert cal.working_days_between(start, start) == 0
    # The whole National Day holiday counts nothing.
    assert cal.working_days_between(at(2025, 10, 1), at(2025, 10, 9)) == 0
    # From a Saturday: the weekend counts nothing; Monday counts whole, plus Tuesday to 09:00.
    assert cal.working_days_between(at(2025, 11, 15, 14), at(2025, 11, 18, 9)) == pytest.approx(1.375)


def test_working_time_before_skips_non_working_days(cal: WorkCalendar) -> None:
    # 24 h of working time before Thursday 10-09 10:00: 10 h on 10-09, then 14 h of Tuesday 09-30.
    assert cal.working_time_before(at(2025, 10, 9, 10), timedelta(hours=24)) == at(2025, 9, 30, 10)
    assert cal.working_time_before(at(2025, 10, 9, 10), timedelta(hours=2)) == at(2025, 10, 9, 8)
    # From exactly midnight the time just before belongs to the day before.
    assert cal.working_time_before(at(2025, 11, 18), timedelta(hours=1)) == at(2025, 11, 17, 23)


def test_time_zone_correct_across_dst() -> None:
    new_york = WorkCalendar({}, tz=ZoneInfo("America/New_York"))
    friday = datetime(2025, 3, 7, 10, tzinfo=ZoneInfo("America/New_York"))  # EST, UTC-5
    monday = new_york.add_working_days(friday, 1)  # clocks went forward on Sunday 03-09
    assert monday.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None) == datetime(2025, 3, 10, 10)
    assert monday == datetime(2025, 3, 10, 14, tzinfo=UTC)
    # Wall-clock limits are real elapsed minutes: 01:30 EST + 60 min = 03:30 EDT.
    night = datetime(2025, 3, 9, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    assert add_limit(night, 60, ClockKind.WALL, new_york) == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)


# --- deadlines ---------------------------------------------------------------------------------


def test_normal_order_across_national_day(cal: WorkCalendar) -> None:
    # Thursday 09-25 10:00: Fri 26, Sun 28 (make-up), Mon 29, Tue 30, then Thu 10-09.
    deadlines = order_deadlines(at(2025, 9, 25, 10), limits_for(NORMAL), cal)
    assert deadlines == Deadlines(sign_by=at(2025, 9, 26, 10), complete_by=at(2025, 10, 9, 10))


def test_one_working_day_over_the_holiday(cal: WorkCalendar) -> None:
    assert add_limit(at(2025, 9, 30, 16), 1, ClockKind.WORKING_DAYS, cal) == at(2025, 10, 9, 16)


def test_normal_order_received_on_saturday(cal: WorkCalendar) -> None:
    deadlines = order_deadlines(at(2025, 11, 15, 14), limits_for(NORMAL), cal)
    # Counted from Monday 11-17 09:00.
    assert deadlines == Deadlines(sign_by=at(2025, 11, 18, 9), complete_by=at(2025, 11, 24, 9))


def test_wall_clock_classes_ignore_holidays(cal: WorkCalendar) -> None:
    urgent = order_deadlines(at(2025, 10, 1, 10), limits_for(URGENT), cal)
    assert urgent == Deadlines(sign_by=at(2025, 10, 1, 10, 15), complete_by=at(2025, 10, 1, 12))
    priority = order_deadlines(at(2025, 9, 30, 20), limits_for(PRIORITY), cal)
    assert priority == Deadlines(sign_by=at(2025, 9, 30, 20, 30), complete_by=at(2025, 10, 1, 20))


def test_consult_has_no_sign_for(cal: WorkCalendar) -> None:
    assert limits_for(CONSULT) == Limits(ClockKind.WORKING_DAYS, None, 3)
    deadlines = order_deadlines(at(2025, 9, 25, 10), limits_for(CONSULT), cal)
    assert deadlines == Deadlines(sign_by=None, complete_by=at(2025, 9, 29, 10))


def test_item_overrides_win_over_the_class(cal: WorkCalendar) -> None:
    item = Item(code="0101", sla_class_code="normal", sign_for_limit=None, complete_limit=2)
    limits = limits_for(NORMAL, item)
    assert limits == Limits(ClockKind.WORKING_DAYS, 1, 2)  # sign-for inherited
    # Thursday 09-25 + 2 working days: Fri 26, Sun 28 (make-up working day).
    assert order_deadlines(at(2025, 9, 25, 10), limits, cal).complete_by == at(2025, 9, 28, 10)
    fast = Item(code="0102", sla_class_code="urgent", sign_for_limit=5, complete_limit=60)
    assert limits_for(URGENT, fast) == Limits(ClockKind.WALL, 5, 60)


def test_extension_adds_working_days(cal: WorkCalendar) -> None:
    limits = limits_for(NORMAL)
    extended = order_deadlines(at(2025, 9, 25, 10), limits, cal, extension_days=2)
    # 10-09 + 2 working days: Fri 10-10, Sat 10-11 (make-up).
    assert extended.complete_by == at(2025, 10, 11, 10)
    assert extended.sign_by == at(2025, 9, 26, 10)  # the sign-for deadline does not move
    order_deadlines(at(2025, 9, 25, 10), limits, cal, extension_days=MAX_EXTENSION_WORKING_DAYS)
    with pytest.raises(ValueError):
        order_deadlines(at(2025, 9, 25, 10), limits, cal, extension_days=MAX_EXTENSION_WORKING_DAYS + 1)
    # On a wall-clock class the extension is still working days: Sat 10:00 → Mon 09:00 → Tue 09:00.
    priority = order_deadlines(at(2025, 11, 14, 10), limits_for(PRIORITY), cal, extension_days=1)
    assert priority.complete_by == at(2025, 11, 18, 9)


def test_callback_and_auto_close(cal: WorkCalendar) -> None:
    completed = at(2025, 9, 30, 16)
    assert callback_due(completed, cal) == at(2025, 10, 9, 16)
    assert auto_close_at(completed, cal) == at(2025, 10, 11, 16)  # Thu 9, Fri 10, Sat 11 (make-up)
    assert callback_due(at(2025, 11, 14, 17), cal) == at(2025, 11, 17, 17)  # Friday → Monday


def test_ladder_wall_clock(cal: WorkCalendar) -> None:
    start = at(2025, 10, 1, 10)
    steps = ladder(start, at(2025, 10, 1, 12), ClockKind.WALL, cal, remind_before=timedelta(minutes=30))
    assert steps == Ladder(
        remind_at=at(2025, 10, 1, 11, 30), yellow_at=at(2025, 10, 1, 12), red_at=at(2025, 10, 1, 14)
    )
    # A lead reaching back to the start gives no reminder.
    sign = ladder(start, at(2025, 10, 1, 10, 15), ClockKind.WALL, cal, remind_before=timedelta(minutes=15))
    assert sign.remind_at is None and sign.red_at == at(2025, 10, 1, 10, 30)


def test_ladder_working_days(cal: WorkCalendar) -> None:
    start = at(2025, 9, 25, 10)
    deadline = order_deadlines(start, limits_for(NORMAL), cal).complete_by  # 10-09 10:00
    steps = ladder(start, deadline, ClockKind.WORKING_DAYS, cal, remind_before=timedelta(days=1))
    # The reminder lands on the last working day before the holiday, not inside it.
    assert steps == Ladder(
        remind_at=at(2025, 9, 30, 10), yellow_at=at(2025, 10, 9, 10), red_at=at(2025, 10, 10, 10)
    )
    # Red one working day after a Friday deadline is Monday.
    friday = ladder(
        at(2025, 11, 13, 10), at(2025, 11, 14, 10), ClockKind.WORKING_DAYS, cal, remind_before=timedelta(0)
    )
    assert friday.remind_at is None and friday.red_at == at(2025, 11, 17, 10)


# --- stored calendar ---------------------------------------------------------------------------


def test_seed_is_idempotent_and_keeps_manual_days(calendar_session: Session) -> None:
    session = calendar_session
    # An admin's decision made before seeding: 10-01 kept as a working day for this centre.
    set_day(session, date(2025, 10, 1), is_workday=True, name="值班")
    added = seed_calendar(session, [2025, 2026, 2030])
    expected = len(chinese_calendar_days([2025, 2026])) - 1
    assert added == expected
    assert seed_calendar(session, [2025, 2026]) == 0
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == expected + 1
    manual = session.get_one(CalendarDay, date(2025, 10, 1))
    assert (manual.is_workday, manual.name, manual.source) == (True, "值班", "manual")
    library = session.get_one(CalendarDay, date(2025, 9, 28))
    assert (library.is_workday, library.name, library.source) == (True, "国庆节调休", "chinese-calendar")


def test_manual_edit_moves_deadlines(calendar_session: Session) -> None:
    session = calendar_session
    seed_calendar(session, [2025])
    received = at(2025, 9, 30, 16)
    limits = Limits(ClockKind.WORKING_DAYS, None, 2)
    before = order_deadlines(received, limits, load_calendar(session, SHANGHAI))
    assert before.complete_by == at(2025, 10, 10, 16)  # Thu 10-09, Fri 10-10

    row = set_day(session, date(2025, 10, 10), is_workday=False, name="区里补休")
    assert row.source == "manual"
    seed_calendar(session, [2025])  # re-seeding does not undo it
    after = order_deadlines(received, limits, load_calendar(session, SHANGHAI))
    assert after.complete_by == at(2025, 10, 11, 16)  # Thu 10-09, Sat 10-11 (make-up)

    # An existing library row becomes manual when edited.
    set_day(session, date(2025, 10, 11), is_workday=False)
    assert session.get_one(CalendarDay, date(2025, 10, 11)).source == "manual"
    assert not load_calendar(session, SHANGHAI).is_workday(date(2025, 10, 11))


def test_seeding_records_the_library_years_as_covered(calendar_session: Session) -> None:
    session = calendar_session
    session.add(CalendarYear(year=2024, source="import", note="", confirmed_by_id=None))
    seed_calendar(session, [2024, 2025, 2026, 2030])  # 2030: the library has no data for it
    years = {y.year: y.source for y in session.scalars(select(CalendarYear))}
    assert years == {2024: "import", 2025: "chinese-calendar", 2026: "chinese-calendar"}


def test_every_process_sees_a_year_confirmed_or_taken_back(calendar_session: Session) -> None:
    session = calendar_session
    service = CalendarService(SHANGHAI)  # as another process holds it: never told to invalidate
    assert service.calendar(session).covered_years == frozenset()
    session.add_all(CalendarYear(year=y, source="manual", note="") for y in (2025, 2028))
    session.flush()
    assert service.calendar(session).covered_years == {2025, 2028}
    # Another pair with the same count and sum of years.
    session.delete(session.get_one(CalendarYear, 2025))
    session.delete(session.get_one(CalendarYear, 2028))
    session.add_all(CalendarYear(year=y, source="manual", note="") for y in (2026, 2027))
    session.flush()
    assert service.calendar(session).covered_years == {2026, 2027}
