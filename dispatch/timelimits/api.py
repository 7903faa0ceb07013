"""The working-day calendar: read by everyone who plans, edited by admins (holidays, 调休)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.convertors import Convertor, register_url_convertor

from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import AppError, BadRequest
from dispatch.inputs import Flag, Payload
from dispatch.timelimits.calendar import SOURCE_MANUAL, reset_day, set_day
from dispatch.timelimits.csvio import YearDay, YearFileError, format_year, parse_year
from dispatch.timelimits.schedule import (
    SOURCE_IMPORT,
    Period,
    confirm_year,
    replace_year,
    set_period,
    unconfirm_year,
    year_rows,
)
from models import CalendarDay, CalendarYear, Role, User


class IsoDateConvertor(Convertor[str]):
    """``{day:isodate}``: only ``YYYY-MM-DD`` reaches a day's route, so ``/calendar/coverage`` and
    ``/calendar/periods`` are never taken for a day (``PUT /calendar/coverage`` is a 405, not a 422
    about a date). pydantic still reads the date itself."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("isodate", IsoDateConvertor())
router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])

Year = Annotated[int, Path(ge=2000, le=2100, description="a calendar year, e.g. 2027")]
MAX_CSV_BYTES = 256 * 1024  # a year has ~40 special days; this is hundreds of times that


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class DayOut(BaseModel):
    day: date
    is_workday: bool
    name: str
    source: str


class DayIn(Payload):
    is_workday: Flag
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


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100, description="the holiday, e.g. 春节 (1–20 characters)")
    start: date
    end: date
    workdays: list[date] = Field(
        [], max_length=10, description="make-up working days (调休), weekends outside the period"
    )


class YearConfirmIn(Payload):
    note: str = Field("", max_length=200, description="e.g. the notice: 国办发明电〔2026〕号")


class YearImportOut(BaseModel):
    year: int
    days: int = Field(description="the days the file lists")
    changed: int = Field(description="the days whose status or name this import changed")
    covered: YearOut


def _day_out(row: CalendarDay) -> DayOut:
    return DayOut(day=row.day, is_workday=row.is_workday, name=row.name, source=row.source)


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


@router.put("/{day:isodate}", response_model=DayOut, dependencies=[Depends(require_roles(Role.ADMIN))])
def put_day(day: date, body: DayIn, db: Db, ctx: Ctx) -> DayOut:
    """Pin a day as working or not (e.g. a holiday announced late); re-seeding never overwrites it.

    Deadlines already set keep their times; orders created from now on use the new calendar.
    """
    row = set_day(db, day, is_workday=body.is_workday, name=body.name)
    ctx.caches.calendars.cache.invalidate()
    return DayOut(day=row.day, is_workday=row.is_workday, name=row.name, source=row.source)


@router.delete("/{day:isodate}", response_model=DayOut, dependencies=[Depends(require_roles(Role.ADMIN))])
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


@router.post("/periods", response_model=CalendarOut, dependencies=[Depends(require_roles(Role.ADMIN))])
def post_period(body: PeriodIn, db: Db, ctx: Ctx) -> CalendarOut:
    """Set a whole holiday period in one step, as the State Council's notice lists it: every day
    from ``start`` to ``end`` a holiday named ``name``, each of ``workdays`` a working day named
    ``{name}调休``. All or nothing; answers the days set. New deadlines follow at once."""
    rows = set_period(db, Period(body.name, body.start, body.end, tuple(body.workdays)))
    ctx.caches.calendars.cache.invalidate()
    return CalendarOut(items=[_day_out(r) for r in rows], total=len(rows))


@router.get(
    "/years/{year:int}.csv",
    response_class=Response,
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR))],
    responses={200: {"content": {"text/csv": {}}, "description": "date,is_workday,name,source"}},
)
def export_year(year: Year, db: Db) -> Response:
    """The year's days that differ from Monday–Friday (or carry a name), as CSV: UTF-8 with a
    byte-order mark, so Excel shows the Chinese names."""
    days = [YearDay(r.day, r.is_workday, r.name, r.source) for r in year_rows(db, year)]
    return Response(
        content=format_year(days),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="calendar-{year}.csv"'},
    )


@router.post("/years/{year:int}.csv", response_model=YearImportOut)
def import_year(
    year: Year,
    data: Annotated[
        bytes, Body(media_type="text/csv", min_length=1, description="date,is_workday,name,source")
    ],
    db: Db,
    ctx: Ctx,
    user: Annotated[User, Depends(require_roles(Role.ADMIN))],
) -> YearImportOut:
    """Replace the year with the file's days (the layout of the export) and mark the year covered
    (source ``import``). Every line is checked; any problem refuses the whole file, naming the
    lines, and nothing is written."""
    if len(data) > MAX_CSV_BYTES:
        raise PayloadTooLarge(
            f"the file is over {MAX_CSV_BYTES // 1024} KB; a year's calendar is far smaller",
            message=f"文件超过 {MAX_CSV_BYTES // 1024} KB，一年的日历文件不会这么大，请检查是否选错了文件",
        )
    try:
        days = parse_year(data, year)
    except YearFileError as exc:
        raise BadRequest(
            f"the calendar file has {len(exc.problems)} problem(s), listed in message",
            code="invalid_calendar_file",
            message=f"日历文件有误：{exc}",
        ) from None
    changed = replace_year(db, year, days)
    row = confirm_year(db, year, source=SOURCE_IMPORT, user_id=user.id, now=ctx.clock.now(), tz=ctx.tz)
    ctx.caches.calendars.cache.invalidate()
    return YearImportOut(year=year, days=len(days), changed=changed, covered=_year_out(db, row))


@router.put("/years/{year:int}", response_model=YearOut)
def put_year(
    year: Year,
    db: Db,
    ctx: Ctx,
    user: Annotated[User, Depends(require_roles(Role.ADMIN))],
    body: YearConfirmIn | None = None,
) -> YearOut:
    """Confirm that the year's official schedule is entered in full (after setting its periods by
    hand): the calendar is then official through that year. Refused while the year has no holiday."""
    row = confirm_year(
        db,
        year,
        source=SOURCE_MANUAL,
        user_id=user.id,
        now=ctx.clock.now(),
        tz=ctx.tz,
        note=body.note if body else "",
    )
    ctx.caches.calendars.cache.invalidate()
    return _year_out(db, row)


@router.delete("/years/{year:int}", response_model=YearOut, dependencies=[Depends(require_roles(Role.ADMIN))])
def delete_year(year: Year, db: Db, ctx: Ctx) -> YearOut:
    """Take back a confirmation or import (the days stay as entered). Years from
    ``chinese-calendar`` cannot be taken back."""
    unconfirm_year(db, year)
    ctx.caches.calendars.cache.invalidate()
    return YearOut(year=year, covered=False)
