"""create_app(): routers, the one error handler, and the lifespan that wires the adapters in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch import __version__
from dispatch.auth.api import router as auth_router
from dispatch.auth.users_api import router as users_router
from dispatch.calls.api import calls_router, events_router, ingest_router
from dispatch.catalogue.api import router as catalogue_router
from dispatch.clock import Clock
from dispatch.console import mount_console
from dispatch.context import AppContext
from dispatch.errors import AppError
from dispatch.geo.api import router as areas_router
from dispatch.orders.actions_api import router as actions_router
from dispatch.orders.api import router as orders_router
from dispatch.providers.api import router as providers_router
from dispatch.reports.api import router as stats_router
from dispatch.residents.api import router as residents_router
from dispatch.settings import Settings, get_settings
from dispatch.timelimits.api import router as calendar_router
from telephony.twilio_webhooks import router as twilio_router

log = logging.getLogger(__name__)

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


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        field = ".".join(loc) or "request"
        parts.append(f"{field}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return _error(exc.status_code, exc.code, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "validation_error", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")


def wire_adapters(ctx: AppContext) -> None:
    """The one place concrete adapters are chosen: Twilio when configured, logging otherwise;
    console notifications go to the live event stream when the server has one."""
    from dispatch.live.hub import EventHub, HubNotifier
    from dispatch.outbox.adapters import LogCalls, LogNotifier, LogSms

    twilio = ctx.settings.twilio
    if twilio.enabled:
        from telephony.twilio_sms import TwilioSms

        ctx.services["sms"] = TwilioSms(
            twilio.account_sid, twilio.auth_token, twilio.from_number, timeout=twilio.request_timeout_seconds
        )
        from telephony.twilio_calls import TwilioCalls

        try:  # rating calls through Twilio, unless an Asterisk callback channel is wired already
            ctx.services.setdefault(
                "calls",
                TwilioCalls(
                    twilio.account_sid,
                    twilio.auth_token,
                    twilio.from_number,
                    public_base_url=twilio.public_base_url,
                    timeout=twilio.request_timeout_seconds,
                    ring_seconds=twilio.ring_seconds,
                ),
            )
        except ValueError as exc:  # e.g. no public_base_url: rating calls are logged, not placed
            log.warning("Twilio rating calls are off: %s", exc)
    else:
        ctx.services["sms"] = LogSms()
    hub = ctx.services.get("hub")
    ctx.services.setdefault("calls", LogCalls())
    ctx.services.setdefault("notifier", HubNotifier(hub) if isinstance(hub, EventHub) else LogNotifier())


def start_telephony(ctx: AppContext, loop: asyncio.AbstractEventLoop) -> list[Callable[[], None]]:
    """The live event hub, the call ingest worker and the telephony adapters: the simulator
    (development and demo), Asterisk when configured (Twilio arrives by webhook).

    Returns the functions that stop them, in the order to call them.
    """
    from dispatch.calls.ingest import CallIngest
    from dispatch.live.hub import EventHub

    hub: EventHub = ctx.services.setdefault("hub", EventHub())
    hub.bind(loop)
    ingest = CallIngest(ctx.sessions, hub, region=ctx.settings.locale.default_region)
    ingest.start()
    ctx.services["call_ingest"] = ingest
    stops: list[Callable[[], None]] = []
    if ctx.settings.server.simulator:
        from telephony.simulator import from_database

        with ctx.sessions() as session:
            simulator = from_database(
                session,
                ingest,
                calls_per_minute=60.0 / ctx.settings.server.simulator_interval_seconds,
                timezone=ctx.settings.locale.timezone,
            )
        simulator.start()
        ctx.services["simulator"] = simulator
        stops.append(simulator.stop)
    ami = ctx.settings.asterisk
    if ami.enabled:
        from telephony.ami_mapping import AmiCallTracker
        from telephony.asterisk import AmiAdapter, AmiCalls

        adapter = AmiAdapter(
            ami.host,
            ami.port,
            ami.username,
            ami.secret,
            ingest,
            ping_interval=ami.ping_interval_seconds,
            ping_timeout=ami.ping_interval_seconds / 2,
            tracker=AmiCallTracker(contexts=set(ami.contexts) or None),
        )
        adapter.start()
        ctx.services["ami"] = adapter
        if ami.callback_channel:
            ctx.services["calls"] = AmiCalls(adapter, ami)
        stops.append(adapter.stop)
    stops.append(ingest.stop)
    return stops


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = AppContext.build(settings, clock)
        stop_telephony = start_telephony(ctx, asyncio.get_running_loop())
        wire_adapters(ctx)
        app.state.ctx = ctx
        loop = None
        if settings.server.tracking_loop:
            from dispatch.tracking.scheduler import TrackingLoop

            loop = TrackingLoop(ctx)
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()
            for stop in stop_telephony:
                stop()
            ctx.close()

    app = FastAPI(
        title="sanshe",
        version=__version__,
        description="Community-service call centre: intake, dispatch, tracking, callbacks and KPIs.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.get("/health", tags=["system"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(catalogue_router)
    app.include_router(providers_router)
    app.include_router(residents_router)
    app.include_router(orders_router)
    app.include_router(actions_router)
    app.include_router(calendar_router)
    app.include_router(areas_router)
    app.include_router(stats_router)
    app.include_router(twilio_router)
    app.include_router(calls_router)
    app.include_router(ingest_router)
    app.include_router(events_router)
    mount_console(app)
    return app
