"""The 督办 dashboard's own read endpoints, beside ``/api/v1/stats/summary``:

- ``GET /api/v1/stats/targets``: the ``[targets]`` the rate charts are drawn against, and the
  map's optional tile layer (``[dashboard]``);
- ``GET /api/v1/stats/calls/hourly``: inbound calls answered / abandoned by local hour of day;
- ``GET /api/v1/stats/map``: per community (its centroid), orders received, open and overdue,
  and the active providers serving it. No resident data.

The same readers as the summary (admins, supervisors, operators).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest
from dispatch.inputs import AwareTime
from dispatch.reports.dashboard import calls_by_hour, community_map
from models import Role, User

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

Reader = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]
DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=3660)
FromParam = Annotated[
    AwareTime | None,
    Query(alias="from", description="at or after, ISO 8601 with a time zone (default: 30 days before to)"),
]
ToParam = Annotated[AwareTime | None, Query(description="before (default: now)")]


class Targets(BaseModel):
    closure_rate: float
    on_time_rate: float
    sign_on_time_rate: float
    satisfaction_rate: float
    answer_rate: float
    minutes_to_accept: float
    tile_url: str
    tile_attribution: str


class HourOut(BaseModel):
    hour: int
    inbound: int
    answered: int
    abandoned: int
    unanswered: int


class Period(BaseModel):
    from_: str = Field(alias="from")
    to: str


class HourlyOut(Period):
    hours: list[HourOut]


class CommunityOut(BaseModel):
    id: int
    code: str
    name: str
    lat: float
    lon: float
    received: int
    open: int
    overdue: int
    organisations: int
    workers: int


class MapOut(Period):
    communities: list[CommunityOut]


def _period(ctx: Ctx, from_: datetime | None, to: datetime | None) -> tuple[datetime, datetime]:
    end = to or ctx.clock.now()
    start = from_ or end - DEFAULT_PERIOD
    if start >= end:
        raise BadRequest("from: must be before to", code="invalid_period", message="开始时间：须早于结束时间")
    if end - start > MAX_PERIOD:
        raise BadRequest(
            "to: the period covers at most ten years",
            code="invalid_period",
            message="结束时间：统计期最长十年",
        )
    return start, end


def _local(ctx: Ctx, at: datetime) -> str:
    return at.astimezone(ZoneInfo(ctx.settings.locale.timezone)).isoformat()


@router.get("/targets", response_model=Targets)
def stats_targets(ctx: Ctx, _user: Reader) -> Targets:
    """The targets of the rate charts (shares 0-1; ``minutes_to_accept`` a median in minutes)
    and the map's tile layer ("" = none: plain longitude/latitude axes)."""
    t = ctx.settings.targets
    d = ctx.settings.dashboard
    return Targets(**t.model_dump(), tile_url=d.tile_url, tile_attribution=d.tile_attribution)


@router.get("/calls/hourly", response_model=HourlyOut)
def stats_calls_hourly(
    ctx: Ctx, db: Db, _user: Reader, from_: FromParam = None, to: ToParam = None
) -> HourlyOut:
    """Inbound calls that started in [from, to) by local hour of day: 24 rows, hours 0-23,
    ``unanswered`` = missed or left for voicemail."""
    start, end = _period(ctx, from_, to)
    rows = calls_by_hour(db, start=start, end=end, timezone=ctx.settings.locale.timezone)
    return HourlyOut.model_validate(
        {"from": _local(ctx, start), "to": _local(ctx, end), "hours": [vars(r) for r in rows]}
    )


@router.get("/map", response_model=MapOut)
def stats_map(ctx: Ctx, db: Db, _user: Reader, from_: FromParam = None, to: ToParam = None) -> MapOut:
    """Every community at its centroid (the gazetteer's coordinates) with the orders received in
    [from, to), how many of them are still open and how many of those are overdue, and the
    active organisations and workers serving it."""
    start, end = _period(ctx, from_, to)
    points = community_map(db, start=start, end=end)
    return MapOut.model_validate(
        {"from": _local(ctx, start), "to": _local(ctx, end), "communities": [vars(p) for p in points]}
    )
