"""Coverage for supervisors: planned, done and overdue visits by community and by visitor, and the
residents with no visit within their interval.

Definitions (local dates; the period is [from, to)):
- a **planned** visit is one period of one plan whose visit was first due in the period (the
  first attempt's ``due_on``); tries after a miss belong to the same visit;
- **done**: one of its attempts found the resident (``well`` or ``needs_found``);
- **overdue**: not done, and its latest attempt's due day is before today;
- the rest is **pending** (due today or later);
- a resident has **no visit within their interval** when their plan is active, began at least
  one interval before ``as_of`` (the earlier of today and the period's last day), and no visit
  found them in the interval before ``as_of`` (7, 14 or 31 days).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.residents.privacy import mask_name
from dispatch.visits.plans import INTERVAL_DAYS
from models import Area, CareVisit, Provider, Resident, VisitOutcome, VisitPlan

FOUND = (VisitOutcome.WELL, VisitOutcome.NEEDS_FOUND)


@dataclass
class Counts:
    key: int | None
    name: str
    planned: int = 0
    done: int = 0
    overdue: int = 0
    pending: int = 0
    not_home: int = 0  # attempts that found nobody

    def add(self, done: bool, overdue: bool, misses: int) -> None:
        self.planned += 1
        self.done += done
        self.overdue += overdue
        self.pending += not done and not overdue
        self.not_home += misses


@dataclass
class Unvisited:
    plan_id: int
    resident_id: int
    resident_name: str
    community: str
    visitor: str
    frequency: str
    last_visit_on: date | None
    days_since: int | None


@dataclass
class Coverage:
    start: date
    end: date  # exclusive
    as_of: date
    total: Counts
    by_community: list[Counts] = field(default_factory=list)
    by_visitor: list[Counts] = field(default_factory=list)
    unvisited: list[Unvisited] = field(default_factory=list)


def coverage(session: Session, *, start: date, end: date, today: date, tz: ZoneInfo) -> Coverage:
    names = dict(session.execute(select(Area.id, Area.name)).all())
    firsts = session.execute(
        select(CareVisit.plan_id, CareVisit.period_on, VisitPlan.provider_id, Resident.community_id)
        .join(VisitPlan, VisitPlan.id == CareVisit.plan_id)
        .join(Resident, Resident.id == VisitPlan.resident_id)
        .where(CareVisit.attempt == 1, CareVisit.due_on >= start, CareVisit.due_on < end)
    ).all()
    keys = {(r.plan_id, r.period_on) for r in firsts}
    attempts: dict[tuple[int, date], list[CareVisit]] = defaultdict(list)
    if keys:
        plan_ids = {k[0] for k in keys}
        for v in session.scalars(select(CareVisit).where(CareVisit.plan_id.in_(plan_ids))):
            if (v.plan_id, v.period_on) in keys:
                attempts[(v.plan_id, v.period_on)].append(v)
    visitors = dict(session.execute(select(Provider.id, Provider.name)).all())
    total = Counts(None, "合计")
    by_community: dict[int | None, Counts] = {}
    by_visitor: dict[int, Counts] = {}
    for r in firsts:
        tries = attempts[(r.plan_id, r.period_on)]
        done = any(v.outcome in FOUND for v in tries)
        latest = max(tries, key=lambda v: v.attempt)
        overdue = not done and latest.due_on < today
        misses = sum(v.outcome == VisitOutcome.NOT_HOME for v in tries)
        total.add(done, overdue, misses)
        community = by_community.setdefault(
            r.community_id, Counts(r.community_id, names.get(r.community_id, "未定社区"))
        )
        community.add(done, overdue, misses)
        visitor = by_visitor.setdefault(r.provider_id, Counts(r.provider_id, visitors.get(r.provider_id, "")))
        visitor.add(done, overdue, misses)
    as_of = min(today, end - timedelta(days=1))
    return Coverage(
        start=start,
        end=end,
        as_of=as_of,
        total=total,
        by_community=sorted(by_community.values(), key=lambda c: (c.name, c.key or 0)),
        by_visitor=sorted(by_visitor.values(), key=lambda c: (c.name, c.key or 0)),
        unvisited=_unvisited(session, as_of=as_of, tz=tz, areas=names, visitors=visitors),
    )


def _unvisited(
    session: Session, *, as_of: date, tz: ZoneInfo, areas: dict[int, str], visitors: dict[int, str]
) -> list[Unvisited]:
    plans = session.execute(
        select(VisitPlan, Resident.name, Resident.community_id)
        .join(Resident, Resident.id == VisitPlan.resident_id)
        .where(VisitPlan.active, VisitPlan.start_on <= as_of)
        .order_by(VisitPlan.id)
    ).all()
    if not plans:
        return []
    last: dict[int, date] = {}
    found = session.execute(
        select(CareVisit.plan_id, CareVisit.recorded_at).where(
            CareVisit.plan_id.in_([p.VisitPlan.id for p in plans]), CareVisit.outcome.in_(FOUND)
        )
    )
    for plan_id, recorded_at in found:
        day = recorded_at.astimezone(tz).date()
        if day <= as_of and (plan_id not in last or day > last[plan_id]):
            last[plan_id] = day
    out = []
    for row in plans:
        plan = row.VisitPlan
        interval = INTERVAL_DAYS[plan.frequency]
        if plan.start_on > as_of - timedelta(days=interval):
            continue  # not one interval old yet
        seen = last.get(plan.id)
        if seen is not None and seen > as_of - timedelta(days=interval):
            continue
        out.append(
            Unvisited(
                plan_id=plan.id,
                resident_id=plan.resident_id,
                resident_name=mask_name(row.name),
                community=areas.get(row.community_id, "未定社区") if row.community_id else "未定社区",
                visitor=visitors.get(plan.provider_id, ""),
                frequency=plan.frequency.value,
                last_visit_on=seen,
                days_since=(as_of - seen).days if seen else None,
            )
        )
    return out
