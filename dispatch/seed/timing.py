"""Clock helpers for the demo history: SLA deadlines, working days, office hours (pure)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
# Relative call volume by local hour: busy mornings and early afternoons, quiet nights.
HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4.0, 7.0, 7.0, 5.0,
    3.0, 4.0, 6.0, 6.0, 5.0, 3.0, 2.0, 1.5, 1.2, 0.8, 0.5, 0.3,
)  # fmt: skip


def add_working_days(at: datetime, days: int) -> datetime:
    """``days`` working days later at the same local time, Monday–Friday.

    Approximation: the product's calendar also knows public holidays and 调休 make-up weekends;
    demo history only skips weekends.
    """
    local = at.astimezone(TZ)
    while days > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local.astimezone(at.tzinfo)


def sign_deadline(start: datetime, sla: str) -> datetime | None:
    if sla == "urgent":
        return start + timedelta(minutes=15)
    if sla == "priority":
        return start + timedelta(minutes=30)
    if sla == "normal":
        return add_working_days(start, 1)
    return None  # consultations have no sign-for step


def complete_deadline(start: datetime, sla: str) -> datetime:
    if sla == "urgent":
        return start + timedelta(hours=2)
    if sla == "priority":
        return start + timedelta(hours=24)
    return add_working_days(start, 5 if sla == "normal" else 3)


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
