"""Figures the 督办 dashboard draws besides the KPI summary: calls by hour of day and the
district map (orders and providers per community).

Both read the database directly, on SQLite and PostgreSQL alike (``portable`` spells the time
arithmetic for each); neither returns anything about a resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from dispatch.reports.portable import ms_since, offset_pieces
from models import (
    OPEN_STATUSES,
    Area,
    AreaKind,
    Call,
    CallDirection,
    Disposition,
    Order,
    Provider,
    ProviderCommunity,
    ProviderKind,
    ProviderStatus,
)

HOUR_MS = 3_600_000


def local_hour(column: Any, zone: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[int]:
    """The local hour of day (0-23) of a timestamp in [start, end), DST changes included.

    Milliseconds since a UTC midnight a day before the start (so the sum stays positive for SQL's
    truncating division and modulo), plus the zone's UTC offset of the piece of the period the
    instant falls in (``portable.offset_pieces``).
    """
    pieces = offset_pieces(zone, start, end)
    origin = datetime.combine(start.astimezone(UTC).date(), time(), UTC) - timedelta(days=1)
    shifts = [(column >= at, minutes * 60_000) for at, minutes in reversed(pieces[1:])]
    first = pieces[0][1] * 60_000
    offset: Any = case(*shifts, else_=first) if shifts else first
    return ((ms_since(column, origin) + offset) // HOUR_MS) % 24


@dataclass(frozen=True)
class HourRow:
    hour: int
    inbound: int
    answered: int
    abandoned: int
    unanswered: int  # missed (nobody free) or left for voicemail


def calls_by_hour(session: Session, *, start: datetime, end: datetime, timezone: str) -> list[HourRow]:
    """Inbound calls that started in [start, end) by the local hour they came in (all 24 hours)."""
    hour = local_hour(Call.started_at, ZoneInfo(timezone), start, end).label("hour")
    counts = session.execute(
        select(
            hour,
            func.count(),
            func.count(case((Call.disposition == Disposition.ANSWERED, 1))),
            func.count(case((Call.disposition == Disposition.ABANDONED, 1))),
            func.count(case((Call.disposition.in_([Disposition.MISSED, Disposition.VOICEMAIL]), 1))),
        )
        .where(Call.direction == CallDirection.INBOUND, Call.started_at >= start, Call.started_at < end)
        .group_by(hour)
    ).all()
    by_hour = {int(h): (n, a, b, u) for h, n, a, b, u in counts}
    return [HourRow(h, *by_hour.get(h, (0, 0, 0, 0))) for h in range(24)]


@dataclass(frozen=True)
class CommunityPoint:
    id: int
    code: str
    name: str
    lat: float
    lon: float
    received: int  # orders received in the period
    open: int  # of those, still being worked on
    overdue: int  # of those open, past their completion deadline
    organisations: int  # active service organisations serving the community
    workers: int  # active workers serving it


def community_map(session: Session, *, start: datetime, end: datetime) -> list[CommunityPoint]:
    """Every community (its gazetteer centroid) with its orders of [start, end) and its providers."""
    open_ = Order.status.in_(OPEN_STATUSES)
    orders = {
        cid: (n, o, late)
        for cid, n, o, late in session.execute(
            select(
                Order.community_id,
                func.count(),
                func.count(case((open_, 1))),
                func.count(case((and_(open_, Order.overdue.is_(True)), 1))),
            )
            .where(Order.created_at >= start, Order.created_at < end, Order.community_id.is_not(None))
            .group_by(Order.community_id)
        )
    }
    providers: dict[int, dict[ProviderKind, int]] = {}
    for cid, kind, n in session.execute(
        select(ProviderCommunity.community_id, Provider.kind, func.count())
        .join(Provider, Provider.id == ProviderCommunity.provider_id)
        .where(Provider.status == ProviderStatus.ACTIVE)
        .group_by(ProviderCommunity.community_id, Provider.kind)
    ):
        providers.setdefault(cid, {})[kind] = n
    areas = session.scalars(select(Area).where(Area.kind == AreaKind.COMMUNITY).order_by(Area.code))
    return [
        CommunityPoint(
            a.id,
            a.code,
            a.name,
            a.lat,
            a.lon,
            *orders.get(a.id, (0, 0, 0)),
            providers.get(a.id, {}).get(ProviderKind.ORGANISATION, 0),
            providers.get(a.id, {}).get(ProviderKind.WORKER, 0),
        )
        for a in areas
    ]
