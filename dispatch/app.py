"""create_app(): routers, the one error handler, and the lifespan that wires the adapters in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from dispatch import __version__, residentapp
from dispatch.audit.api import router as audit_router
from dispatch.auth.api import router as auth_router
from dispatch.auth.security import dummy_hash
from dispatch.auth.users_api import router as users_router
from dispatch.calls.api import calls_router, inbox_router, ingest_router
from dispatch.calls.callbacks_api import router as callbacks_router
from dispatch.calls.events import CallEvent
from dispatch.calls.ingest import CallIngest
from dispatch.catalogue.api import router as catalogue_router
from dispatch.clock import Clock
from dispatch.console import mount_console, mount_shell
from dispatch.context import AppContext, Live
from dispatch.db import DatabaseBusy, read_only
from dispatch.errors import AppError, default_message
from dispatch.geo.api import router as areas_router
from dispatch.guards import (
    BodyLimit,
    KeepAlive500,
    RouteLimit,
    SecurityHeaders,
    TextGuard,
    error_response,
)
from dispatch.health import RETRY_AFTER_SECONDS, CacheWarmer, OutageLog, is_database_trouble, readiness
from dispatch.lease import LeaseKeeper, instance_holder
from dispatch.live import publish as live_changes
from dispatch.live.api import router as events_router
from dispatch.live.bus import EventBus
from dispatch.live.hub import EventHub
from dispatch.live.notifier import HubNotifier
from dispatch.live.postgres import PostgresBus
from dispatch.open311.admin_api import router as open311_admin_router
from dispatch.open311.api import router as open311_router
from dispatch.open311.edge import Open311Edge
from dispatch.openapi import ErrorOut, install_error_docs
from dispatch.ops.api import router as metrics_router
from dispatch.ops.metrics import ProcessState
from dispatch.ops.requests import ObserveRequests
from dispatch.orders.actions_api import router as actions_router
from dispatch.orders.api import router as orders_router
from dispatch.orders.jobs_api import router as jobs_router
from dispatch.orders.photos_api import photo_route_limit
from dispatch.orders.photos_api import router as photos_router
from dispatch.outbox.adapters import LogCalls, LogConnector, LogSms
from dispatch.outbox.api import router as outbox_router
from dispatch.ports import Adapters, CallConnector, CallPlacer, SmsSender
from dispatch.providers.api import router as providers_router
from dispatch.redact import install_log_redaction
from dispatch.reports.api import router as stats_router
from dispatch.reports.dashboard_api import router as dashboard_router
from dispatch.reports.exports_api import router as exports_router
from dispatch.reports.league_api import router as league_router
from dispatch.residents.api import router as residents_router
from dispatch.residents.reveal_api import router as reveal_router
from dispatch.selfservice.api import public as residents_public_router
from dispatch.selfservice.api import router as residents_app_router
from dispatch.selfservice.requests_api import router as resident_requests_router
from dispatch.settings import ConfigError, Settings, check_production, get_settings
from dispatch.timelimits.api import MAX_CSV_BYTES
from dispatch.timelimits.api import router as calendar_router
from dispatch.tracking.scheduler import TrackingLoop
from dispatch.validation import validation_message
from dispatch.visits.api import router as visits_router
from telephony.ami_mapping import AmiCallTracker
from telephony.asterisk import AmiAdapter, AmiCalls, AmiConnector
from telephony.simulator import CallSimulator, from_database
from telephony.twilio_calls import TwilioCalls, TwilioConnector
from telephony.twilio_sms import TwilioSms
from telephony.twilio_webhooks import router as twilio_router

log = logging.getLogger(__name__)
# How often a server copies its own state (lease, streams, AMI) into its gauges, so a scrape
# answered by another worker (multiprocess mode) is at most this old about this one.
SAMPLE_SECONDS = 5.0

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


_NOT_READY = {"database": "数据库无法连接", "migrations": "数据库未升级到最新版本", "caches": "缓存正在建立"}


# Starlette's own errors (no route, wrong method, …) in the words of the person at the screen.
_HTTP_MESSAGES = {404: "请求的地址不存在"}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        field = ".".join(loc) or "request"
        parts.append(f"{field}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def allowed_methods(app: FastAPI, scope: dict[str, Any]) -> set[str]:
    """Every method some route takes at this path: Starlette's own 405 names only the first
    route's (``GET /users/{id}`` and ``PATCH /users/{id}`` are two routes)."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        if route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    return methods


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        return error_response(
            exc.status_code, exc.code, exc.detail, exc.message, {**headers, **(exc.headers or {})}
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422, "validation_error", _describe_validation(exc), validation_message(exc.errors())
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = (
            getattr(exc, "message", None)
            or _HTTP_MESSAGES.get(exc.status_code)
            or default_message(code, exc.status_code)
        )
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(sorted(allowed_methods(request.app, request.scope)))
        return error_response(exc.status_code, code, str(exc.detail), message, headers or None)

    outages = OutageLog()

    async def database_trouble(_: Request, exc: Exception) -> JSONResponse:
        if not is_database_trouble(exc):  # an integrity error, a programming error: a real 500
            raise exc  # answered by KeepAlive500, which logs it once
        outages.record(exc)
        return error_response(
            503,
            "database_unavailable",
            "the database is unreachable or busy right now; try again shortly",
            "数据库暂时不可用，请稍后再试",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for trouble in (DBAPIError, PoolTimeout, DatabaseBusy):
        app.add_exception_handler(trouble, database_trouble)

    # The last net under the input types (dispatch.inputs) and TextGuard: a value the database
    # driver refuses is the client's mistake, not the server's. The request's transaction has
    # been rolled back by then (deps.get_db), so the connection goes back to the pool clean.
    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: the database refused a value: %s", request.method, request.url.path, exc)
        return error_response(
            400,
            "invalid_value",
            "a value is out of range or not valid text for the database",
            "提交的某个值超出范围或含有无效字符，请检查后重试",
        )


# Routes whose bodies may be smaller or larger than [server] max_body_mb (and, set from
# [uploads] max_photo_mb, the photo upload: route_body_limits).
ROUTE_BODY_LIMITS = (RouteLimit("POST", "/api/v1/calendar/years/{year:int}.csv", MAX_CSV_BYTES),)
PHOTO_UPLOAD_PATHS = ("/api/v1/orders/{order_id:int}/photos", "/api/v1/r/requests/{order_id:int}/photos")


def route_body_limits(settings: Settings) -> tuple[RouteLimit, ...]:
    limit = photo_route_limit(settings.uploads.max_photo_mb)
    return (*ROUTE_BODY_LIMITS, *(RouteLimit("POST", path, limit) for path in PHOTO_UPLOAD_PATHS))


def install_guards(app: FastAPI, settings: Settings) -> None:
    """The edge of every request (``dispatch.guards``); added innermost first."""
    app.add_middleware(TextGuard)
    app.add_middleware(
        BodyLimit,
        max_bytes=int(settings.server.max_body_mb * 1024 * 1024),
        routes=route_body_limits(settings),
    )
    app.add_middleware(KeepAlive500, message=default_message("internal_error", 500))
    # Outside the guards, so their answers (413, 400, 500) under /open311/v2/ are the spec's too.
    app.add_middleware(Open311Edge)
    app.add_middleware(SecurityHeaders)


def calendar_check(ctx: AppContext) -> dict[str, Any]:
    """``/health?detail=true``: the calendar's coverage; ``warn`` from 60 days before its end."""
    try:
        with read_only(ctx.sessions) as session:
            cov = ctx.caches.calendars.coverage(session, ctx.clock.now())
    except Exception as exc:  # a health check reports a failure, it does not fail
        log.warning("health: could not read the calendar coverage: %s", exc)
        return {"status": "error", "detail": "could not read the working-day calendar"}
    return {
        "status": "ok" if cov.warning is None else "warn",
        "official_until": cov.official_until.isoformat(),
        "days_left": cov.days_left,
        "warning": cov.warning,
    }


TELEPHONY_LEASE = "telephony"


@dataclass
class Telephony:
    """The telephony adapters this server started (the simulator, Asterisk) and how to stop them.

    With several processes on one database, calls are made up (the simulator) and recorded from
    Asterisk by one process at a time: the holder of the ``telephony`` lease (``dispatch.lease``),
    another taking over when it dies. Every process keeps its own AMI connection, because rating
    calls and click-to-call are placed by whichever process serves the request, but only the
    holder passes the AMI events on (``holder_only``): each process's tracker still follows every
    call, so a process taking over records the calls already under way correctly."""

    simulator: CallSimulator | None = None
    ami: AmiAdapter | None = None
    lease: LeaseKeeper | None = None
    stops: list[Callable[[], None]] = field(default_factory=list)

    def holder_only(self, sink: Callable[[CallEvent], None]) -> Callable[[CallEvent], None]:
        def passed_on(event: CallEvent) -> None:
            if self.lease is None or self.lease.holds():
                sink(event)

        return passed_on

    def stop(self) -> None:
        for stop in self.stops:
            stop()


def build_adapters(
    settings: Settings, live: Live, sessions: sessionmaker[Session], ami: AmiAdapter | None
) -> Adapters:
    """The one place adapters are chosen. SMS: Twilio when configured, else the log (development).
    Rating calls: Asterisk Originate when a callback channel is set, else Twilio, else the log.
    Click-to-call: Asterisk when connected to one, else Twilio's desk number, else the log.
    Notifications: the live event stream. A configured adapter that cannot be built stops the start
    with the reason, rather than silently falling back to the log."""
    twilio = settings.twilio
    # Without a provider, the log is where messages go; outside production it shows their text.
    sms: SmsSender = LogSms(show_body=settings.environment != "production")
    calls: CallPlacer = LogCalls()
    connector: CallConnector = LogConnector()
    twilio_calls: TwilioCalls | None = None
    if twilio.enabled:
        sms = TwilioSms(
            twilio.account_sid, twilio.auth_token, twilio.from_number, timeout=twilio.request_timeout_seconds
        )
    if twilio.enabled:
        try:
            twilio_calls = TwilioCalls(
                twilio.account_sid,
                twilio.auth_token,
                twilio.from_number,
                public_base_url=twilio.public_base_url,
                timeout=twilio.request_timeout_seconds,
                ring_seconds=twilio.ring_seconds,
            )
        except ValueError as exc:
            raise ConfigError(f"[twilio] calls: {exc}") from None
    if ami is not None and settings.asterisk.callback_channel:
        calls = AmiCalls(ami, settings.asterisk)
    elif twilio_calls is not None:
        calls = twilio_calls
    if ami is not None:
        connector = AmiConnector(ami, settings.asterisk, region=settings.locale.default_region)
    elif twilio_calls is not None and twilio.operator_number:
        connector = TwilioConnector(twilio_calls, twilio.operator_number)
    return Adapters(
        sms=sms,
        calls=calls,
        notifier=HubNotifier(live.hub, sessions),
        connector=connector,
        sms_lookup=sms if isinstance(sms, TwilioSms) else None,
        call_lookup=calls if isinstance(calls, TwilioCalls) else None,
    )


def start_bus(settings: Settings, loop: asyncio.AbstractEventLoop) -> EventBus:
    """The live event stream's bus, as ``[live] bus`` chooses: in memory (one process, SQLite) or
    PostgreSQL LISTEN/NOTIFY (one stream for every process on the database)."""
    bus: EventBus
    if settings.live_bus() == "postgres":
        bus = PostgresBus(settings.database_url, retention_minutes=settings.live.retention_minutes)
    else:
        bus = EventHub()
    bus.bind(loop)
    bus.start()
    return bus


def start_telephony(ctx: AppContext, loop: asyncio.AbstractEventLoop) -> tuple[Live, Telephony]:
    """The live event bus, the call ingest worker and the telephony adapters: the simulator
    (development and demo), Asterisk when configured (Twilio arrives by webhook)."""
    hub = start_bus(ctx.settings, loop)
    live_changes.install(ctx.sessions, hub)
    ingest = CallIngest(
        ctx.sessions,
        hub,
        region=ctx.settings.locale.default_region,
        callbacks=ctx.callback_rules(),
        max_attempts=ctx.settings.ingest.max_attempts,
        poll_seconds=ctx.settings.ingest.poll_seconds,
    )
    ingest.start()
    running = Telephony()
    server = ctx.settings.server

    def start_simulator() -> None:
        with ctx.sessions() as session:
            running.simulator = from_database(
                session,
                ingest,
                calls_per_minute=60.0 / server.simulator_interval_seconds,
                timezone=ctx.settings.locale.timezone,
            )
        running.simulator.start()

    def stop_simulator() -> None:
        if running.simulator is not None:
            running.simulator.stop()

    ami = ctx.settings.asterisk
    if server.simulator or ami.enabled:
        running.lease = LeaseKeeper(
            ctx.sessions,
            ctx.clock,
            name=TELEPHONY_LEASE,
            holder=instance_holder(ctx.settings),
            ttl=timedelta(seconds=ctx.settings.tracking.lease_seconds),
            on_gained=start_simulator if server.simulator else None,
            on_lost=stop_simulator if server.simulator else None,
        )
        # Before the AMI connection: events that arrive before this process knows it holds the
        # lease would be dropped. The simulator starts now if this process gets it.
        running.lease.start()
    if ami.enabled:
        running.ami = AmiAdapter(
            ami.host,
            ami.port,
            ami.username,
            ami.secret,
            running.holder_only(ingest),
            ping_interval=ami.ping_interval_seconds,
            ping_timeout=ami.ping_interval_seconds / 2,
            tracker=AmiCallTracker(contexts=set(ami.contexts) or None),
        )
        running.ami.start()
        running.stops.append(running.ami.stop)  # its queued events still reach the ingest: we hold the lease
    if running.lease is not None:
        running.stops.append(running.lease.stop)  # stops the simulator, then hands the lease over
    running.stops.append(ingest.stop)
    running.stops.append(hub.stop)  # last: the ingest publishes until it has stopped
    return Live(hub=hub, ingest=ingest), running


class SansheApp(FastAPI):
    """FastAPI with :class:`ObserveRequests` outside Starlette's error middleware, so the 500 of an
    unhandled error is counted and carries its request id like every other answer."""

    access_log = False  # the JSON log format writes its own access lines

    def build_middleware_stack(self) -> Any:
        return ObserveRequests(super().build_middleware_stack(), access_log=self.access_log)


def watch_process_state(
    settings: Settings, live: Live, telephony: Telephony, loop: TrackingLoop | None
) -> ProcessState:
    ami: tuple[str, Callable[[], bool]] | None = None
    if telephony.ami is not None:
        adapter = telephony.ami
        ami = (f"{settings.asterisk.host}:{settings.asterisk.port}", lambda: adapter.connected)
    return ProcessState(
        lease_held=(lambda: loop.held) if loop is not None else None,
        stream_clients=lambda: live.hub.subscribers,
        ami=ami,
    )


async def keep_sampling(state: ProcessState) -> None:
    while True:
        try:
            state.sample()
        except Exception:  # a gauge must never take the server down
            log.exception("could not sample the process metrics")
        await asyncio.sleep(SAMPLE_SECONDS)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_production(settings)  # also when handed settings that did not come from load_settings
    install_log_redaction()  # whatever server runs the app, no secret reaches a log line

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = AppContext.build(settings, clock)
        ctx.password_checks = anyio.CapacityLimiter(settings.auth.password_check_limit())
        dummy_hash()  # before the first sign-in of an unknown user, which would pay for it
        live, telephony = start_telephony(ctx, asyncio.get_running_loop())
        try:
            ctx.running = live
            ctx.adapters = build_adapters(settings, live, ctx.sessions, telephony.ami)
        except BaseException:
            telephony.stop()
            ctx.close()
            raise
        app.state.ctx = ctx
        app.state.telephony = telephony
        app.state.warmer = warmer = CacheWarmer(ctx)
        warmer.start()  # /health/ready answers 200 once built: the first order pays nothing for them
        loop = TrackingLoop(ctx) if settings.server.tracking_loop else None
        if loop is not None:
            loop.start()
        app.state.process_state = state = watch_process_state(settings, live, telephony, loop)
        sampling = asyncio.create_task(keep_sampling(state))
        try:
            yield
        finally:
            sampling.cancel()
            warmer.stop()
            if loop is not None:
                loop.stop()
            state.stop()
            telephony.stop()
            try:
                ctx.lockouts.flush(ctx.sessions)  # the throttled attempts still kept in memory
            except Exception:
                log.exception("could not record the throttled sign-ins kept in memory")
            ctx.close()

    docs = settings.docs_enabled
    app = SansheApp(
        title="sanshe",
        version=__version__,
        description="Community-service call centre: intake, dispatch, tracking, callbacks and KPIs.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.access_log = settings.server.log_format == "json"
    install_error_handlers(app)
    install_error_docs(app)
    install_guards(app, settings)

    @app.get("/health", tags=["system"])
    def health(
        request: Request,
        detail: Annotated[
            bool, Query(description="add checks: how far the working-day calendar is official")
        ] = False,
    ) -> dict[str, Any]:
        """Liveness: ``{"status": "ok"}``. With ``detail=true`` also ``checks`` (dates only, no
        personal data), which never change ``status``: a stale calendar is a warning, not an outage."""
        if not detail:
            return {"status": "ok"}
        return {"status": "ok", "checks": {"calendar": calendar_check(request.app.state.ctx)}}

    @app.get("/health/ready", tags=["system"], responses={503: {"model": ErrorOut}})
    def ready(request: Request) -> JSONResponse:
        """Readiness: 200 when the database answers, its schema is at the latest migration and the
        caches an order needs are built; else 503 naming what is missing. A load balancer sends
        work only to a ready process; ``/health`` stays liveness."""
        checks = readiness(request.app.state.ctx, request.app.state.warmer)
        missing = [name for name, state in checks.items() if state != "ok"]
        if not missing:
            return JSONResponse({"status": "ready", "checks": checks})
        body = {
            "error": "not_ready",
            "detail": "not ready: " + "; ".join(f"{name} {checks[name]}" for name in missing),
            "message": "服务尚未就绪：" + "、".join(_NOT_READY[name] for name in missing),
            "checks": checks,
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(catalogue_router)
    app.include_router(providers_router)
    app.include_router(residents_router)
    app.include_router(reveal_router)
    app.include_router(orders_router)
    app.include_router(actions_router)
    app.include_router(photos_router)
    app.include_router(jobs_router)
    app.include_router(calendar_router)
    app.include_router(areas_router)
    app.include_router(stats_router)
    app.include_router(dashboard_router)
    app.include_router(league_router)
    app.include_router(exports_router)
    app.include_router(twilio_router)
    app.include_router(calls_router)
    app.include_router(callbacks_router)
    app.include_router(visits_router)
    app.include_router(ingest_router)
    app.include_router(inbox_router)
    app.include_router(outbox_router)
    app.include_router(events_router)
    app.include_router(audit_router)
    app.include_router(residents_public_router)
    app.include_router(residents_app_router)
    app.include_router(resident_requests_router)
    app.include_router(metrics_router)
    app.include_router(open311_admin_router)
    app.include_router(open311_router)
    mount_console(app)
    mount_shell(app, residentapp.PATH, residentapp.STATIC_DIR, name="residents")
    return app
