"""Readiness and database trouble.

``/health`` is liveness: the process answers. ``/health/ready`` says whether it can take work: the
database answers, its schema is at the latest migration, and the caches an order needs (catalogue
suggester, gazetteer, calendar, provider index) are built. ``CacheWarmer`` builds them in the
background at start-up, so the first order does not pay seconds for them, and retries while the
database is away.

A request that finds the database unreachable (a PostgreSQL restart, an SQLite file locked past its
busy timeout, no free connection) is answered 503 with Retry-After, not 500: ``is_database_trouble``
tells those errors apart and ``OutageLog`` writes one line per outage, not a traceback per request.
The pool's pre-ping (PostgreSQL) and SQLAlchemy's invalidation of a pool whose connections
dropped make the next request reconnect: nothing needs a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dispatch import migrate
from dispatch.context import AppContext
from dispatch.db import DatabaseBusy, read_only

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def is_database_trouble(exc: BaseException) -> bool:
    """An error that says the database is unreachable or too busy right now, not that a request
    or the code is wrong: worth a 503 and a retry."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DatabaseBusy):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class OutageLog:
    """One log line when the database becomes unreachable, then at most one every ``every``
    seconds with how many requests were answered 503 meanwhile."""

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._unlogged = 0

    def record(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self._unlogged += 1
            if now - self._last < self.every:
                return
            count, self._unlogged, self._last = self._unlogged, 0, now
        first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        log.warning(
            "database unavailable, answering 503 (%d request(s) since the last line): %s: %s",
            count,
            type(exc).__name__,
            first_line[:200],
        )


@cache
def _head_revisions(url: str) -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(migrate.alembic_config(url)).get_heads())


@dataclass
class CacheWarmer:
    """Builds the caches an order needs in a background thread, retrying until the database answers."""

    ctx: AppContext
    retry_seconds: float = 2.0
    warm: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, name="cache-warmer", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.warm_now()
                return
            except Exception as exc:
                log.warning("could not build the caches yet (%s); retrying", type(exc).__name__)
                self._stop.wait(self.retry_seconds)

    def warm_now(self) -> None:
        caches = self.ctx.caches
        with read_only(self.ctx.read_sessions) as session:
            caches.suggestions.suggester(session)
            caches.locator.gazetteer(session)
            caches.calendars.calendar(session)
            caches.providers.index(session)
        self.warm.set()


def readiness(ctx: AppContext, warmer: CacheWarmer | None) -> dict[str, str]:
    """Each check's state: ``ok`` or what is wrong (``database``, ``migrations``, ``caches``)."""
    checks = {"database": "ok", "migrations": "ok", "caches": "ok"}
    try:
        with read_only(ctx.read_sessions) as session:
            session.execute(text("SELECT 1"))
            current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    else:
        if current != _head_revisions(ctx.settings.database_url):
            checks["migrations"] = "not at the latest revision: run `sanshe migrate`"
    if warmer is None or not warmer.warm.is_set():
        checks["caches"] = "still being built"
    return checks
