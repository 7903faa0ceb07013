"""Order time limits: sign-for and complete-by deadlines, extensions, callbacks and escalation.

Product rules (DESIGN.md "Time limits"; the working-day rules are in :mod:`.calendar`):

- Limits come from the SLA class; an item's own ``sign_for_limit`` / ``complete_limit`` wins
  over its class. Units: minutes for wall-clock classes (urgent, priority: 24×7, holidays
  ignored), working days for working-day classes (normal, consult).
- Both deadlines count from the order's creation. (An offer's own sign-for deadline counts from
  the offer; callers use :func:`add_limit` with the offer time for that.)
- An extension is always in working days, up to 10 in total per order, added to the complete-by
  deadline — also for wall-clock classes, because the supervisor grants "N more working days".
- Callback (回访) due 1 working day after completion; auto-close 3 working days after completion.
- Escalation ladder for a deadline: a reminder ``remind_before`` ahead of it, yellow card at the
  deadline, red card at twice the limit for wall-clock classes (a 2 h job is red at 4 h) or one
  working day after the deadline for working-day classes. For working-day classes the reminder
  lead counts working-day time only, so it never lands on a weekend or holiday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dispatch.timelimits.calendar import WorkCalendar
from models import ClockKind, Item, SlaClass

MAX_EXTENSION_WORKING_DAYS = 10
CALLBACK_WORKING_DAYS = 1
AUTO_CLOSE_WORKING_DAYS = 3
# Working-day classes go red this many working days after the deadline.
RED_AFTER_WORKING_DAYS = 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Time limits of one order: minutes on the wall clock or working days, per ``clock``."""

    clock: ClockKind
    sign_for: int | None  # None: no sign-for step (consultations answered by the centre)
    complete: int


def limits_for(sla: SlaClass, item: Item | None = None) -> Limits:
    """The class limits with the item's overrides applied (an override of None means "inherit")."""
    sign_for = sla.sign_for_limit
    complete = sla.complete_limit
    if item is not None:
        if item.sign_for_limit is not None:
            sign_for = item.sign_for_limit
        if item.complete_limit is not None:
            complete = item.complete_limit
    return Limits(clock=ClockKind(sla.clock), sign_for=sign_for, complete=complete)


def add_limit(start: datetime, amount: int, clock: ClockKind, cal: WorkCalendar) -> datetime:
    """``start`` plus ``amount`` minutes (wall clock) or working days; returned in UTC."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("deadlines need an aware datetime")
    if amount < 0:
        raise ValueError("a time limit cannot be negative")
    if clock == ClockKind.WALL:
        # Add in UTC: adding a timedelta to a local aware datetime is wall-time arithmetic and
        # would be an hour off across a DST change.
        return start.astimezone(UTC) + timedelta(minutes=amount)
    return cal.add_working_days(start, amount)


@dataclass(frozen=True, slots=True)
class Deadlines:
    sign_by: datetime | None
    complete_by: datetime


def order_deadlines(
    created_at: datetime, limits: Limits, cal: WorkCalendar, *, extension_days: int = 0
) -> Deadlines:
    """Deadlines of an order created at ``created_at``.

    ``extension_days`` is the total of the order's approved extensions (0..10 working days).
    """
    if not 0 <= extension_days <= MAX_EXTENSION_WORKING_DAYS:
        raise ValueError(f"an extension must be 0..{MAX_EXTENSION_WORKING_DAYS} working days")
    sign_by = (
        add_limit(created_at, limits.sign_for, limits.clock, cal) if limits.sign_for is not None else None
    )
    complete_by = add_limit(created_at, limits.complete, limits.clock, cal)
    if extension_days:
        complete_by = cal.add_working_days(complete_by, extension_days)
    return Deadlines(sign_by=sign_by, complete_by=complete_by)


def callback_due(completed_at: datetime, cal: WorkCalendar) -> datetime:
    """When the resident should have been called back for a rating."""
    return cal.add_working_days(completed_at, CALLBACK_WORKING_DAYS)


def auto_close_at(completed_at: datetime, cal: WorkCalendar) -> datetime:
    """When a completed order with no rating is closed as "no rating"."""
    return cal.add_working_days(completed_at, AUTO_CLOSE_WORKING_DAYS)


@dataclass(frozen=True, slots=True)
class Ladder:
    remind_at: datetime | None  # None when the lead would reach back to the start: nothing to warn
    yellow_at: datetime
    red_at: datetime


def ladder(
    start: datetime,
    deadline: datetime,
    clock: ClockKind,
    cal: WorkCalendar,
    *,
    remind_before: timedelta,
) -> Ladder:
    """The escalation times of one deadline that ran from ``start`` (creation, or the offer)."""
    start_utc, deadline_utc = start.astimezone(UTC), deadline.astimezone(UTC)
    if deadline_utc < start_utc:
        raise ValueError("the deadline is before its start")
    if remind_before < timedelta(0):
        raise ValueError("remind_before cannot be negative")
    if clock == ClockKind.WALL:
        remind_at = deadline_utc - remind_before
        # Twice the limit, measured from the start (the extension, if any, is part of the limit).
        red_at = deadline_utc + (deadline_utc - start_utc)
    else:
        remind_at = cal.working_time_before(deadline_utc, remind_before)
        red_at = cal.add_working_days(deadline_utc, RED_AFTER_WORKING_DAYS)
    return Ladder(
        remind_at=remind_at if start_utc < remind_at < deadline_utc else None,
        yellow_at=deadline_utc,
        red_at=red_at,
    )
