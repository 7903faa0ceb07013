"""The working-day calendar: read by everyone who plans, edited by admins (holidays, 调休)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import BadRequest
from dispatch.timelimits.calendar import reset_day, set_day
from models import CalendarDay, Role

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


class DayOut(BaseModel):
    day: date
    is_workday: bool
    name: str
    source: str


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    is_workday: bool
    name: str = Field("", max_length=50)


class CalendarOut(BaseModel):
    items: list[DayOut]
    total: int


@router.get("", response_model=CalendarOut, dependencies=[Depends(require_roles(*ALL_ROLES))])
def list_days(
    db: Db,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
) -> CalendarOut:
    """Days in [from, to] whose status differs from plain Monday–Friday, or that an admin pinned."""
    if to < from_ or (to - from_).days > 731:
        raise BadRequest(
            "to: must be on or after from, at most two years later",
            code="bad_range",
            message="结束日期：不能早于开始日期，且最多相隔两年",
        )
    rows = db.scalars(
        select(CalendarDay).where(CalendarDay.day >= from_, CalendarDay.day <= to).order_by(CalendarDay.day)
    )
    items = [DayOut(day=r.day, is_workday=r.is_workday, name=r.name, source=r.source) for r in rows]
    return CalendarOut(items=items, total=len(items))


@router.put("/{day}", response_model=DayOut, dependencies=[Depends(require_roles(Role.ADMIN))])
def put_day(day: date, body: DayIn, db: Db, ctx: Ctx) -> DayOut:
    """Pin a day as working or not (e.g. a holiday announced late); re-seeding never overwrites it.

    Deadlines already set keep their times; orders created from now on use the new calendar.
    """
    row = set_day(db, day, is_workday=body.is_workday, name=body.name)
    ctx.caches.calendars.cache.invalidate()
    return DayOut(day=row.day, is_workday=row.is_workday, name=row.name, source=row.source)


@router.delete("/{day}", response_model=DayOut, dependencies=[Depends(require_roles(Role.ADMIN))])
def reset(day: date, db: Db, ctx: Ctx) -> DayOut:
    """Undo an edit: the day is again what the official calendar (``chinese-calendar``) says, and
    later re-seeding may update it. Answers the day as it now is."""
    row = reset_day(db, day)
    ctx.caches.calendars.cache.invalidate()
    if row is None:  # a plain day: working Monday to Friday
        return DayOut(day=day, is_workday=day.weekday() < 5, name="", source="weekday")
    return DayOut(day=row.day, is_workday=row.is_workday, name=row.name, source=row.source)
