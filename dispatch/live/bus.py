"""What every event bus of the live stream is: messages, subscriptions, the interface, and the
delivery to this process's subscribers on the server's event loop.

Two buses satisfy :class:`EventBus`: ``hub.EventHub`` (SQLite: one process, in memory) and
``postgres.PostgresBus`` (PostgreSQL: LISTEN/NOTIFY, one stream across processes). Publishers are
threads (the telephony ingest worker, the outbox sender, a request's commit) or the event loop;
subscribers are SSE responses on the event loop, fed only by :meth:`Subscribers._deliver` there.

Addressing: ``user:12``, ``role:supervisor``, ``provider:5`` (the users acting for that provider)
or ``all``. A subscriber that falls ``queue_size`` messages behind loses the oldest ones rather
than holding the publisher up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    event: str
    data: dict[str, Any]
    targets: frozenset[str]
    published: float = field(default_factory=time.perf_counter)  # for latency measurements


@dataclass(eq=False)
class Subscription:
    user_id: int
    role: str
    queue: asyncio.Queue[Message]
    dropped: int = 0
    # The providers the user acts for (a worker; an organisation and its workers): addressed
    # as "provider:ID" by order events.
    providers: frozenset[int] = frozenset()
    # The last message id queued; a bus whose ids arrive strictly in order sets it and skips
    # anything not after it (a resume read from the database and the live feed may overlap).
    after: int | None = None
    # While a resume is read from the database, live messages wait here, behind it.
    held: list[Message] | None = None

    def wants(self, message: Message) -> bool:
        t = message.targets
        if "all" in t or f"user:{self.user_id}" in t or f"role:{self.role}" in t:
            return True
        return any(f"provider:{p}" in t for p in self.providers)


class EventBus(Protocol):
    """The live stream as the server uses it; see ``hub.EventHub`` and ``postgres.PostgresBus``."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def subscribers(self) -> int: ...

    def publish(self, targets: Iterable[str], event: str, data: dict[str, Any]) -> Message | None:
        """Thread-safe, never fails its caller. The message, or None when it could not be stored
        (logged) or its storing was handed to a worker thread (called on the event loop)."""
        ...

    def subscribe(
        self,
        user_id: int,
        role: str,
        *,
        last_event_id: int | None = None,
        providers: frozenset[int] = frozenset(),
    ) -> Subscription:
        """Missed messages after ``last_event_id`` are queued first, then live ones."""
        ...

    def unsubscribe(self, sub: Subscription) -> None: ...


class Subscribers:
    """This process's subscribers and the delivery to them on the bound loop."""

    def __init__(self, *, queue_size: int) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on this loop (the server's); called at start-up."""
        self._loop = loop

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def _new(self, user_id: int, role: str, providers: frozenset[int]) -> Subscription:
        return Subscription(user_id, role, asyncio.Queue(maxsize=self._queue_size), providers=providers)

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _on_loop_soon(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run ``fn`` on the loop: now when called there, else as soon as the loop can. False when
        there is no loop to run it on (not bound yet, or closed at shutdown)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        if self._on_loop():
            fn(*args)
            return True
        # RuntimeError: the loop closed between the check and the call (shutdown).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(fn, *args)
            return True
        return False

    def _deliver(self, messages: Iterable[Message]) -> None:
        for message in messages:
            for sub in list(self._subscribers):
                if sub.wants(message):
                    if sub.held is not None:
                        sub.held.append(message)
                    else:
                        self._put(sub, message)

    def _put(self, sub: Subscription, message: Message) -> None:
        if sub.after is not None:
            if message.id <= sub.after:
                return
            sub.after = message.id
        if sub.queue.full():
            sub.queue.get_nowait()
            sub.dropped += 1
            log.warning(
                "event stream of user %s is %d messages behind: oldest dropped", sub.user_id, sub.dropped
            )
        sub.queue.put_nowait(message)
