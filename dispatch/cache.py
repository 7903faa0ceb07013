"""A value built from database rows, rebuilt when those rows change.

The catalogue's suggester, the gazetteer, the working-day calendar and the provider index are
expensive to build and rarely change. Each process keeps one and compares a cheap *stamp* of the
rows (counts, latest update) with the one it was built from, at most every ``check_every``
seconds, so an edit made through any process reaches every process within that time without
them talking to each other. ``invalidate()`` makes this process look at once (after its own edits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class StampedCache(Generic[T]):
    def __init__(
        self,
        *,
        stamp: Callable[[Session], tuple[Any, ...]],
        build: Callable[[Session], T],
        check_every: float = 0.0,
    ) -> None:
        self._stamp_of = stamp
        self._build = build
        self.check_every = check_every
        self._lock = threading.Lock()
        self._value: T | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._checked_at = float("-inf")

    def get(self, session: Session) -> T:
        now = time.monotonic()
        value = self._value
        if value is not None and now - self._checked_at < self.check_every:
            return value
        stamp = self._stamp_of(session)
        with self._lock:
            if self._value is None or stamp != self._stamp:
                self._value = self._build(session)
                self._stamp = stamp
            self._checked_at = now
            return self._value

    def invalidate(self) -> None:
        self._checked_at = float("-inf")
