"""Clock helpers for the demo history: the product's time limits (read once), office hours, delays.

Deadlines, offer sign-by times, callbacks and the escalation ladder come from the product's own
rules (``dispatch/timelimits``) with the SLA classes, item overrides and working-day calendar in
the database, so the history reads exactly as the running system would have written it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.orders.offers import DEFAULT_SIGN_FOR
from dispatch.settings import TrackingSettings
from dispatch.timelimits.calendar import WorkCalendar, load_calendar
from dispatch.timelimits.deadlines import Limits, add_limit
from dispatch.timelimits.sla import effective_limits
from models import Item, Priority, SlaClass

TZ = ZoneInfo("Asia/Shanghai")
# Relative call volume by local hour: busy mornings and early afternoons, quiet nights.
HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4.0, 7.0, 7.0, 5.0,
    3.0, 4.0, 6.0, 6.0, 5.0, 3.0, 2.0, 1.5, 1.2, 0.8, 0.5, 0.3,
)  # fmt: skip
# The configuration's default lead. It only places an open order's next check: the tracking sweep
# works the ladder out again, with the configured lead, when it looks at the order.
REMIND_BEFORE = timedelta(minutes=TrackingSettings().remind_before_minutes)


@dataclass(frozen=True, slots=True)
class TimeRules:
    """The working-day calendar and the limits of every item at every priority, loaded once so
    that living through thousands of orders asks the database nothing."""

    calendar: WorkCalendar
    limits: Mapping[tuple[int, Priority], Limits]

    def offer_sign_by(self, offered_at: datetime, limits: Limits) -> datetime:
        """An offer's own sign-for deadline counts from the offer, as dispatch sets it
        (orders/offers): a class without a sign-for step still gives the provider DEFAULT_SIGN_FOR."""
        if limits.sign_for is None:
            return offered_at + DEFAULT_SIGN_FOR
        return add_limit(offered_at, limits.sign_for, limits.clock, self.calendar)


def load_time_rules(session: Session, tz: ZoneInfo) -> TimeRules:
    # Held while the limits are worked out: effective_limits then finds every class in the
    # session's identity map instead of querying for it item after item.
    _classes = session.scalars(select(SlaClass)).all()
    limits = {
        (item.id, priority): effective_limits(session, item, priority)
        for item in session.scalars(select(Item))
        for priority in Priority
    }
    return TimeRules(load_calendar(session, tz), limits)


def daytime(at: datetime, rng: random.Random, *, start: int = 8, end: int = 20) -> datetime:
    """``at``, or the next moment inside local office-ish hours [start, end) (never earlier)."""
    local = at.astimezone(TZ)
    if local.hour < start:
        local = local.replace(hour=start, minute=rng.randrange(60))
    elif local.hour >= end:
        local = (local + timedelta(days=1)).replace(hour=start, minute=rng.randrange(60))
    return local.astimezone(at.tzinfo)


def minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=rng.uniform(low, high))
