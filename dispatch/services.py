"""Long-lived services shared by requests and jobs, kept on the AppContext.

Each is built lazily and rebuilt when the rows it is made from change, so several processes
sharing one database all see an admin's edit (catalogue, gazetteer, calendar) without a restart.
"""

from __future__ import annotations

import threading
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.catalogue.index import SuggestionService
from dispatch.context import AppContext
from dispatch.geo.geocoding import AddressLocator, build_online_geocoders
from dispatch.matching.service import ProviderIndexService
from dispatch.orders.intake import IntakeServices
from dispatch.tracking.calendar import WorkCalendar, load_calendar
from models import CalendarDay


class CalendarService:
    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._lock = threading.Lock()
        self._calendar: WorkCalendar | None = None
        self._stamp: tuple[Any, ...] | None = None

    def calendar(self, session: Session) -> WorkCalendar:
        stamp = tuple(
            session.execute(
                select(
                    func.count(),
                    func.min(CalendarDay.day),
                    func.max(CalendarDay.day),
                    func.sum(func.length(CalendarDay.name)),
                )
            ).one()
        )
        with self._lock:
            if self._calendar is None or stamp != self._stamp:
                self._calendar = load_calendar(session, self.tz)
                self._stamp = stamp
            return self._calendar


def _service(ctx: AppContext, name: str, build: Any) -> Any:
    found = ctx.services.get(name)
    if found is None:
        found = ctx.services.setdefault(name, build())
    return found


def suggestions(ctx: AppContext) -> SuggestionService:
    return _service(ctx, "suggestions", SuggestionService)


def locator(ctx: AppContext) -> AddressLocator:
    return _service(ctx, "locator", lambda: AddressLocator(build_online_geocoders(ctx.settings.geocoding)))


def calendars(ctx: AppContext) -> CalendarService:
    return _service(ctx, "calendar", lambda: CalendarService(ZoneInfo(ctx.settings.locale.timezone)))


def provider_index(ctx: AppContext) -> ProviderIndexService:
    return _service(ctx, "provider_index", ProviderIndexService)


def intake_services(ctx: AppContext, session: Session) -> IntakeServices:
    return IntakeServices(
        suggest=suggestions(ctx).suggest,
        locator=locator(ctx),
        calendar=calendars(ctx).calendar(session),
        tz=ZoneInfo(ctx.settings.locale.timezone),
    )
