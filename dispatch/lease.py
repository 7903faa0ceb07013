"""Named leases: what must run once (the tracking loop, the telephony simulator) runs in one
process at a time, and another takes over within seconds when that one dies.

A lease row says who holds it until when. Taking or renewing it is one upsert that cannot violate
a constraint (``INSERT … ON CONFLICT (name) DO UPDATE … WHERE`` held by me or expired): a process
that does not get it writes no error anywhere, PostgreSQL's server log included.

The holder is the instance's name (``[server] instance_name``, by default host:port), stable across
restarts, so a restarted process recognises its own row and goes on at once instead of waiting for
it to expire. Two processes running at once must therefore never share a name; uvicorn workers
(``sanshe serve --workers``) share host and port, so each adds its pid.

``LeaseKeeper`` renews in a thread of its own every ``ttl / 5``, so a slow job never lets the lease
lapse, and a non-holder notices an expired lease within that time too: after a kill -9 the other
process holds it at most ``ttl + ttl / 5`` later. Whoever holds it, everything run under it must
stay safe to run twice: a holder that stalls longer than the ttl may overlap its successor.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from dispatch.clock import Clock
from dispatch.db import transaction
from dispatch.settings import Settings
from models import Lease

log = logging.getLogger(__name__)
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


def instance_holder(settings: Settings) -> str:
    """This process's name in the lease table (see the module docstring)."""
    server = settings.server
    name = server.instance_name or f"{socket.gethostname()}:{server.port}"
    if server.workers > 1:
        name = f"{name}/{os.getpid()}"
    return name[:100]


def acquire_lease(session: Session, *, holder: str, now: datetime, ttl: timedelta, name: str) -> bool:
    """Take or renew the lease; True when ``holder`` holds it until ``now + ttl``.

    One statement, whoever holds the row: it inserts, takes over an expired lease, renews our own,
    or changes nothing (returning no row). Two racing processes serialise on the row."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Lease).values(name=name, holder=holder, expires_at=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Lease.name],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=(Lease.holder == holder) | (Lease.expires_at < now),
    ).returning(Lease.holder)
    return session.execute(stmt).first() is not None


def release_lease(session: Session, *, holder: str, name: str) -> None:
    """Give the lease up at once (if we hold it): the next process asking gets it."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=RELEASED)
        .execution_options(synchronize_session=False)
    )


class LeaseKeeper:
    """Holds one lease for this process: ``renew()`` once (a test, a tick), or ``start()`` to renew
    in a thread every ``ttl / 5``; ``on_gained`` and ``on_lost`` are called when that changes;
    ``stop()`` releases it at once."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        name: str,
        holder: str,
        ttl: timedelta,
        on_gained: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.sessions, self.clock = sessions, clock
        self.name, self.holder, self.ttl = name, holder, ttl
        self.on_gained, self.on_lost = on_gained, on_lost
        self._valid_until = float("-inf")  # time.monotonic() until which we surely hold it
        self._holding = False
        self._failing = False
        self._changing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def holds(self) -> bool:
        return time.monotonic() < self._valid_until

    def renew(self) -> bool:
        """One attempt to take or renew the lease; True while this process holds it."""
        asked = time.monotonic()
        try:
            with transaction(self.sessions) as session:
                got = acquire_lease(
                    session, holder=self.holder, now=self.clock.now(), ttl=self.ttl, name=self.name
                )
        except Exception as exc:  # database unreachable: we hold it only as long as it was granted
            if not self._failing:
                log.warning("lease %s: could not renew (%s); retrying", self.name, exc.__class__.__name__)
            self._failing = True
        else:
            if self._failing:
                log.info("lease %s: the database answers again", self.name)
            self._failing = False
            self._valid_until = asked + self.ttl.total_seconds() if got else float("-inf")
        self._notice()
        return self.holds()

    def _notice(self) -> None:
        with self._changing:
            now_holding = self.holds()
            if now_holding == self._holding:
                return
            self._holding = now_holding
            log.info("lease %s %s by %s", self.name, "taken" if now_holding else "lost", self.holder)
            callback = self.on_gained if now_holding else self.on_lost
            if callback is not None:
                try:
                    callback()
                except Exception:
                    log.exception(
                        "lease %s: the %s callback failed", self.name, "gained" if now_holding else "lost"
                    )

    def start(self) -> None:
        """Renew once now (so what runs under the lease starts with the server), then every ttl/5."""
        self._stop.clear()
        self.renew()
        self._thread = threading.Thread(target=self._run, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.ttl.total_seconds() / 5
        while not self._stop.wait(interval):
            self.renew()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        was_holding = self._holding
        self._valid_until = float("-inf")
        self._notice()
        if not was_holding:
            return
        try:
            with transaction(self.sessions) as session:
                release_lease(session, holder=self.holder, name=self.name)
        except Exception as exc:
            log.warning("lease %s: could not release it (%s); it expires by itself", self.name, exc)
