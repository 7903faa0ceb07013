"""How far the working-day calendar follows the State Council's published holiday schedule.

Product rules (admins and supervisors see them in the console, ``/health?detail=true`` and a
daily notification):

- **Covered year.** A year whose official schedule (the State Council's annual notice on public
  holidays and 调休 make-up working days) is entered in full: it has a ``calendar_year`` row,
  recorded by ``sanshe migrate`` for the years ``chinese-calendar`` knows, by a CSV import, or by
  an admin who entered the year's periods and confirmed it.
- **Official until** = 31 December of the last year Y such that every year from the current one
  (in the call centre's time zone) through Y is covered. A gap counts: with 2026 and 2028 covered
  but not 2027, the calendar is official until 2026-12-31. When the current year itself is not
  covered, it is 31 December of the year before, which has passed: ``days_left`` is negative.
- **Days left** = days from today to ``official_until`` (0 on that day itself).
- **Warning** from ``WARN_DAYS`` (60) days before the end, so a centre has time to enter the next
  year once the notice is out (usually in November). After ``official_until`` days follow plain
  Monday–Friday, so deadlines over 元旦 and 春节 would be wrong; nothing is ever guessed, because a
  schedule nobody has published must not be invented.
- **An order's deadline is uncovered** when its local date falls after ``official_until``: it was
  counted on the Monday–Friday guess and needs checking once the year is entered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

WARN_DAYS = 60


@dataclass(frozen=True, slots=True)
class Coverage:
    today: date
    official_until: date
    days_left: int
    warning: str | None

    @property
    def current_year_covered(self) -> bool:
        return self.official_until.year >= self.today.year

    @property
    def next_year_to_enter(self) -> int:
        """The first year whose schedule is missing."""
        return self.official_until.year + 1

    def beyond(self, moment: datetime | None, tz: ZoneInfo) -> bool:
        """Whether ``moment`` falls on a local day after ``official_until``."""
        return moment is not None and moment.astimezone(tz).date() > self.official_until


def coverage_of(covered_years: Iterable[int], today: date) -> Coverage:
    covered = set(covered_years)
    year = today.year
    while year in covered:
        year += 1
    official_until = date(year - 1, 12, 31)
    days_left = (official_until - today).days
    return Coverage(
        today=today,
        official_until=official_until,
        days_left=days_left,
        warning=warning_text(today, official_until, days_left),
    )


def warning_text(today: date, official_until: date, days_left: int) -> str | None:
    """What admins and supervisors are told, in Chinese; None while more than ``WARN_DAYS`` are left."""
    if days_left > WARN_DAYS:
        return None
    missing = official_until.year + 1
    todo = (
        f"请在国务院办公厅发布{missing}年节假日安排的通知后，到 管理 › 工作日历 录入各节假日和调休上班日"
        f"（或导入该年的 CSV），并确认{missing}年已录入完整。"
    )
    if days_left < 0:
        return (
            f"本年度（{today.year}年）的节假日安排尚未录入工作日历：自{missing}年1月1日起按周一至周五计算，"
            "节假日和调休都不计入，工单时限和黄牌、红牌可能出错。" + todo
        )
    when = "今天是已录入的最后一天" if days_left == 0 else f"还剩 {days_left} 天"
    return (
        f"工作日历只录入了国务院公布的节假日安排至 {official_until.isoformat()}（{when}）。"
        "此后按周一至周五计算，元旦、春节等假期和调休都不计入，跨过这一天的工单时限和黄牌、红牌会出错。"
        + todo
    )
