"""The tracking loop: every job registered in one place, run by APScheduler under a lease.

The ``tracking`` lease (``dispatch.lease``) is renewed in a thread of its own every few seconds,
so with several processes on one database exactly one runs the jobs, a slow job never lets the
lease lapse, and when the holder dies another takes over within ``[tracking] lease_seconds`` plus
a fifth of it, and runs a tick at once. Each job runs in its own transaction and a failing job is
logged, never allowed to stop the others or the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session

from dispatch.calls import inbox
from dispatch.context import AppContext
from dispatch.db import transaction
from dispatch.lease import LeaseKeeper, acquire_lease, instance_holder, release_lease
from dispatch.outbox.sender import send_due
from dispatch.selfservice import codes
from dispatch.tracking.calendar_notice import notify_calendar_coverage
from dispatch.tracking.jobs import expire_offers, make_care_visits, refresh_star_levels, sweep_orders

log = logging.getLogger(__name__)
LEASE_NAME = "tracking"
__all__ = ["JOBS", "LEASE_NAME", "Job", "TrackingLoop", "acquire_lease", "release_lease"]


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


def _make_care_visits(session: Session, ctx: AppContext, now: datetime) -> int:
    return make_care_visits(
        session,
        now=now,
        intake=ctx.intake_services(session),
        dispatch=ctx.dispatch_context(session),
        lead_days=ctx.settings.visits.lead_days,
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


def _prune_sign_in_codes(session: Session, ctx: AppContext, now: datetime) -> int:
    """Residents' sign-in codes are kept for the 24-hour resend limit, then deleted."""
    return codes.prune(session, before=now - codes.DAY - timedelta(hours=1))


def send_outbox(session: Session, ctx: AppContext, now: datetime) -> int:
    """Send what is due through the adapters ``create_app`` wired (see ``outbox.sender``)."""
    return send_due(session, now=now, adapters=ctx.wired()).handled


# The registry: the tracking loop runs exactly these, in this order, every tick. The outbox goes
# last so what the other jobs wrote in this tick is sent in this tick.
JOBS: tuple[Job, ...] = (
    Job("expire_offers", _expire_offers),
    Job("make_care_visits", _make_care_visits),
    Job("sweep_orders", _sweep_orders),
    Job("refresh_star_levels", _refresh_star_levels),
    Job("calendar_coverage", _warn_calendar_coverage),
    Job("prune_call_inbox", _prune_call_inbox),
    Job("prune_sign_in_codes", _prune_sign_in_codes),
    Job("send_outbox", send_outbox, sends=True),
)


class TrackingLoop:
    def __init__(self, ctx: AppContext, *, jobs: tuple[Job, ...] = JOBS, holder: str | None = None) -> None:
        if any(job.sends for job in jobs):
            ctx.wired()  # a loop that would send with no adapters fails now, not on its first tick
        self.ctx = ctx
        self.jobs = jobs
        self.holder = holder or instance_holder(ctx.settings)
        self.ttl = timedelta(seconds=ctx.settings.tracking.lease_seconds)
        self.lease = LeaseKeeper(
            ctx.sessions,
            ctx.clock,
            name=LEASE_NAME,
            holder=self.holder,
            ttl=self.ttl,
            on_gained=self._tick_now,
        )
        self._scheduler: BackgroundScheduler | None = None

    def tick(self) -> dict[str, int] | None:
        """Take or renew the lease, then run every job once; None when another process holds it."""
        if not self.lease.renew():
            return None
        return self.run_jobs()

    def run_jobs(self) -> dict[str, int] | None:
        now = self.ctx.clock.now()
        handled: dict[str, int] = {}
        for job in self.jobs:
            if not self.lease.holds():  # lost it mid-tick (the database went away): the new holder goes on
                log.warning("tracking lease lost during the tick; %s and later jobs wait", job.name)
                break
            try:
                with transaction(self.ctx.sessions) as session:
                    handled[job.name] = job.run(session, self.ctx, now)
            except Exception:
                log.exception("tracking job %s failed; the next tick retries it", job.name)
                handled[job.name] = -1
        return handled

    @property
    def held(self) -> bool:
        """Whether this process holds the lease now (a renewal that failed counts only until the
        lease it renewed runs out)."""
        return self.lease.holds()

    def start(self) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._scheduled_tick,
            "interval",
            seconds=self.ctx.settings.tracking.tick_seconds,
            id="tracking-tick",
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.start()
        self.lease.start()  # takes the lease now if free (or ours): the first tick runs at once

    def _tick_now(self) -> None:
        """The lease was just taken: run a tick now rather than at the next interval."""
        if self._scheduler is not None:
            self._scheduler.modify_job("tracking-tick", next_run_time=datetime.now(UTC))

    def _scheduled_tick(self) -> None:
        if not self.lease.holds():  # the lease keeper's thread renews it; not ours: nothing to do
            return
        try:
            self.run_jobs()
        except Exception:  # the database may be briefly unreachable; APScheduler must keep ticking
            log.exception("tracking tick failed")

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.lease.stop()  # released at once: another process takes over at its next renewal
