"""The normalised call event model shared by every telephony adapter (Asterisk, Twilio, simulator).

Adapters translate vendor events into these frozen values and hand them to an ``EventSink``; the
dispatch side stores and reacts to them without knowing which PBX or carrier produced them.

Conventions every adapter follows:

* ``call_id`` is the stable id of the *whole* call (Asterisk ``Linkedid``, Twilio ``CallSid``), so
  the ringing, answered and ended events of one call share it, however many legs the PBX creates.
* Datetimes are timezone-aware and normalised to UTC here; a naive datetime is a programming error
  (it would silently be read as server-local time) and is rejected.
* Durations are whole seconds (what PBXs and carriers report), never timestamps.
* ``CallEnded`` is self-contained (caller, queue, operator, start/answer times): a consumer that
  missed the earlier events of a call, e.g. across an adapter reconnect, can still store it.
* Phone numbers are passed through as the adapter received them; normalising to E.164 is the
  residents domain's job, where the deployment's default region is known.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import TypeAdapter, ValidationError

Source = Literal["asterisk", "twilio", "simulator"]
Disposition = Literal["answered", "abandoned", "missed", "voicemail"]

__all__ = [
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallRinging",
    "DigitsEntered",
    "Disposition",
    "EventSink",
    "SmsReceived",
    "Source",
    "VoicemailRecorded",
    "event_from_dict",
    "event_to_dict",
]


def _utc(value: datetime, field_name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field_name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


class _AwareTimes:
    """Mixin: convert every datetime field to UTC and reject naive ones at construction."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]  # only mixed into dataclasses
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                object.__setattr__(self, f.name, _utc(value, f.name))


@dataclass(frozen=True)
class CallRinging(_AwareTimes):
    """A call is being offered. ``operator_ext`` is None while the call waits in a queue with no
    phone ringing yet; then one event per extension the queue rings (so several per call)."""

    call_id: str
    source: Source
    caller: str
    callee: str
    queue: str | None
    operator_ext: str | None
    at: datetime


@dataclass(frozen=True)
class CallAnswered(_AwareTimes):
    call_id: str
    source: Source
    operator_ext: str
    at: datetime


@dataclass(frozen=True)
class CallEnded(_AwareTimes):
    """Exactly one per call. ``hold_seconds`` is the time the caller waited in the queue,
    ``talk_seconds`` the time connected to an operator (0 when never answered)."""

    call_id: str
    source: Source
    at: datetime
    disposition: Disposition
    hold_seconds: int
    talk_seconds: int
    caller: str
    queue: str | None
    operator_ext: str | None
    started_at: datetime | None
    answered_at: datetime | None


@dataclass(frozen=True)
class VoicemailRecorded(_AwareTimes):
    call_id: str
    source: Source
    recording_url: str
    caller: str
    at: datetime


@dataclass(frozen=True)
class DigitsEntered(_AwareTimes):
    """DTMF (or speech-recognised digits) the caller entered, e.g. an IVR menu choice."""

    call_id: str
    source: Source
    digits: str
    at: datetime


@dataclass(frozen=True)
class SmsReceived(_AwareTimes):
    message_id: str
    source: Source
    sender: str
    body: str
    at: datetime


CallEvent = CallRinging | CallAnswered | CallEnded | VoicemailRecorded | DigitsEntered | SmsReceived


class EventSink(Protocol):
    """Where an adapter delivers events. Each adapter documents which thread calls it; the sink
    must not block for long (hand the event to a queue or an event loop instead)."""

    def __call__(self, event: CallEvent) -> None: ...


_KINDS: dict[str, type] = {
    "ringing": CallRinging,
    "answered": CallAnswered,
    "ended": CallEnded,
    "voicemail": VoicemailRecorded,
    "digits": DigitsEntered,
    "sms": SmsReceived,
}
_NAMES = {cls: name for name, cls in _KINDS.items()}


def event_to_dict(event: CallEvent) -> dict[str, object]:
    """JSON-ready form: ``{"type": "ringing", "call_id": ..., "at": "2025-...Z", ...}``."""
    out: dict[str, object] = {"type": _NAMES[type(event)]}
    for f in fields(event):
        value = getattr(event, f.name)
        out[f.name] = value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
    return out


def event_from_dict(data: object) -> CallEvent:
    """The inverse of :func:`event_to_dict`, validated by pydantic (types, literals, ISO times,
    no unknown fields); ``ValueError`` names the first field that is wrong."""
    if not isinstance(data, dict):
        raise ValueError("event: must be a JSON object")
    kind = data.get("type")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"type: must be one of {', '.join(_KINDS)}")
    body = {k: v for k, v in data.items() if k != "type"}
    unknown = sorted(set(body) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{unknown[0]}: not a field of a {kind} event")
    try:
        return _adapter(cls).validate_python(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or kind
        raise ValueError(f"{where}: {err['msg']}") from None


@functools.cache
def _adapter(cls: type) -> TypeAdapter[CallEvent]:
    return TypeAdapter(cls)
