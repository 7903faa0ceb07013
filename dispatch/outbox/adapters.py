"""Adapters that never leave the process: in-memory recorders (tests, the demo simulator) and loggers
(the development default when no SMS or call provider is configured).

The recorders are thread-safe: concurrent outbox senders share one in tests. Tell one to fail with
``fail_next(n, permanent=...)`` (the next *n* sends fail) or ``fail_always(recipient, permanent=...)``
(every send to that recipient fails, like a disconnected number).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dispatch.ports import Adapters, DeliveryError, Recipient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivered:
    """One successful send as a recorder saw it."""

    id: str
    recipient: str
    body: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class _Recorder:
    prefix = "fake"

    def __init__(self, *, delay: float = 0.0) -> None:
        # ``delay`` seconds per send, to widen race windows in concurrency tests.
        self.delay = delay
        self.delivered: list[Delivered] = []
        self.attempts = 0  # every call, failed ones included
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._failures: deque[DeliveryError] = deque()
        self._always: dict[str, DeliveryError] = {}

    def fail_next(self, n: int = 1, *, permanent: bool = False, message: str | None = None) -> None:
        kind = "permanent" if permanent else "temporary"
        with self._lock:
            for _ in range(n):
                self._failures.append(
                    DeliveryError(message or f"simulated {kind} failure", permanent=permanent)
                )

    def fail_always(self, recipient: str, *, permanent: bool = True, message: str | None = None) -> None:
        error = DeliveryError(message or f"simulated: {recipient} cannot be reached", permanent=permanent)
        with self._lock:
            self._always[recipient] = error

    def recipients(self) -> list[str]:
        with self._lock:
            return [d.recipient for d in self.delivered]

    def _deliver(self, recipient: str, body: str, payload: dict[str, Any]) -> str:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.attempts += 1
            if recipient in self._always:
                raise self._always[recipient]
            if self._failures:
                raise self._failures.popleft()
            message_id = f"{self.prefix}-{next(self._ids)}"
            self.delivered.append(Delivered(message_id, recipient, body, dict(payload)))
            return message_id


class RecordingSms(_Recorder):
    prefix = "SMfake"

    def send_sms(self, to: str, body: str) -> str:
        return self._deliver(to, body, {})


class RecordingCalls(_Recorder):
    prefix = "CAfake"

    def place_call(self, to: str, payload: dict[str, Any]) -> str:
        return self._deliver(to, "", payload)


class RecordingNotifier(_Recorder):
    prefix = "notify"

    def notify(self, recipient: Recipient, body: str, payload: dict[str, Any]) -> str:
        return self._deliver(str(recipient), body, payload)


class RecordingConnector(_Recorder):
    prefix = "CAconnect"
    via = "test"

    def connect(self, extension: str, to: str, payload: dict[str, Any]) -> str:
        return self._deliver(to, extension, payload)


def mask_number(number: str) -> str:
    """``+8613812345678`` → ``+86138****5678``: enough to tell numbers apart in a log, no more."""
    if len(number) <= 7:
        return "*" * len(number)
    return f"{number[:-8]}****{number[-4:]}"


class LogSms:
    """Writes the message to the log instead of sending it (no SMS provider configured).

    ``show_body``: the text too, at INFO (development and the demo: the log is where a resident's
    sign-in code arrives, ``SMS … to 139****0001: 【社区服务】您的登录验证码是 123456…``); otherwise
    only at DEBUG. ``create_app`` turns it off in production."""

    def __init__(self, *, show_body: bool = False) -> None:
        self.show_body = show_body

    def send_sms(self, to: str, body: str) -> str:
        message_id = f"log-{uuid.uuid4().hex[:12]}"
        if self.show_body:
            log.info("SMS %s to %s logged, not sent: %s", message_id, mask_number(to), body)
        else:
            log.info("SMS %s to %s (%d chars) logged, not sent", message_id, mask_number(to), len(body))
            log.debug("SMS %s body: %s", message_id, body)
        return message_id


class LogCalls:
    def place_call(self, to: str, payload: dict[str, Any]) -> str:
        call_id = f"log-{uuid.uuid4().hex[:12]}"
        log.info("call %s to %s logged, not placed: %s", call_id, mask_number(to), payload)
        return call_id


class LogConnector:
    """No PBX or Twilio configured: the click-to-call is logged; the operator dials by hand."""

    via = "log"

    def connect(self, extension: str, to: str, payload: dict[str, Any]) -> str:
        call_id = f"log-{uuid.uuid4().hex[:12]}"
        log.info(
            "click-to-call %s: extension %s to %s logged, not placed", call_id, extension, mask_number(to)
        )
        return call_id


class LogNotifier:
    def notify(self, recipient: Recipient, body: str, payload: dict[str, Any]) -> str:
        notification_id = f"log-{uuid.uuid4().hex[:12]}"
        log.info("notification %s for %s logged: %s", notification_id, recipient, body)
        return notification_id


def logging_adapters() -> Adapters:
    """Every message written to the log: development without an SMS provider or a PBX."""
    return Adapters(sms=LogSms(), calls=LogCalls(), notifier=LogNotifier(), connector=LogConnector())


def recording_adapters() -> Adapters:
    """In-memory recorders for every channel (tests, benchmarks)."""
    return Adapters(
        sms=RecordingSms(),
        calls=RecordingCalls(),
        notifier=RecordingNotifier(),
        connector=RecordingConnector(),
    )
