"""The in-process event bus (SQLite: one process): the live stream's messages never leave it.

``publish`` is thread-safe: it numbers the message from a counter, keeps it in a short history
and hands delivery to the loop (``bus.Subscribers``). A client that reconnects with
``Last-Event-ID`` gets the messages for it that it missed, as long as they are still in the
history (the last ``history`` messages).

One process only: with several API instances on PostgreSQL, ``postgres.PostgresBus`` carries the
stream across them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from dispatch.live.bus import Message, Subscribers, Subscription

__all__ = ["EventHub", "Message", "Subscription"]


class EventHub(Subscribers):
    def __init__(self, *, history: int = 500, queue_size: int = 200) -> None:
        super().__init__(queue_size=queue_size)
        # Ids keep growing across restarts (they start from the clock), so a client reconnecting
        # with an id from before a restart is never mistaken for one that is ahead.
        self._ids = itertools.count(time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._history: deque[Message] = deque(maxlen=history)

    def start(self) -> None:
        """Nothing to start: the hub lives in memory."""

    def stop(self) -> None:
        """Nothing to stop."""

    def publish(self, targets: Iterable[str], event: str, data: dict[str, Any]) -> Message:
        """Thread-safe; never blocks on subscribers."""
        with self._lock:
            message = Message(next(self._ids), event, data, frozenset(targets))
            self._history.append(message)
        self._on_loop_soon(self._deliver, (message,))
        return message

    def subscribe(
        self,
        user_id: int,
        role: str,
        *,
        last_event_id: int | None = None,
        providers: frozenset[int] = frozenset(),
    ) -> Subscription:
        """Call on the event loop. Missed messages after ``last_event_id`` are queued first."""
        sub = self._new(user_id, role, providers)
        if last_event_id is not None:
            with self._lock:
                missed = [m for m in self._history if m.id > last_event_id]
            for message in missed:
                if sub.wants(message):
                    self._put(sub, message)
        self._subscribers.add(sub)
        return sub
