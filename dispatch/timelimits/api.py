"""The working-day calendar: read by everyone who plans, edited by admins (holidays, 调休)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import BadRequest
from dispatch.timelimits.calendar import reset_day, set_day
from models import CalendarDay, CalendarYear, Role, User

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


class YearOut(BaseModel):
    year: int
    covered: bool = Field(description="the year's official schedule is entered in full")
    source: str | None = Field(None, description="chinese-calendar, import or manual")
    note: str = ""
    confirmed_by: str | None = Field(None, description="the admin who imported or confirmed it")
    confirmed_at: datetime | None = None


class CoverageOut(BaseModel):
    official_until: date = Field(description="the last day the official holiday schedule is entered for")
    days_left: int = Field(description="days from today to official_until; negative once it has passed")
    warning: str | None = Field(
        description="what admins and supervisors are told (Chinese); null above 60 days"
    )
    today: date = Field(description="today in the call centre's time zone")
    years: list[YearOut] = Field(description="the covered years, oldest first")


def _year_out(db: Db, row: CalendarYear) -> YearOut:
    who = db.get(User, row.confirmed_by_id) if row.confirmed_by_id is not None else None
    return YearOut(
        year=row.year,
        covered=True,
        source=row.source,
        note=row.note,
        confirmed_by=who.username if who else None,
        confirmed_at=row.confirmed_at,
    )


@router.get("", response_model=CalendarOut, dependencies=[Depends(require_roles(*ALL_ROLES))])
def list_days(
    db: Db,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
) -> CalendarOut:
    """Days in [from, to] whose status differs from plain Monday–Friday, or that an admin pinned."""
    if to < from_ or (to - from_).days > 731:
        raise BadRequest("to: must be on or after from, at most two years later", code="bad_range")
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


@router.get("/coverage", response_model=CoverageOut, dependencies=[Depends(require_roles(*ALL_ROLES))])
def coverage(db: Db, ctx: Ctx) -> CoverageOut:
    """How far the calendar follows the State Council's published schedule. From 60 days before
    ``official_until`` a Chinese ``warning`` says what will go wrong and what to do; days after it
    are counted Monday–Friday, and orders whose deadlines fall there are ``deadline_uncovered``."""
    cov = ctx.caches.calendars.coverage(db, ctx.clock.now())
    years = [_year_out(db, r) for r in db.scalars(select(CalendarYear).order_by(CalendarYear.year))]
    return CoverageOut(
        official_until=cov.official_until,
        days_left=cov.days_left,
        warning=cov.warning,
        today=cov.today,
        years=years,
    )
