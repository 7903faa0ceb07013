"""Locks already decided, answered from memory: a flood of sign-ins for a locked account costs
the server almost nothing.

:func:`dispatch.auth.signin.sign_in` asks the database (``throttle.retry_after``) whether an
attempt may go on. Once the answer is "wait N seconds" for a username from an address, the same
answer holds for every attempt with that username from that address until the N seconds are over:
throttled attempts do not count as failures (``dispatch.auth.throttle``), so nothing can shorten
the lock, and what longer locks other processes decide is found when this one runs out and the
database is asked again. So, within a process, :class:`Lockouts` remembers the lock and answers
the same 429 without a thread, a transaction or the writer lock.

Those attempts are recorded all the same (outcome ``throttled``, as the database path records
them): they are kept here and written in one transaction per second at most
(:meth:`Lockouts.flush`), and at shutdown. A process killed between two flushes loses at most a
second of throttled attempts' records; no attempt that was checked, or could have been, is among
them.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from dispatch.auth import throttle
from dispatch.db import transaction
from models import LoginAttempt

MAX_KEYS = 100_000  # locks remembered at most; the oldest-ending are forgotten first (asked again)


class Lockouts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (username, address) → when the lock ends, on the clock the sign-in is decided by
        self._until: dict[tuple[str, str], datetime] = {}
        self._pending: list[dict[str, object]] = []
        self._flush_due = False

    def remaining(self, username: str, address: str, now: datetime) -> float:
        """Seconds left at ``now`` of a lock remembered for ``username`` from ``address`` (0: none)."""
        key = (username, address)
        with self._lock:
            end = self._until.get(key)
            if end is None:
                return 0.0
            left = (end - now).total_seconds()
            if left <= 0:
                del self._until[key]
                return 0.0
            return left

    def remember(self, username: str, address: str, now: datetime, seconds: float) -> None:
        """The database said at ``now`` that ``username`` from ``address`` waits ``seconds``."""
        with self._lock:
            if len(self._until) >= MAX_KEYS:
                for key in [k for k, end in self._until.items() if end <= now]:
                    del self._until[key]
                if len(self._until) >= MAX_KEYS:
                    del self._until[min(self._until, key=self._until.__getitem__)]
            self._until[(username, address)] = now + timedelta(seconds=seconds)

    def note(self, username: str, address: str, at: datetime) -> bool:
        """Keep the record of a throttled attempt. True when no flush is due yet: the caller
        then arranges one (:meth:`flush`)."""
        row = {"at": at, "username": username, "address": address, "success": False}
        with self._lock:
            self._pending.append({**row, "outcome": throttle.THROTTLED})
            arrange, self._flush_due = not self._flush_due, True
            return arrange

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, sessions: sessionmaker[Session]) -> int:
        """Write the throttled attempts kept so far, in one transaction; how many."""
        with self._lock:
            rows, self._pending, self._flush_due = self._pending, [], False
        if not rows:
            return 0
        try:
            with transaction(sessions) as session:
                session.execute(insert(LoginAttempt), rows)
        except BaseException:
            with self._lock:  # written next time
                self._pending[:0] = rows
            raise
        return len(rows)
