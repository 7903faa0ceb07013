"""The access trail of residents' personal data: who read whose data, when, what and why.

Every path that shows a resident's personal data records it here: the profile, a search's
results, the screen pop, a revealed number, an order's detail, the callback worklist, an export.
A record goes in with the request's own transaction when it writes; a read-only request (a GET)
hands its records over (``db.write_later``) to a short write transaction once the read is over, so
reading never waits for SQLite's writer. Rows are only ever added: no API changes or deletes one,
and the database refuses to (migration 0004's triggers).

Views that a screen reloads on every live change (a profile, an order's detail, the worklist) would
bury the trail under copies, so a repeat of the same view of the same resident (and order) by the
same user within ``REPEAT_WINDOW`` is folded into the first. Reveals, screen pops and exports are
always recorded: each has its own reason.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from dispatch.db import write_later
from models import AccessRecord, Role, User

REPEAT_WINDOW = timedelta(minutes=10)
_TEXT = 200  # the columns' length


class Access(enum.StrEnum):
    PROFILE = "profile"
    RESIDENT_SEARCH = "resident_search"
    SCREEN_POP = "screen_pop"
    PHONE_REVEAL = "phone_reveal"
    ORDER_DETAIL = "order_detail"
    CALLBACK = "callback"
    EXPORT = "export"


# What each is called on the admins' screen.
ACCESS_ZH = {
    Access.PROFILE: "查看居民档案",
    Access.RESIDENT_SEARCH: "查询居民",
    Access.SCREEN_POP: "来电弹屏",
    Access.PHONE_REVEAL: "查看号码",
    Access.ORDER_DETAIL: "查看工单详情",
    Access.CALLBACK: "回拨工作单",
    Access.EXPORT: "导出",
}
FOLDED = frozenset({Access.PROFILE, Access.RESIDENT_SEARCH, Access.ORDER_DETAIL, Access.CALLBACK})


@dataclass(frozen=True, slots=True)
class Reader:
    """Who read: a user (kept by name and role too, as they were at the time)."""

    id: int | None
    username: str
    role: str

    @classmethod
    def of(cls, user: User) -> Reader:
        return cls(user.id, user.username, user.role.value if isinstance(user.role, Role) else str(user.role))


@dataclass(frozen=True, slots=True)
class Seen:
    """Whose data (and on which order) one view showed."""

    resident_id: int | None
    order_id: int | None = None


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT else text[: _TEXT - 1] + "…"


def record(
    session: Session,
    reader: User | Reader,
    action: Access,
    *,
    at: datetime,
    resident_id: int | None = None,
    order_id: int | None = None,
    reason: str = "",
    detail: str = "",
) -> int:
    """Record one read; returns how many rows were written (0: a folded repeat)."""
    return record_many(
        session, reader, action, [Seen(resident_id, order_id)], at=at, reason=reason, detail=detail
    )


def record_many(
    session: Session,
    reader: User | Reader,
    action: Access,
    seen: Iterable[Seen],
    *,
    at: datetime,
    reason: str = "",
    detail: str = "",
) -> int:
    """Record one view of several residents (a page of results, an export) as a row each."""
    who = reader if isinstance(reader, Reader) else Reader.of(reader)
    wanted = list(dict.fromkeys(seen))
    if action in FOLDED and wanted and who.id is not None:
        wanted = [s for s in wanted if s not in _recent(session, who.id, action, wanted, at)]
    if not wanted:
        return 0
    common = {
        "at": at,
        "user_id": who.id,
        "username": who.username,
        "role": who.role,
        "action": action.value,
        "reason": _cut(reason.strip()),
        "detail": _cut(detail.strip()),
    }
    rows = [AccessRecord(**common, resident_id=s.resident_id, order_id=s.order_id) for s in wanted]
    write_later(session, *rows)
    return len(rows)


def _recent(session: Session, user_id: int, action: Access, seen: list[Seen], at: datetime) -> set[Seen]:
    residents = {s.resident_id for s in seen if s.resident_id is not None}
    match = AccessRecord.resident_id.in_(residents) if residents else AccessRecord.resident_id.is_(None)
    if None in {s.resident_id for s in seen} and residents:
        match = or_(match, AccessRecord.resident_id.is_(None))
    rows = session.execute(
        select(AccessRecord.resident_id, AccessRecord.order_id).where(
            AccessRecord.user_id == user_id,
            AccessRecord.action == action.value,
            AccessRecord.at > at - REPEAT_WINDOW,
            AccessRecord.at <= at,
            match,
        )
    )
    return {Seen(r, o) for r, o in rows}


def trail(
    *,
    resident_id: int | None = None,
    user_id: int | None = None,
    order_id: int | None = None,
    action: Access | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Select[tuple[AccessRecord]]:
    """The records matching every filter given, newest first."""
    conditions = []
    if resident_id is not None:
        conditions.append(AccessRecord.resident_id == resident_id)
    if user_id is not None:
        conditions.append(AccessRecord.user_id == user_id)
    if order_id is not None:
        conditions.append(AccessRecord.order_id == order_id)
    if action is not None:
        conditions.append(AccessRecord.action == action.value)
    if start is not None:
        conditions.append(AccessRecord.at >= start)
    if end is not None:
        conditions.append(AccessRecord.at < end)
    stmt = select(AccessRecord).order_by(AccessRecord.at.desc(), AccessRecord.id.desc())
    return stmt.where(and_(*conditions)) if conditions else stmt
