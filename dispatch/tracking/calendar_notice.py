"""The daily reminder that the working-day calendar is running out (``timelimits.coverage``).

From 60 days before ``official_until`` admins and supervisors get the warning once per local day
in their console, until next year's schedule is entered and confirmed. Once a day, not once a tick:
the outbox's ``dedupe_key`` carries the local date, and a look-up first spares the tick the
failing insert on every later run that day.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.outbox import messages
from dispatch.ports import Recipient
from dispatch.timelimits.coverage import Coverage
from models import OutboxMessage

KIND = "calendar_coverage"
ROLES = ("admin", "supervisor")


def dedupe_key(coverage: Coverage, role: str) -> str:
    return f"{KIND}:{coverage.today.isoformat()}:{role}"


def notify_calendar_coverage(session: Session, *, coverage: Coverage, now: datetime) -> int:
    """Warn admins and supervisors once on this local day; returns how many notices were added."""
    if coverage.warning is None:
        return 0
    keys = {role: dedupe_key(coverage, role) for role in ROLES}
    sent = set(
        session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys.values())))
    )
    added = 0
    for role, key in keys.items():
        if key in sent:
            continue
        notice = messages.notice(
            Recipient.role(role),
            coverage.warning,
            kind=KIND,
            now=now,
            dedupe_key=key,
            official_until=coverage.official_until.isoformat(),
            days_left=coverage.days_left,
        )
        added += messages.add(session, notice)
    return added
