"""In-process publish/subscribe for the live event stream (``GET /api/v1/events``).

Publishers are threads (the telephony ingest worker, the outbox sender) or the event loop itself;
subscribers are SSE responses on the event loop. ``publish`` is thread-safe: it numbers the
message, keeps it in a short history and hands delivery to the loop with ``call_soon_threadsafe``.

Addressing: ``user:12``, ``role:supervisor``, ``provider:5`` (the users acting for that provider)
or ``all``.
A client that reconnects with ``Last-Event-ID`` gets the messages for it that it missed, as long
as they are still in the history (the last ``history`` messages). A subscriber that falls
``queue_size`` messages behind loses the oldest ones rather than holding the publisher up.

One process only: with several API instances, a user connected to another instance does not see
this instance's messages (screen pops come from the instance connected to the PBX).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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

    def wants(self, message: Message) -> bool:
        t = message.targets
        if "all" in t or f"user:{self.user_id}" in t or f"role:{self.role}" in t:
            return True
        return any(f"provider:{p}" in t for p in self.providers)


class EventHub:
    def __init__(self, *, history: int = 500, queue_size: int = 200) -> None:
        # Ids keep growing across restarts (they start from the clock), so a client reconnecting
        # with an id from before a restart is never mistaken for one that is ahead.
        self._ids = itertools.count(time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._history: deque[Message] = deque(maxlen=history)
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on this loop (the server's); called at start-up."""
        self._loop = loop

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, targets: Iterable[str], event: str, data: dict[str, Any]) -> Message:
        """Thread-safe; never blocks on subscribers."""
        with self._lock:
            message = Message(next(self._ids), event, data, frozenset(targets))
            self._history.append(message)
        loop = self._loop
        if loop is None or loop.is_closed():
            return message
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(message)
        else:
            # RuntimeError: the loop closed between the check and the call (shutdown).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, message)
        return message

    def _deliver(self, message: Message) -> None:
        for sub in list(self._subscribers):
            if sub.wants(message):
                self._put(sub, message)

    def _put(self, sub: Subscription, message: Message) -> None:
        if sub.queue.full():
            sub.queue.get_nowait()
            sub.dropped += 1
            log.warning(
                "event stream of user %s is %d messages behind: oldest dropped", sub.user_id, sub.dropped
            )
        sub.queue.put_nowait(message)

    def subscribe(
        self,
        user_id: int,
        role: str,
        *,
        last_event_id: int | None = None,
        providers: frozenset[int] = frozenset(),
    ) -> Subscription:
        """Call on the event loop. Missed messages after ``last_event_id`` are queued first."""
        sub = Subscription(user_id, role, asyncio.Queue(maxsize=self._queue_size), providers=providers)
        if last_event_id is not None:
            with self._lock:
                missed = [m for m in self._history if m.id > last_event_id]
            for message in missed:
                if sub.wants(message):
                    self._put(sub, message)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
