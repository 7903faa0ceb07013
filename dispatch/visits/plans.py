"""What a plan is: the plan types with their checklists and catalogue items, the residents each may
cover, and the calendar of its periods. Pure: no database, no I/O.

The issue speaks of residents tagged 独居, 空巢, 失能, 特困 or 残疾; the resident registry's tags
(``residents.schemas.VULNERABILITY_TAGS``) say 独居老人, 空巢老人, 失能, 特困 and 残疾.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from dispatch.timelimits.calendar import WorkCalendar
from models import Frequency, PlanType, VisitOutcome


@dataclass(frozen=True)
class CheckItem:
    code: str
    text: str


@dataclass(frozen=True)
class PlanKind:
    label: str
    tags: tuple[str, ...]  # a resident with one of these may have a plan of this kind
    item_code: str  # the consult-class catalogue item its visit orders are filed under
    checklist: tuple[CheckItem, ...]


PLAN_KINDS: dict[PlanType, PlanKind] = {
    PlanType.ELDERLY: PlanKind(
        "独居空巢老人探访",
        ("独居老人", "空巢老人"),
        "ELD-11",
        (
            CheckItem("health", "身体状况正常，无跌倒、受伤或急病迹象"),
            CheckItem("food", "家中有食物和饮用水，能按时吃饭"),
            CheckItem("medicine", "按时服药，常用药充足"),
            CheckItem("safety", "水、电、燃气使用安全，无隐患"),
            CheckItem("contact", "能联系上子女或紧急联系人"),
        ),
    ),
    PlanType.CARE: PlanKind(
        "失能残疾照护探访",
        ("失能", "残疾"),
        "AST-11",
        (
            CheckItem("care", "日常照护有人落实（家属或护理员）"),
            CheckItem("skin", "无压疮、皮肤破损或卫生问题"),
            CheckItem("aids", "轮椅、护理床等辅具完好可用"),
            CheckItem("medicine", "按时服药，常用药充足"),
            CheckItem("carer", "照护者身心状况尚可，无需喘息服务"),
        ),
    ),
    PlanType.HARDSHIP: PlanKind(
        "特困人员需求探访",
        ("特困",),
        "AST-12",
        (
            CheckItem("living", "基本生活有保障（吃、穿、住）"),
            CheckItem("allowance", "救助金按时到账"),
            CheckItem("housing", "住房安全，冬季取暖、夏季防暑有保障"),
            CheckItem("health", "身体状况正常，看病就医无困难"),
        ),
    ),
}
ELIGIBLE_TAGS = frozenset(t for kind in PLAN_KINDS.values() for t in kind.tags)
FREQUENCY_LABELS = {Frequency.WEEKLY: "每周", Frequency.BIWEEKLY: "每两周", Frequency.MONTHLY: "每月"}
OUTCOME_LABELS = {
    VisitOutcome.WELL: "情况良好",
    VisitOutcome.NEEDS_FOUND: "发现需求",
    VisitOutcome.NOT_HOME: "未遇",
}
# The nominal length of an interval in days: coverage looks this far back for a done visit.
INTERVAL_DAYS = {Frequency.WEEKLY: 7, Frequency.BIWEEKLY: 14, Frequency.MONTHLY: 31}
# After this many misses in a row the community is alerted and the visit order escalates.
MISSES_TO_ESCALATE = 3


def _add_months(anchor: date, months: int) -> date:
    """``anchor``'s day of the month, ``months`` later (the 31st becomes the month's last day)."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))


def period_start(start_on: date, frequency: Frequency, n: int) -> date:
    """The first day of the plan's ``n``-th period (0: the plan's start)."""
    if frequency == Frequency.MONTHLY:
        return _add_months(start_on, n)
    step = 7 if frequency == Frequency.WEEKLY else 14
    return start_on + timedelta(days=step * n)


def period_index(start_on: date, frequency: Frequency, day: date) -> int:
    """The index of the period ``day`` falls in (0 for a day before the start)."""
    if day <= start_on:
        return 0
    if frequency == Frequency.MONTHLY:
        n = (day.year - start_on.year) * 12 + day.month - start_on.month
        return n if period_start(start_on, frequency, n) <= day else n - 1
    step = 7 if frequency == Frequency.WEEKLY else 14
    return (day - start_on).days // step


def next_period(start_on: date, frequency: Frequency, period_on: date) -> date:
    return period_start(start_on, frequency, period_index(start_on, frequency, period_on) + 1)


def due_on(period_on: date, today: date, cal: WorkCalendar) -> date:
    """The working day a visit is due: the period's first day, or the first working day after it
    (a weekend, a public holiday), never a day already past."""
    day = max(period_on, today)
    return day if cal.is_workday(day) else cal.next_working_day(day)
