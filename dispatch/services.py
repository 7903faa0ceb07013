"""Long-lived services shared by requests and jobs, kept on the AppContext.

Each is built lazily and rebuilt when the rows it is made from change, so several processes
sharing one database all see an admin's edit (catalogue, gazetteer, calendar) without a restart.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dispatch.cache import StampedCache
from dispatch.catalogue.index import SuggestionService
from dispatch.context import AppContext
from dispatch.geo.geocoding import AddressLocator, build_online_geocoders
from dispatch.matching.service import ProviderIndexService
from dispatch.orders.intake import IntakeServices
from dispatch.timelimits.calendar import WorkCalendar, load_calendar
from models import CalendarDay


def calendar_stamp(session: Session) -> tuple[Any, ...]:
    return tuple(
        session.execute(
            select(
                func.count(),
                func.min(CalendarDay.day),
                func.max(CalendarDay.day),
                func.sum(func.length(CalendarDay.name)),
                func.sum(case((CalendarDay.is_workday, 1), else_=0)),
            )
        ).one()
    )


class CalendarService:
    def __init__(self, tz: ZoneInfo, check_every: float = 0.0) -> None:
        self.tz = tz
        self.cache = StampedCache(
            stamp=calendar_stamp, build=lambda s: load_calendar(s, tz), check_every=check_every
        )

    def calendar(self, session: Session) -> WorkCalendar:
        return self.cache.get(session)


def _service(ctx: AppContext, name: str, build: Any) -> Any:
    found = ctx.services.get(name)
    if found is None:
        found = ctx.services.setdefault(name, build())
    return found


def _every(ctx: AppContext) -> float:
    return ctx.settings.server.cache_check_seconds


def suggestions(ctx: AppContext) -> SuggestionService:
    return _service(ctx, "suggestions", lambda: SuggestionService(_every(ctx)))


def locator(ctx: AppContext) -> AddressLocator:
    return _service(
        ctx,
        "locator",
        lambda: AddressLocator(build_online_geocoders(ctx.settings.geocoding), check_every=_every(ctx)),
    )


def calendars(ctx: AppContext) -> CalendarService:
    return _service(
        ctx, "calendar", lambda: CalendarService(ZoneInfo(ctx.settings.locale.timezone), _every(ctx))
    )


def provider_index(ctx: AppContext) -> ProviderIndexService:
    return _service(ctx, "provider_index", lambda: ProviderIndexService(_every(ctx)))


def intake_services(ctx: AppContext, session: Session) -> IntakeServices:
    return IntakeServices(
        suggest=suggestions(ctx).suggest,
        locator=locator(ctx),
        calendar=calendars(ctx).calendar(session),
        tz=ZoneInfo(ctx.settings.locale.timezone),
    )
