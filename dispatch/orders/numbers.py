"""Human order numbers: ``YYYYMMDD-NNNN`` by the call centre's local date.

The per-day counter row is incremented with one UPDATE, which PostgreSQL serialises with a row
lock and SQLite with its single writer, so concurrent intakes never get the same number.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import OrderCounter


def next_number(session: Session, now: datetime, tz: ZoneInfo) -> str:
    day: date = now.astimezone(tz).date()
    stmt = update(OrderCounter).where(OrderCounter.day == day).values(last=OrderCounter.last + 1)
    if session.execute(stmt).rowcount == 0:
        try:
            with session.begin_nested():
                session.execute(insert(OrderCounter).values(day=day, last=1))
        except IntegrityError:  # another transaction created today's row first
            session.execute(stmt)
    last = session.scalar(select(OrderCounter.last).where(OrderCounter.day == day))
    return f"{day:%Y%m%d}-{last:04d}"
