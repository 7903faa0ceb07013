"""The tracking loop: every job registered in one place, run by APScheduler under a lease.

Each tick first takes (or renews) the ``tracking`` lease row with one conditional UPDATE — held by
this process, or expired — so with several processes on one database exactly one runs the jobs;
if it dies, another takes over when the lease expires. Each job runs in its own transaction and a
failing job is logged, never allowed to stop the others or the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.calls import inbox
from dispatch.context import AppContext
from dispatch.db import transaction
from dispatch.outbox.sender import send_due
from dispatch.tracking.calendar_notice import notify_calendar_coverage
from dispatch.tracking.jobs import expire_offers, refresh_star_levels, sweep_orders
from models import Lease

log = logging.getLogger(__name__)
LEASE_NAME = "tracking"


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Session, AppContext, datetime], int]  # returns how many items it handled
    sends: bool = False  # delivers through the context's adapters, which must then be wired


def _expire_offers(session: Session, ctx: AppContext, now: datetime) -> int:
    return expire_offers(session, now=now, ctx=ctx.dispatch_context(session))


def _sweep_orders(session: Session, ctx: AppContext, now: datetime) -> int:
    return sweep_orders(
        session,
        now=now,
        cal=ctx.calendar(session),
        remind_before=timedelta(minutes=ctx.settings.tracking.remind_before_minutes),
        tz=ctx.tz,
    )


def _refresh_star_levels(session: Session, ctx: AppContext, now: datetime) -> int:
    t = ctx.settings.tracking
    return refresh_star_levels(
        session, now=now, floor=t.suspend_below_stars, min_ratings=t.suspend_min_ratings
    )


def _warn_calendar_coverage(session: Session, ctx: AppContext, now: datetime) -> int:
    return notify_calendar_coverage(session, coverage=ctx.caches.calendars.coverage(session, now), now=now)


def _prune_call_inbox(session: Session, ctx: AppContext, now: datetime) -> int:
    return inbox.prune(session, before=now - timedelta(days=ctx.settings.ingest.retention_days))


def send_outbox(session: Session, ctx: AppContext, now: datetime) -> int:
    """Send what is due through the adapters ``create_app`` wired (see ``outbox.sender``)."""
    return send_due(session, now=now, adapters=ctx.wired()).handled


# The registry: the tracking loop runs exactly these, in this order, every tick. The outbox goes
# last so what the other jobs wrote in this tick is sent in this tick.
JOBS: tuple[Job, ...] = (
    Job("expire_offers", _expire_offers),
    Job("sweep_orders", _sweep_orders),
    Job("refresh_star_levels", _refresh_star_levels),
    Job("calendar_coverage", _warn_calendar_coverage),
    Job("prune_call_inbox", _prune_call_inbox),
    Job("send_outbox", send_outbox, sends=True),
)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(
    session: Session, *, holder: str, now: datetime, ttl: timedelta, name: str = LEASE_NAME
) -> bool:
    """Take or renew the lease; True when ``holder`` holds it until ``now + ttl``."""
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount == 1:
        return True
    try:
        with session.begin_nested():
            session.execute(insert(Lease).values(name=name, holder=holder, expires_at=now + ttl))
        return True
    except IntegrityError:  # someone else holds it
        return False


def release_lease(session: Session, *, holder: str, name: str = LEASE_NAME) -> None:
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
        .execution_options(synchronize_session=False)
    )


class TrackingLoop:
    def __init__(self, ctx: AppContext, *, jobs: tuple[Job, ...] = JOBS, holder: str | None = None) -> None:
        if any(job.sends for job in jobs):
            ctx.wired()  # a loop that would send with no adapters fails now, not on its first tick
        self.ctx = ctx
        self.jobs = jobs
        self.holder = holder or holder_id()
        interval = ctx.settings.tracking.tick_seconds
        # Long enough to survive a slow tick, short enough that a dead holder is replaced soon.
        self.ttl = timedelta(seconds=max(3 * interval, 30))
        # Until when this process holds the lease, as of its last committed renewal.
        self.held_until: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None

    def tick(self) -> dict[str, int] | None:
        """Run every job once if this process holds the lease; None when another one does."""
        now = self.ctx.clock.now()
        with transaction(self.ctx.sessions) as session:
            if not acquire_lease(session, holder=self.holder, now=now, ttl=self.ttl):
                self.held_until = None
                return None
        self.held_until = now + self.ttl
        handled: dict[str, int] = {}
        for job in self.jobs:
            try:
                with transaction(self.ctx.sessions) as session:
                    handled[job.name] = job.run(session, self.ctx, now)
            except Exception:
                log.exception("tracking job %s failed; the next tick retries it", job.name)
                handled[job.name] = -1
        return handled

    @property
    def held(self) -> bool:
        """Whether this process holds the lease now: a renewal that failed to commit counts
        only until the lease it renewed runs out, when another process may take it."""
        until = self.held_until
        return until is not None and self.ctx.clock.now() < until

    def start(self) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._safe_tick,
            "interval",
            seconds=self.ctx.settings.tracking.tick_seconds,
            id="tracking-tick",
            max_instances=1,
            coalesce=True,
            next_run_time=self.ctx.clock.now(),
        )
        self._scheduler.start()

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # the database may be briefly unreachable; APScheduler must keep ticking
            log.exception("tracking tick failed")

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.held_until = None
        try:
            with transaction(self.ctx.sessions) as session:
                release_lease(session, holder=self.holder)
        except Exception:
            log.exception("could not release the tracking lease; it expires by itself")
