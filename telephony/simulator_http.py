"""Posting simulated calls to a running server, and the tally ``sanshe simulate-calls`` prints.

``HttpEventSink`` is a ``dispatch.calls.events.EventSink`` that posts each event to the server's
``POST /api/v1/telephony/events`` (the generic ingest, the same path as Asterisk's events).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.calls.events import CallEnded, CallEvent, Disposition, event_to_dict

INGEST_PATH = "/api/v1/telephony/events"


def http_client(base_url: str, token: str, *, timeout: float = 10.0) -> Any:
    """An ``httpx.Client`` for the server, authenticated with a bearer token."""
    import httpx

    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


class HttpEventSink:
    """Posts each event to ``POST /api/v1/telephony/events``. Failures are reported through
    ``report`` and counted; 401/403/404, or ``give_up_after`` failures in a row, are fatal: ``fatal``
    is set (with ``fatal_reason``) and later events are dropped."""

    def __init__(
        self,
        client: Any,
        *,
        report: Callable[[str], None] = print,
        on_ended: Callable[[CallEnded], None] | None = None,
        give_up_after: int = 20,
    ) -> None:
        self.client, self.report, self.on_ended = client, report, on_ended
        self.give_up_after = give_up_after
        self.posted = self.failed = 0
        self.fatal = threading.Event()
        self.fatal_reason = ""
        self._failures_in_row = 0

    def __call__(self, event: CallEvent) -> None:
        import httpx

        if self.fatal.is_set():
            return
        try:
            response = self.client.post(INGEST_PATH, json=event_to_dict(event))
        except httpx.HTTPError as exc:
            self._failure(f"POST {INGEST_PATH} failed: {type(exc).__name__}: {exc}", fatal=False)
            return
        if response.is_success:
            self.posted += 1
            self._failures_in_row = 0
            if self.on_ended is not None and isinstance(event, CallEnded):
                self.on_ended(event)
            return
        fatal = response.status_code in (401, 403, 404)
        self._failure(f"POST {INGEST_PATH} -> {response.status_code}: {_error_text(response)}", fatal=fatal)

    def _failure(self, message: str, *, fatal: bool) -> None:
        self.failed += 1
        self._failures_in_row += 1
        self.report(message)
        if fatal or self._failures_in_row >= self.give_up_after:
            self.fatal_reason = (
                message if fatal else f"{self._failures_in_row} failures in a row; last: {message}"
            )
            self.fatal.set()


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('detail', '')}"
    return str(body)[:200]


class CallTally:
    """Per-call lines and the end-of-run summary printed by ``sanshe simulate-calls``."""

    def __init__(self, timezone: str | tzinfo = "UTC") -> None:
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.ended: list[CallEnded] = []

    def add(self, ended: CallEnded) -> str:
        from dispatch.outbox.adapters import mask_number

        self.ended.append(ended)
        line = f"{ended.at.astimezone(self.tz):%Y-%m-%d %H:%M:%S}  {mask_number(ended.caller):<15} "
        line += f"{ended.disposition:<9}  wait {_duration(ended.hold_seconds):>5}"
        if ended.disposition == "answered":
            line += f"  talk {_duration(ended.talk_seconds):>6}  operator {ended.operator_ext}"
        return line

    def summary(self) -> str:
        n = len(self.ended)
        if not n:
            return "no call ended"
        counts = Counter(e.disposition for e in self.ended)
        shares = ", ".join(f"{kind} {100 * counts[kind] / n:.1f} %" for kind in _DISPOSITIONS)
        answered = [e for e in self.ended if e.disposition == "answered"]
        text = f"{n} calls: {shares}"
        if answered:
            within_15 = sum(e.hold_seconds <= 15 for e in answered) / len(answered)
            mean_wait = sum(e.hold_seconds for e in answered) / len(answered)
            mean_talk = sum(e.talk_seconds for e in answered) / len(answered)
            text += (
                f"; answered within 15 s {100 * within_15:.0f} %, mean wait {_duration(round(mean_wait))},"
                f" mean talk {_duration(round(mean_talk))}"
            )
        return text


_DISPOSITIONS: tuple[Disposition, ...] = ("answered", "abandoned", "missed", "voicemail")


def _duration(seconds: int) -> str:
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"
