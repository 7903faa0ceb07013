"""Human order numbers: ``YYYYMMDD-NNNN`` by the call centre's local date.

The per-day counter row is incremented with one UPDATE … RETURNING, which PostgreSQL serialises
with a row lock and SQLite with its single writer, so concurrent intakes never get the same number.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import OrderCounter

_counter = OrderCounter.__table__
# Built once: every intake runs it, and building an UPDATE costs more than executing it.
_BUMP = (
    update(_counter)
    .where(_counter.c.day == bindparam("today"))
    .values(last=_counter.c.last + 1)
    .returning(_counter.c.last)
)


def next_number(session: Session, now: datetime, tz: ZoneInfo) -> str:
    day: date = now.astimezone(tz).date()
    last = session.scalar(_BUMP, {"today": day})
    if last is None:
        try:
            with session.begin_nested():
                session.execute(insert(_counter).values(day=day, last=1))
            last = 1
        except IntegrityError:  # another transaction created today's row first
            last = session.scalar(_BUMP, {"today": day})
    return f"{day:%Y%m%d}-{last:04d}"
