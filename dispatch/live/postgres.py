"""The live event stream across processes on PostgreSQL: a table and LISTEN/NOTIFY.

Publishing INSERTs the message into ``live_event`` and NOTIFYs ``sanshe_live`` with its id in one
short transaction; the body stays in the table, so NOTIFY's 8000-byte limit never matters. The
transaction first takes an advisory lock, so ids are committed in the order they are given out:
a reader that has seen id N can never later find a smaller id committed (without the lock, two
publishers could commit 11 before 10, and a listener at 11 would skip 10 for good).

Every process runs one listener thread on an autocommit connection (``LISTEN sanshe_live``): on a
notification, and once a second anyway, it reads the rows after the last one it delivered, in id
order, and hands them to the loop. The publishing process gets its own messages the same way, so
there is one path. When the connection is lost (a PostgreSQL restart) the listener reconnects
and catches up from the table, so nothing published in the gap is lost. Ids are global, so a
console that reconnects to another instance with ``Last-Event-ID`` gets what it missed from the
table, for as long as the rows are kept (``[live] retention_minutes``; every listener deletes
older rows from time to time, which is harmless when several do it at once).

Publishing never fails its caller (a failure is logged and ``publish`` returns None) and never
runs a database round trip on the event loop: called there, the insert goes to a worker thread.
A publish retried on a fresh connection after its connection broke may, if the break came during
COMMIT, be delivered twice; screens take a repeated update as it is.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from sqlalchemy.engine import make_url

from dispatch.live.bus import Message, Subscribers, Subscription

log = logging.getLogger(__name__)

CHANNEL = "sanshe_live"
PUBLISH_LOCK = 0x73616E7368656C  # pg_advisory_xact_lock key: "sanshel"
BATCH = 1000


def listener_name() -> str:
    """The listener's application_name, with the process id: pg_stat_activity tells which
    process's listener a backend is."""
    return f"sanshe-live-listen:{os.getpid()}"


T = TypeVar("T")

_COLUMNS = "SELECT id, event, targets, data FROM live_event"


def conninfo(database_url: str) -> str:
    """libpq's URI for a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _message(row: tuple[Any, ...]) -> Message:
    id_, event, targets, data = row
    return Message(id_, event, data, frozenset(targets))


class _Connection:
    """One lazily opened autocommit connection, used by one thread at a time and opened again
    after a failure (the first use after a PostgreSQL restart finds the old one dead)."""

    def __init__(self, info: str, name: str) -> None:
        self._info = info
        self._name = name
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(
                        self._info, autocommit=True, connect_timeout=3, application_name=self._name
                    )
                try:
                    return work(self._conn)
                except psycopg.OperationalError:
                    self._close()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


class PostgresBus(Subscribers):
    def __init__(
        self,
        database_url: str,
        *,
        retention_minutes: float = 10.0,
        queue_size: int = 200,
        resume_limit: int = 2000,
        poll_seconds: float = 1.0,
    ) -> None:
        super().__init__(queue_size=queue_size)
        self._info = conninfo(database_url)
        self._retention = retention_minutes * 60
        self._resume_limit = resume_limit
        self._poll = poll_seconds
        self._publisher = _Connection(self._info, "sanshe-live-publish")
        self._reader = _Connection(self._info, "sanshe-live-resume")
        self._publishing = ThreadPoolExecutor(1, thread_name_prefix="live-publish")
        self._resuming = ThreadPoolExecutor(1, thread_name_prefix="live-resume")
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned = 0.0
        # The last id delivered to this process's subscribers (None: not connected yet).
        self.position: int | None = None
        # The listener's backend (pg_stat_activity.pid), and how often it has connected.
        self.listener_pid: int | None = None
        self.connections = 0

    # --- publishing -------------------------------------------------------------------------

    def publish(self, targets: Iterable[str], event: str, data: dict[str, Any]) -> Message | None:
        targets = frozenset(targets)
        if self._on_loop():
            self._publishing.submit(self._store, targets, event, data)
            return None
        return self._store(targets, event, data)

    def _store(self, targets: frozenset[str], event: str, data: dict[str, Any]) -> Message | None:
        body = json.dumps(data, ensure_ascii=False, default=str)
        addressed = json.dumps(sorted(targets))

        def insert(conn: psycopg.Connection[Any]) -> int:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
                row = conn.execute(
                    "INSERT INTO live_event (event, targets, data, created_at)"
                    " VALUES (%s, %s::json, %s::json, now()) RETURNING id",
                    (event, addressed, body),
                ).fetchone()
                assert row is not None
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(row[0])))
                return int(row[0])

        try:
            id_ = self._publisher.run(insert)
        except Exception as exc:  # a screen missing an update must never fail the caller
            log.error("live event %s not published: %s: %s", event, type(exc).__name__, exc)
            return None
        return Message(id_, event, json.loads(body), targets)

    # --- subscribing ------------------------------------------------------------------------

    def subscribe(
        self,
        user_id: int,
        role: str,
        *,
        last_event_id: int | None = None,
        providers: frozenset[int] = frozenset(),
    ) -> Subscription:
        """On the loop the missed messages are read by a worker thread and queued before any
        live one; from another thread (tests, tools) they are read there and queued on return."""
        sub = self._new(user_id, role, providers)
        if last_event_id is None:
            self._subscribers.add(sub)
            return sub
        sub.after = last_event_id
        sub.held = []  # live messages wait behind the missed ones
        self._subscribers.add(sub)
        if self._on_loop():
            self._resuming.submit(self._resume, sub, last_event_id)
        else:
            self._run_on_loop(self._release, sub, self._missed_or_none(last_event_id))
        return sub

    def _resume(self, sub: Subscription, after: int) -> None:
        missed = self._missed_or_none(after)
        if not self._on_loop_soon(self._release, sub, missed):
            sub.held = None

    def _missed_or_none(self, after: int) -> list[Message]:
        try:
            return self._reader.run(lambda conn: self._missed(conn, after))
        except Exception as exc:
            log.error("live events after %s could not be read: %s: %s", after, type(exc).__name__, exc)
            return []

    def _missed(self, conn: psycopg.Connection[Any], after: int) -> list[Message]:
        rows = conn.execute(
            f"{_COLUMNS} WHERE id > %s AND created_at > now() - make_interval(secs => %s)"
            " ORDER BY id DESC LIMIT %s",
            (after, self._retention, self._resume_limit),
        ).fetchall()
        return [_message(row) for row in reversed(rows)]

    def _release(self, sub: Subscription, missed: list[Message]) -> None:
        held, sub.held = sub.held or [], None
        for message in missed:
            if sub.wants(message):
                self._put(sub, message)
        for message in held:
            self._put(sub, message)

    def _run_on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                fn(*args)
            finally:
                done.set()

        if not self._on_loop_soon(run):
            fn(*args)
        elif not done.wait(30):
            log.error("the event loop did not queue a resumed stream within 30 s")

    # --- the listener -----------------------------------------------------------------------

    def start(self, ready_timeout: float = 10.0) -> None:
        """Start the listener; wait (a bounded time) until it listens, so nothing published after
        the start is missed. A database that cannot be reached yet is retried in the background."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="live-listener", daemon=True)
        self._thread.start()
        if not self._ready.wait(ready_timeout):
            log.warning("live event listener not connected after %.0f s; it keeps trying", ready_timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._publishing.shutdown(wait=True)
        self._resuming.shutdown(wait=True)
        try:  # wake the listener at once instead of at its next poll
            self._publisher.run(lambda conn: conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,)))
        except Exception:
            log.debug("could not wake the live event listener", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._publisher.close()
        self._reader.close()

    def _listen(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._info, autocommit=True, connect_timeout=3, application_name=listener_name()
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if self.position is None:  # first start: from what is published from now on
                        row = conn.execute("SELECT coalesce(max(id), 0) FROM live_event").fetchone()
                        self.position = int(row[0]) if row else 0
                    self.listener_pid = conn.info.backend_pid
                    self.connections += 1
                    self._ready.set()
                    delay = 0.1
                    self._follow(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                log.warning("live event listener lost the database (%s); reconnecting", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _follow(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            self._catch_up(conn)  # first: whatever was published while this was not listening
            self._prune(conn)
            for _ in conn.notifies(timeout=self._poll, stop_after=1):
                pass

    def _catch_up(self, conn: psycopg.Connection[Any]) -> None:
        while True:
            rows = conn.execute(f"{_COLUMNS} WHERE id > %s ORDER BY id LIMIT %s", (self.position, BATCH))
            messages = [_message(row) for row in rows.fetchall()]
            if not messages:
                return
            self.position = messages[-1].id
            self._on_loop_soon(self._deliver, messages)
            if len(messages) < BATCH:
                return

    def _prune(self, conn: psycopg.Connection[Any]) -> None:
        now = time.monotonic()
        if now - self._pruned < min(60.0, self._retention / 4):
            return
        self._pruned = now
        conn.execute(
            "DELETE FROM live_event WHERE created_at < now() - make_interval(secs => %s)", (self._retention,)
        )
