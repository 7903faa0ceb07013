"""The official Chinese working-day calendar and working-day arithmetic.

Product rules (supervisors see their effect on every deadline):

- **Working day.** Monday to Friday, except public holidays, plus the make-up working weekends
  (调休) announced each year by the State Council. The ``calendar_day`` table holds only the days
  that differ from plain Mon–Fri (seeded from ``chinese-calendar``) and the days an admin pinned
  by hand (``source="manual"``); every other day follows Mon–Fri. Seeding never overwrites a
  manual row, so an admin's edit survives re-seeding.
- **Time zone.** Times are aware datetimes (UTC in storage). Which day a moment belongs to, and
  "the same clock time", are judged in the call centre's local zone (``tz``, Asia/Shanghai by
  default in settings). Results are returned in UTC.
- **N working days after a moment** = the same local clock time on the N-th following working
  day. Example: Tuesday 2025-09-30 16:00 + 1 working day = Thursday 2025-10-09 16:00 (National
  Day holiday 10-01..08 skipped).
- **Received on a non-working day.** The request is treated as received at ``day_start`` (09:00
  local by default) of the next working day, and counting starts from there. So a request
  received on Saturday with a 1-working-day limit is due on Tuesday at 09:00: the same as a request
  received first thing on Monday, which is the fairest reading for the provider (nobody was at
  work to see it) and still gives the resident a full working day. The same rule moves a
  deadline that would be extended from a non-working moment.
- **Working time between two moments** (for overdue and KPI figures): each working day counts as
  1, prorated by how much of its 24 local hours lies inside the interval; non-working days count
  0. For a start on a working day, ``working_days_between(s, add_working_days(s, n)) == n``.
- **Years not covered.** ``chinese-calendar`` 1.11 covers 2004–2026 (see
  :func:`library_years`). A later year has no rows until the library is upgraded and the calendar
  re-seeded, or an admin enters the year's schedule (:mod:`.schedule`); until then it falls back
  to plain Mon–Fri. Which years are entered in full is kept in ``calendar_year``; how far that
  reaches, and the warning before it ends, is :mod:`.coverage`.

A wall time that does not exist locally (a DST gap; none in Asia/Shanghai) resolves forward, as
``zoneinfo`` does with ``fold=0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar.constants import Holiday
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dispatch.cache import StampedCache
from dispatch.timelimits.coverage import Coverage, coverage_of
from models import CalendarDay, CalendarYear

DEFAULT_DAY_START = time(9, 0)
SOURCE_LIBRARY = "chinese-calendar"
SOURCE_MANUAL = "manual"

# The longest run of consecutive non-working days we accept before calling the calendar broken
# (an admin marking months as holidays by mistake); real runs are at most ~10 days.
_MAX_NON_WORKING_RUN = 366

# chinese-calendar names holidays in English; the console and reports show Chinese.
_HOLIDAY_NAMES_ZH: dict[str, str] = {
    Holiday.new_years_day.value: "元旦",
    Holiday.spring_festival.value: "春节",
    Holiday.tomb_sweeping_day.value: "清明节",
    Holiday.labour_day.value: "劳动节",
    Holiday.dragon_boat_festival.value: "端午节",
    Holiday.national_day.value: "国庆节",
    Holiday.mid_autumn_festival.value: "中秋节",
    Holiday.anti_fascist_70th_day.value: "抗战胜利70周年纪念日",
}


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("working-day arithmetic needs an aware datetime")


class WorkCalendar:
    """Official Chinese working days: Mon–Fri except public holidays, plus make-up working weekends (调休)."""

    def __init__(
        self,
        overrides: Mapping[date, bool],
        *,
        tz: ZoneInfo,
        day_start: time = DEFAULT_DAY_START,
        covered_years: Iterable[int] = (),
    ) -> None:
        # overrides: days whose status differs from, or is pinned against, the plain Mon–Fri rule.
        self._overrides = dict(overrides)
        self.tz = tz
        self.day_start = day_start
        # The years whose official schedule is entered in full (``calendar_year``).
        self.covered_years = frozenset(covered_years)

    def coverage(self, now: datetime) -> Coverage:
        """How far this calendar follows the official schedule, seen from ``now`` (local day)."""
        _require_aware(now)
        return coverage_of(self.covered_years, now.astimezone(self.tz).date())

    def is_workday(self, d: date) -> bool:
        pinned = self._overrides.get(d)
        return pinned if pinned is not None else d.weekday() < 5

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        candidate = d
        for _ in range(_MAX_NON_WORKING_RUN):
            candidate += timedelta(days=1)
            if self.is_workday(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_NON_WORKING_RUN} days after {d}")

    def next_working_moment(self, at: datetime) -> datetime:
        """``at`` itself if it falls on a working day, else ``day_start`` of the next working day."""
        _require_aware(at)
        local_day = at.astimezone(self.tz).date()
        if self.is_workday(local_day):
            return at.astimezone(UTC)
        return self._local(self.next_working_day(local_day), self.day_start)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local clock time on the ``days``-th working day after ``start``.

        A start on a non-working day counts from :meth:`next_working_moment`; ``days=0`` returns
        that moment.
        """
        if days < 0:
            raise ValueError("days must be >= 0")
        anchor = self.next_working_moment(start).astimezone(self.tz)
        day = anchor.date()
        for _ in range(days):
            day = self.next_working_day(day)
        # Rebuild from the local wall time rather than adding a timedelta, so the clock time is
        # kept even where an offset change (DST) lies in between.
        return self._local(day, anchor.time())

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Working days elapsed from ``start`` to ``end``, prorated by the hour; negative if reversed.

        Each working local day contributes the fraction of its length (24 h, or 23/25 h across a
        DST change) that lies within [start, end); non-working days contribute nothing.
        """
        _require_aware(start)
        _require_aware(end)
        if end < start:
            return -self.working_days_between(end, start)
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        total = 0.0
        day = start_utc.astimezone(self.tz).date()
        last = end_utc.astimezone(self.tz).date()
        while day <= last:
            if self.is_workday(day):
                begin, finish = self._midnight(day), self._midnight(day + timedelta(days=1))
                overlap = min(end_utc, finish) - max(start_utc, begin)
                if overlap > timedelta(0):
                    total += overlap / (finish - begin)
            day += timedelta(days=1)
        return total

    def working_time_before(self, at: datetime, span: timedelta) -> datetime:
        """The moment ``span`` of working-day time before ``at``; non-working days are skipped.

        Used for reminders on working-day deadlines, so "remind 1 day before a Monday deadline"
        lands on Friday, when someone is at work, and never on a holiday.
        """
        _require_aware(at)
        if span < timedelta(0):
            raise ValueError("span must be >= 0")
        if not span:
            return at.astimezone(UTC)
        remaining = span
        cursor = at.astimezone(UTC)
        skipped = 0
        while True:
            day = cursor.astimezone(self.tz).date()
            begin = self._midnight(day)
            if begin == cursor:  # exactly midnight: the time just before it belongs to the day before
                day -= timedelta(days=1)
                begin = self._midnight(day)
            if self.is_workday(day):
                skipped = 0
                available = cursor - begin
                if remaining <= available:
                    return cursor - remaining
                remaining -= available
            else:
                skipped += 1
                if skipped > _MAX_NON_WORKING_RUN:
                    raise ValueError(f"no working day within {_MAX_NON_WORKING_RUN} days before {at}")
            cursor = begin

    def _local(self, d: date, clock: time) -> datetime:
        return datetime.combine(d, clock.replace(tzinfo=None), tzinfo=self.tz).astimezone(UTC)

    def _midnight(self, d: date) -> datetime:
        return self._local(d, time(0, 0))


def library_years() -> range:
    """The years ``chinese-calendar`` has data for (2004–2026 in version 1.11)."""
    years = [d.year for d in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def chinese_calendar_days(years: Iterable[int]) -> list[tuple[date, bool, str]]:
    """Every day of ``years`` whose status differs from Mon–Fri: (day, is_workday, Chinese name).

    Holidays are named after the festival (国庆节); make-up working days after the festival they
    pay for (国庆节调休). Years the library does not cover are skipped.
    """
    days: list[tuple[date, bool, str]] = []
    for year in sorted(set(years)):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        day = date(year, 1, 1)
        while day.year == year:
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
            is_workday = not is_holiday
            if is_workday != (day.weekday() < 5):
                festival = _HOLIDAY_NAMES_ZH.get(name, name) if name else ""
                if is_workday:
                    label = f"{festival}调休" if festival else "调休上班"
                else:
                    label = festival or "休息日"
                days.append((day, is_workday, label))
            day += timedelta(days=1)
    return days


def seed_calendar(session: Session, years: Iterable[int]) -> int:
    """Insert the library's days for ``years`` that the table lacks, and record each year the
    library covers as entered in full (``calendar_year``, source ``chinese-calendar``); returns how
    many days were added.

    Existing rows are left alone whatever their source: a manual row is an admin decision, and a
    library row is already what the library says; a year an admin imported or confirmed keeps who
    did it. Flushes, never commits.
    """
    wanted = chinese_calendar_days(years)
    if not wanted:
        return 0
    first, last = wanted[0][0], wanted[-1][0]
    present = set(session.scalars(select(CalendarDay.day).where(CalendarDay.day.between(first, last))).all())
    rows = [
        CalendarDay(day=day, is_workday=is_workday, name=name, source=SOURCE_LIBRARY)
        for day, is_workday, name in wanted
        if day not in present
    ]
    session.add_all(rows)
    library = {day.year for day, _, _ in wanted}
    recorded = set(session.scalars(select(CalendarYear.year).where(CalendarYear.year.in_(library))))
    session.add_all(
        CalendarYear(year=year, source=SOURCE_LIBRARY, note="chinese-calendar", confirmed_by_id=None)
        for year in sorted(library - recorded)
    )
    session.flush()
    return len(rows)


def load_calendar(session: Session, tz: ZoneInfo, *, day_start: time = DEFAULT_DAY_START) -> WorkCalendar:
    rows = session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
    years = session.scalars(select(CalendarYear.year)).all()
    return WorkCalendar(
        {day: is_workday for day, is_workday in rows}, tz=tz, day_start=day_start, covered_years=years
    )


def calendar_stamp(session: Session) -> tuple[Any, ...]:
    """A cheap fingerprint of ``calendar_day`` and ``calendar_year``, in one round trip."""
    # Count and two power sums of the years: marking one year and unmarking another changes them.
    years = [
        select(agg).select_from(CalendarYear).scalar_subquery()
        for agg in (
            func.count(),
            func.sum(CalendarYear.year),
            func.sum(CalendarYear.year * CalendarYear.year),
        )
    ]
    return tuple(
        session.execute(
            select(
                func.count(),
                func.min(CalendarDay.day),
                func.max(CalendarDay.day),
                func.sum(func.length(CalendarDay.name)),
                func.sum(case((CalendarDay.is_workday, 1), else_=0)),
                *years,
            ).select_from(CalendarDay)
        ).one()
    )


class CalendarService:
    """The working-day calendar of this process, rebuilt when the ``calendar_day`` rows change."""

    def __init__(self, tz: ZoneInfo, check_every: float = 0.0) -> None:
        self.tz = tz
        self.cache = StampedCache(
            stamp=calendar_stamp, build=lambda s: load_calendar(s, tz), check_every=check_every
        )

    def calendar(self, session: Session) -> WorkCalendar:
        return self.cache.get(session)

    def coverage(self, session: Session, now: datetime) -> Coverage:
        return self.calendar(session).coverage(now)


def set_day(session: Session, d: date, *, is_workday: bool, name: str = "") -> CalendarDay:
    """An admin's edit: pin ``d`` as working or not. Re-seeding will never overwrite it."""
    row = session.get(CalendarDay, d)
    if row is None:
        row = CalendarDay(day=d)
        session.add(row)
    row.is_workday = is_workday
    row.name = name
    row.source = SOURCE_MANUAL
    session.flush()
    return row


def reset_day(session: Session, d: date) -> CalendarDay | None:
    """Undo an admin's edit: ``d`` goes back to what ``chinese-calendar`` says (a plain Mon–Fri
    day has no row). Returns the day's row afterwards, None for a plain day."""
    row = session.get(CalendarDay, d)
    official = next((entry for entry in chinese_calendar_days([d.year]) if entry[0] == d), None)
    if official is None:
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    if row is None:
        row = CalendarDay(day=d)
        session.add(row)
    _, row.is_workday, row.name = official
    row.source = SOURCE_LIBRARY
    session.flush()
    return row
