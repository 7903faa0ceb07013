"""Entering a year's official holiday schedule: what a centre does each year once the State
Council's notice is out (usually in November), instead of waiting for a ``chinese-calendar``
release.

- **A holiday period in one step** (:func:`set_period`): every day from start to end becomes a
  holiday named after it (春节), each make-up working day (调休, a weekend) a working day named
  ``{name}调休``; all manual rows, all or nothing.
- **A year from a file** (:func:`replace_year`): the year becomes exactly what the file says.
- **Confirming a year** (:func:`confirm_year`): the admin vouches that the year is entered in full,
  which is what moves ``official_until`` (:mod:`.coverage`). A year with no holiday on a weekday
  cannot be confirmed: that would be a Monday–Friday guess dressed up as the official schedule.
  Only the coming year can be confirmed: the State Council publishes one year at a time, so a
  later one could only be invented.

Nothing here commits; the request owns the transaction, so a refusal leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.errors import BadRequest, Conflict
from dispatch.timelimits.calendar import SOURCE_LIBRARY, SOURCE_MANUAL, seed_calendar, set_day
from dispatch.timelimits.csvio import YearDay
from models import CalendarDay, CalendarYear

SOURCE_IMPORT = "import"
MAX_PERIOD_DAYS = 15  # the longest official holiday so far is 9 days (春节 2026)
MAX_NAME = 20
# Make-up days lie next to their holiday (within two weeks in every notice so far): a date
# further away is a typo such as 2027-12-14 for 2027-02-14.
MAKEUP_WITHIN_DAYS = 31

_WEEKDAYS = "一二三四五六日"


def _weekday(d: date) -> str:
    return f"周{_WEEKDAYS[d.weekday()]}"


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    start: date
    end: date
    workdays: tuple[date, ...] = ()


def period_problems(period: Period) -> list[str]:
    """What is wrong with a holiday period, in Chinese; empty when it can be set."""
    problems: list[str] = []
    name = period.name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        problems.append(f"名称须为 1–{MAX_NAME} 个字（如 春节、国庆节）")
    if period.end < period.start:
        problems.append(f"结束日期 {period.end} 早于开始日期 {period.start}")
    elif (length := (period.end - period.start).days + 1) > MAX_PERIOD_DAYS:
        problems.append(f"假期共 {length} 天，超过 {MAX_PERIOD_DAYS} 天，请检查日期")
    years = {period.start.year, period.end.year, *(d.year for d in period.workdays)}
    if max(years) - min(years) > 1:
        problems.append("日期须在同一年或相邻两年之内")
    seen: set[date] = set()
    for d in period.workdays:
        if d in seen:
            problems.append(f"调休上班日 {d} 重复")
            continue
        seen.add(d)
        if period.start <= d <= period.end:
            problems.append(f"调休上班日 {d} 在假期之内")
        elif d.weekday() < 5:
            problems.append(f"调休上班日 {d} 是{_weekday(d)}，本来就是工作日")
        elif max((period.start - d).days, (d - period.end).days) > MAKEUP_WITHIN_DAYS:
            problems.append(f"调休上班日 {d} 离假期超过 {MAKEUP_WITHIN_DAYS} 天，请检查日期")
    return problems


def set_period(session: Session, period: Period) -> list[CalendarDay]:
    """Set a holiday period and its make-up working days as manual rows; returns them by date."""
    problems = period_problems(period)
    if problems:
        raise BadRequest(
            f"the holiday period is not valid ({len(problems)} problem(s), listed in message)",
            code="invalid_period",
            message="假期设置有误：" + "；".join(problems),
        )
    name = period.name.strip()
    rows = []
    day = period.start
    while day <= period.end:
        rows.append(set_day(session, day, is_workday=False, name=name))
        day += timedelta(days=1)
    rows.extend(set_day(session, d, is_workday=True, name=f"{name}调休") for d in period.workdays)
    return sorted(rows, key=lambda r: r.day)


def _year_range(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def year_rows(session: Session, year: int) -> list[CalendarDay]:
    """The year's rows that say something: a status differing from Mon–Fri, or a name."""
    first, last = _year_range(year)
    rows = session.scalars(
        select(CalendarDay).where(CalendarDay.day.between(first, last)).order_by(CalendarDay.day)
    )
    return [r for r in rows if r.is_workday != (r.day.weekday() < 5) or r.name]


def holidays_in(session: Session, year: int) -> int:
    """Weekdays of ``year`` that are not working days: the holidays a schedule consists of."""
    first, last = _year_range(year)
    days = session.scalars(
        select(CalendarDay.day).where(CalendarDay.day.between(first, last), CalendarDay.is_workday.is_(False))
    )
    return sum(1 for d in days if d.weekday() < 5)


def replace_year(session: Session, year: int, days: Sequence[YearDay]) -> int:
    """Make ``year`` exactly ``days`` (other days plain Mon–Fri); returns how many days were set.

    The year's manual rows go; where the library (``chinese-calendar``) knows the year, its rows
    stay where the file agrees with them and are overridden by manual rows where it does not.
    """
    first, last = _year_range(year)
    if any(not first <= d.day <= last for d in days):
        raise ValueError(f"days outside {year}")
    session.execute(
        delete(CalendarDay).where(CalendarDay.day.between(first, last), CalendarDay.source == SOURCE_MANUAL)
    )
    seed_calendar(session, [year])  # the library's days an admin had overridden come back
    have = {
        r.day: (r.is_workday, r.name)
        for r in session.scalars(select(CalendarDay).where(CalendarDay.day.between(first, last)))
    }
    want = {d.day: (d.is_workday, d.name) for d in days}
    changed = 0
    for day in sorted(have.keys() | want.keys()):
        plain = (day.weekday() < 5, "")
        wanted = want.get(day, plain)
        if have.get(day, plain) != wanted:
            set_day(session, day, is_workday=wanted[0], name=wanted[1])
            changed += 1
    return changed


def confirm_year(
    session: Session,
    year: int,
    *,
    source: str,
    user_id: int | None,
    now: datetime,
    tz: ZoneInfo,
    note: str = "",
) -> CalendarYear:
    """Record ``year`` as entered in full. A year the library covers keeps its source."""
    coming = now.astimezone(tz).year + 1
    if year > coming:
        raise BadRequest(
            f"cannot confirm {year}: only next year's ({coming}) schedule is published in advance",
            code="year_not_published",
            message=f"不能确认{year}年：国务院每年只提前公布下一年（{coming}年）的节假日安排，更晚的年份尚未公布",
        )
    if not holidays_in(session, year):
        raise BadRequest(
            f"{year} has no holiday entered: enter its holidays and make-up days before confirming it",
            code="no_holidays",
            message=f"{year}年还没有录入任何节假日，不能确认为已录入完整：请先按国务院通知录入该年的节假日和调休上班日",
        )
    row = session.get(CalendarYear, year)
    if row is not None and row.source == SOURCE_LIBRARY:
        return row
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.source = source
    row.note = note
    row.confirmed_by_id = user_id
    row.confirmed_at = now
    session.flush()
    return row


def unconfirm_year(session: Session, year: int) -> None:
    """Take back a confirmation: the calendar is official only up to the year before again."""
    row = session.get(CalendarYear, year)
    if row is None:
        return
    if row.source == SOURCE_LIBRARY:
        raise Conflict(
            f"{year} comes from chinese-calendar (the State Council's notice) and cannot be taken back; "
            "change single days instead",
            code="library_year",
            message=f"{year}年的安排来自国务院通知（chinese-calendar 已收录），不能撤销；个别日期有变时请单独修改这些日期",
        )
    session.delete(row)
    session.flush()
