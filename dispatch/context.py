"""What one running application holds: settings, database, clock, caches and the wired adapters.

Built by the composition roots (``create_app``, the CLI) and handed to the HTTP layer, the
tracking loop and the telephony adapters. Domain services never see it: they take the sessions,
clocks and contexts they need as arguments (``DispatchContext``, ``IntakeServices``), which the
methods here put together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from anyio import CapacityLimiter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.auth.lockouts import Lockouts
from dispatch.calls.callbacks import CallbackRules
from dispatch.calls.ingest import CallIngest
from dispatch.catalogue.index import SuggestionService
from dispatch.clock import Clock
from dispatch.db import ReadOnlySession, make_engine, make_read_sessionmaker, make_sessionmaker
from dispatch.geo.geocoding import AddressLocator, build_online_geocoders
from dispatch.lease import instance_holder
from dispatch.live.bus import EventBus
from dispatch.matching.service import ProviderIndexService
from dispatch.orders.intake import IntakeRequest, IntakeServices, Prepared, prepare
from dispatch.orders.offers import DispatchContext
from dispatch.ports import Adapters
from dispatch.settings import Settings
from dispatch.timelimits.calendar import CalendarService, WorkCalendar


@dataclass(frozen=True)
class Caches:
    """Long-lived values built from database rows and rebuilt when those rows change, so several
    processes sharing one database all see an admin's edit without a restart (``dispatch.cache``)."""

    suggestions: SuggestionService
    locator: AddressLocator
    calendars: CalendarService
    providers: ProviderIndexService

    @classmethod
    def build(cls, settings: Settings) -> Caches:
        every = settings.server.cache_check_seconds
        return cls(
            suggestions=SuggestionService(every),
            locator=AddressLocator(build_online_geocoders(settings.geocoding), check_every=every),
            calendars=CalendarService(ZoneInfo(settings.locale.timezone), every),
            providers=ProviderIndexService(every),
        )


@dataclass(frozen=True)
class Live:
    """The server's live side: the event stream's bus (in memory, or PostgreSQL across processes)
    and the call ingest feeding it."""

    hub: EventBus
    ingest: CallIngest


class AdaptersMissing(RuntimeError):
    """Something that sends (the outbox job) ran in a context whose adapters were never wired."""


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Sessions for requests that only read (GET): no writer lock on SQLite (see dispatch.db).
    read_sessions: sessionmaker[ReadOnlySession]
    clock: Clock
    caches: Caches
    # The outbox's delivery ports: chosen by create_app at start-up (or given by a test, a
    # benchmark); None in CLI commands that send nothing.
    adapters: Adapters | None = None
    # The event stream and call ingest: started by create_app; None outside a server.
    running: Live | None = None
    # The password checks running at once ([auth] max_concurrent_password_checks): made by
    # create_app on the server's event loop; None outside a server.
    password_checks: CapacityLimiter | None = None
    # Sign-in locks already decided, answered from memory (dispatch.auth.lockouts).
    lockouts: Lockouts = field(default_factory=Lockouts)

    @classmethod
    def build(
        cls, settings: Settings, clock: Clock | None = None, *, adapters: Adapters | None = None
    ) -> AppContext:
        engine = make_engine(settings.database_url, application_name=f"sanshe {instance_holder(settings)}")
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            read_sessions=make_read_sessionmaker(engine),
            clock=clock or Clock(),
            caches=Caches.build(settings),
            adapters=adapters,
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.locale.timezone)

    def wired(self) -> Adapters:
        if self.adapters is None:
            raise AdaptersMissing("no delivery adapters wired: build the context with adapters=…")
        return self.adapters

    def password_limiter(self) -> CapacityLimiter:
        if self.password_checks is None:
            raise RuntimeError("passwords are checked only in a server (create_app)")
        return self.password_checks

    def live(self) -> Live:
        if self.running is None:
            raise RuntimeError("the live event stream runs only in a server (create_app)")
        return self.running

    def callback_rules(self) -> CallbackRules:
        c = self.settings.callcentre
        return CallbackRules(
            tz=self.tz,
            due_after=timedelta(minutes=c.callback_due_minutes),
            hours=c.hours,
            unreachable_after=c.unreachable_after_attempts,
        )

    def calendar(self, session: Session) -> WorkCalendar:
        return self.caches.calendars.calendar(session)

    def dispatch_context(self, session: Session) -> DispatchContext:
        d = self.settings.dispatch
        return DispatchContext(
            index=self.caches.providers.index(session),
            calendar=self.calendar(session),
            tz=self.tz,
            max_returns=d.max_returns,
            auto_dispatch=d.auto_dispatch,
        )

    def intake_services(self, session: Session) -> IntakeServices:
        return IntakeServices(
            suggest=self.caches.suggestions.suggest,
            locator=self.caches.locator,
            calendar=self.calendar(session),
            tz=self.tz,
        )

    def prepare_intake(self, req: IntakeRequest) -> Prepared:
        """Classify and geocode a request reading only (``IntakeError`` for what cannot be an
        order): the write transaction, SQLite's one writer, then holds its lock for the writes."""
        with self.read_sessions() as reader:
            return prepare(reader, req, self.intake_services(reader))

    def close(self) -> None:
        self.engine.dispose()
