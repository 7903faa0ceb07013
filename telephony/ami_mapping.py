"""Pure mapping of Asterisk AMI events to the normalised call events: no sockets, no threads.

``AmiCallTracker.feed(event)`` takes one AMI event as a header dict (``{"Event": "Hangup", ...}``)
and returns the normalised events it produces; ``tick()`` releases calls held back waiting for a
Cdr. It is keyed by ``Linkedid`` (the id of the whole call) and idempotent: events replayed after a
reconnect, a second Hangup/Cdr, or a ringing of the same agent leg twice produce nothing new, and
each call ends exactly once. Unknown events are ignored; malformed ones are logged and ignored.
Not thread-safe: the adapter drives it from a single thread.

Rules (Asterisk 13-18 app_queue, checked against the transcripts in shared/fixtures/ami):

* The caller's channel is the one whose ``Uniqueid == Linkedid``; its ``Hangup`` ends the call.
* Caller number: latest ``CallerIDNum`` of that channel (``NewCallerid`` follows dialplan rewrites),
  passed through untouched except Asterisk's ``<unknown>`` placeholder, which becomes "".
* Operator extension: the resource of ``Interface`` (``SIP/1001``, ``PJSIP/1001``,
  ``Local/1001@ctx/n`` -> ``1001``) when numeric, else ``MemberName``, else ``DestCallerIDNum``.
  Interface first because it is what the queue actually dials; MemberName is a free-text label
  (often the operator's name) and DestCallerIDNum is the *caller's* number on Local-channel members.
* ``HoldTime``/``RingTime``/``TalkTime`` are durations in seconds. Hold = seconds waited in the
  queue (AgentConnect, else QueueCallerAbandon, else join -> leave/hangup). Talk = AgentComplete
  ``TalkTime`` (exact bridge time); without it, Cdr ``Duration`` minus the seconds from call start
  to agent answer, else hangup - answer. Cdr is also used to confirm TalkTime (mismatches logged).
* Abandoned vs missed: app_queue raises ``QueueCallerAbandon`` both when the caller hangs up and,
  in many versions, when the queue timeout (or the ``n`` option cycle) expires. Decision, in order:
  1. a ``HangupRequest``/``SoftHangupRequest`` on the caller channel while it was still queued
     -> the caller hung up -> "abandoned";
  2. ``QUEUESTATUS`` set on the caller channel (TIMEOUT, LEAVEEMPTY, ...: only set when Queue()
     returns to the dialplan) or the dialplan continues (``Newexten``, not the ``h`` extension) after
     the queue exit -> the caller was still there -> "missed";
  3. at hangup, ``HoldTime`` >= the timeout argument of ``Queue()`` (5th field) -> "missed";
  4. otherwise "abandoned" (a caller hang-up is by far the common case).
  A caller that reaches ``VoiceMail()`` without an agent answering ends as "voicemail"; a call that
  never queued and was never answered is "abandoned" if the caller hung up, else "missed".
* Exactly one ``CallEnded``: emitted at the caller's Hangup, except that an answered call with no
  TalkTime yet, or any call once Cdr events have been seen on the feed, waits up to
  ``cdr_grace_s`` for AgentComplete/Cdr (published a few ms after the Hangup) to fill/confirm it.
* Resync: ``begin_resync()``, then the ``CoreShowChannel`` events of a ``CoreShowChannels`` action,
  then ``CoreShowChannelsComplete``: calls open at begin that have no channel left are ended with
  what was known (end time = now); live calls the tracker never saw are adopted so they end later.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from dispatch.calls.events import CallAnswered, CallEnded, CallEvent, CallRinging, DigitsEntered, Disposition

__all__ = ["AmiCallTracker"]

log = logging.getLogger(__name__)
SOURCE: Literal["asterisk"] = "asterisk"
_H = Mapping[str, str]  # one AMI event, header names lower-cased
_Out = list[CallEvent]
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?$")  # "SIP/1001-00000013", "Local/1001@x-0001;1"


@dataclass
class _Call:
    call_id: str
    caller: str = ""
    callee: str = ""
    started_at: datetime | None = None
    queue: str | None = None
    queue_timeout: int | None = None
    announced_queues: set[str] = field(default_factory=set)
    joined_at: datetime | None = None
    in_queue: bool = False
    left_queue_at: datetime | None = None
    rung_legs: set[str] = field(default_factory=set)
    answered: bool = False
    answered_at: datetime | None = None
    operator_ext: str | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    hangup_requested: bool = False
    hangup_requested_while_queued: bool = False
    queue_status: str | None = None
    dialplan_after_queue: bool = False
    voicemail: bool = False
    digits_seen: set[tuple[str, str]] = field(default_factory=set)
    cdr_duration: int | None = None
    ended_at: datetime | None = None
    deferred_since: datetime | None = None
    last_seen: datetime | None = None  # receive (wall-clock) time of its latest event


@dataclass
class _Resync:
    action_id: str | None
    candidates: set[str]
    live: set[str] = field(default_factory=set)


def _number(value: str | None) -> str:
    value = (value or "").strip()
    return "" if value == "<unknown>" else value


def _resource(name: str | None) -> str:
    """Interface or channel -> its resource: SIP/1001, Local/1001@q/n, SIP/1001-0000001f -> 1001."""
    if not name or "/" not in name:
        return ""
    resource = _CHANNEL_SUFFIX.sub("", name.split("/", 1)[1])
    return resource.split("@", 1)[0].split("/", 1)[0]


def _operator_ext(h: Mapping[str, str]) -> str | None:
    candidates = [
        _resource(h.get("interface")),
        h.get("membername", ""),
        _number(h.get("destcalleridnum")),
        _resource(h.get("destchannel")),
    ]
    numeric = next((c for c in candidates if c.isdigit()), None)
    return numeric or next((c for c in candidates if c), None)


def _seconds(value: str) -> int:
    seconds = int(value)
    if seconds < 0:
        raise ValueError(f"negative duration {value!r}")
    return seconds


def _hms(value: str) -> int:
    """CoreShowChannel Duration "HH:MM:SS" -> seconds."""
    hours, minutes, seconds = (int(part) for part in value.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


class AmiCallTracker:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        contexts: Collection[str] | None = None,
        cdr_grace_s: float = 2.0,
        stale_after_s: float = 8 * 3600,
        remember_ended: int = 10_000,
    ) -> None:
        """``contexts``: if given, only calls whose caller channel starts in one of these dialplan
        contexts (e.g. ``{"from-trunk"}``) are tracked, so operators' internal and outbound calls
        are not mistaken for resident calls. ``stale_after_s``: a call with no event for that long
        is ended by ``tick()`` (its Hangup was lost), so memory stays bounded."""
        self._clock = clock
        self._contexts = frozenset(contexts) if contexts is not None else None
        self._cdr_grace = timedelta(seconds=cdr_grace_s)
        self._stale_after = timedelta(seconds=stale_after_s)
        self._remember = remember_ended
        self._calls: dict[str, _Call] = {}
        # Finished (or deliberately ignored) Linkedids, so replays after a reconnect stay silent.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._cdr_seen = False
        self._resync: _Resync | None = None
        self._now = clock()  # receive time of the event being fed

    @property
    def open_calls(self) -> frozenset[str]:
        return frozenset(self._calls)

    # --- public API -------------------------------------------------------------------------

    def feed(self, event: Mapping[str, object], *, received_at: datetime | None = None) -> list[CallEvent]:
        out: list[CallEvent] = []
        name = "?"
        try:
            h = {k.lower(): v.strip() for k, v in event.items() if isinstance(k, str) and isinstance(v, str)}
            name = h.get("event", "")
            handler = getattr(self, f"_on_{name.lower()}", None) if name.isalnum() else None
            if handler is None:
                return out
            self._now = now = received_at or self._clock()
            handler(h, self._event_time(h, now), now, out)
        except (KeyError, ValueError) as exc:
            log.warning("ignoring malformed AMI %s event (%s: %s)", name, type(exc).__name__, exc)
        except Exception:
            log.exception("failed to map AMI %s event; ignored", name)
        return out  # events appended before a failure match state already updated

    def tick(self, now: datetime | None = None) -> list[CallEvent]:
        """Release ended calls whose AgentComplete/Cdr did not arrive within the grace period,
        and end calls silent for ``stale_after_s``."""
        now = now or self._clock()
        out: list[CallEvent] = []
        for call in list(self._calls.values()):
            if call.deferred_since is not None and now - call.deferred_since >= self._cdr_grace:
                out.append(self._finish(call))
            elif call.deferred_since is None and call.last_seen and now - call.last_seen >= self._stale_after:
                log.warning("call %s: no AMI event for %s; ending it", call.call_id, now - call.last_seen)
                call.ended_at = now
                out.append(self._finish(call))
        return out

    def begin_resync(self, action_id: str | None = None) -> None:
        """Call before sending ``CoreShowChannels`` (in feed order): the calls open now are the
        ones to check against the channel list that follows."""
        self._resync = _Resync(action_id, candidates=set(self._calls))

    def abort_resync(self) -> None:
        self._resync = None

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _event_time(h: Mapping[str, str], fallback: datetime) -> datetime:
        stamp = h.get("timestamp")
        if stamp:
            try:
                return datetime.fromtimestamp(float(stamp), UTC)
            except (ValueError, OverflowError, OSError):
                log.debug("unparseable AMI Timestamp %r; using receive time", stamp)
        return fallback

    def _call(self, h: Mapping[str, str], *, create: bool) -> _Call | None:
        call_id = h["linkedid"]
        if not call_id:
            raise ValueError("empty Linkedid")
        if call_id in self._finished:
            return None
        call = self._calls.get(call_id)
        if call is None and create:
            call = self._calls[call_id] = _Call(call_id)
            if h.get("uniqueid") == call_id:
                call.caller, call.callee = _number(h.get("calleridnum")), h.get("exten", "")
        if call is not None:
            call.last_seen = self._now
        return call

    def _caller_channel(self, h: Mapping[str, str]) -> _Call | None:
        """The call, but only for events on the caller's own channel."""
        unique_id = h.get("uniqueid")
        return self._call(h, create=False) if unique_id and unique_id == h.get("linkedid") else None

    def _mark_finished(self, call_id: str) -> None:
        self._finished[call_id] = None
        self._finished.move_to_end(call_id)
        while len(self._finished) > self._remember:
            self._finished.popitem(last=False)

    # --- handlers, found by name: _on_<lower-case event name>(headers, event time, receive time, out)

    def _on_newchannel(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call_id = h["linkedid"]
        if h.get("uniqueid") != call_id or call_id in self._calls or call_id in self._finished:
            return  # agent/Local legs belong to the call already; a known call is a replay
        if self._contexts is not None and h.get("context") not in self._contexts:
            self._mark_finished(call_id)  # remembered so its later events are ignored too
            return
        call = self._call(h, create=True)
        assert call is not None
        call.started_at = at

    def _on_newcallerid(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        if call := self._caller_channel(h):
            call.caller = _number(h.get("calleridnum")) or call.caller

    def _on_queuecallerjoin(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._call(h, create=True)
        if call is None:
            return
        queue = h["queue"]
        if h.get("uniqueid") == call.call_id:
            call.caller = _number(h.get("calleridnum")) or call.caller
        if not call.in_queue:  # (re)joining: facts about an earlier queue exit no longer apply
            call.left_queue_at, call.queue_status, call.dialplan_after_queue = None, None, False
        call.queue, call.in_queue = queue, True
        call.joined_at = call.joined_at or at
        if queue not in call.announced_queues:
            call.announced_queues.add(queue)
            out.append(CallRinging(call.call_id, SOURCE, call.caller, call.callee, queue, None, at))

    def _on_agentcalled(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._call(h, create=True)
        ext = _operator_ext(h)
        leg = h.get("destuniqueid") or h.get("destchannel") or ext
        if call is None or not leg or leg in call.rung_legs:
            return
        call.rung_legs.add(leg)
        call.queue = h.get("queue") or call.queue
        out.append(CallRinging(call.call_id, SOURCE, call.caller, call.callee, call.queue, ext, at))

    def _on_agentconnect(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._call(h, create=True)
        if call is None or call.answered_at is not None:
            return
        hold, ext = _seconds(h["holdtime"]), _operator_ext(h)
        if ext is None:
            raise ValueError("no Interface/MemberName/DestCallerIDNum")
        call.answered, call.answered_at, call.operator_ext = True, at, ext
        call.hold_seconds, call.in_queue = hold, False
        call.queue = h.get("queue") or call.queue
        out.append(CallAnswered(call.call_id, SOURCE, ext, at))

    def _on_agentcomplete(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._call(h, create=True)
        if call is None:
            return
        talk, hold = _seconds(h["talktime"]), _seconds(h["holdtime"])
        call.talk_seconds = talk
        call.answered = True
        # Fill what a missed AgentConnect (e.g. lost in a reconnect gap) would have told us.
        call.hold_seconds = call.hold_seconds if call.hold_seconds is not None else hold
        call.operator_ext = call.operator_ext or _operator_ext(h)
        call.answered_at = call.answered_at or at - timedelta(seconds=talk)
        log.debug("call %s complete: agent %s, Reason %s", call.call_id, call.operator_ext, h.get("reason"))
        self._maybe_finish(call, now, out)

    def _on_queuecallerabandon(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._call(h, create=True)
        if call is None:
            return
        call.hold_seconds = _seconds(h["holdtime"])
        call.queue = h.get("queue") or call.queue
        call.in_queue, call.left_queue_at = False, call.left_queue_at or at

    def _on_queuecallerleave(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        if call := self._call(h, create=False):
            call.in_queue, call.left_queue_at = False, call.left_queue_at or at

    def _on_hanguprequest(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        if call := self._caller_channel(h):
            call.hangup_requested = True
            call.hangup_requested_while_queued |= call.in_queue

    _on_softhanguprequest = _on_hanguprequest  # raised by the Hangup() app / channel request hangup

    def _on_varset(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        if (call := self._caller_channel(h)) and h.get("variable", "").upper() == "QUEUESTATUS":
            call.queue_status = h.get("value") or None

    def _on_newexten(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._caller_channel(h)
        if call is None:
            return
        app = h.get("application", "").lower()
        if app == "queue":
            args = h.get("appdata", "").split(",")
            call.queue_timeout = int(args[4]) if len(args) > 4 and args[4].strip().isdigit() else None
            return
        if call.left_queue_at is not None and not call.answered and h.get("extension") != "h":
            call.dialplan_after_queue = True  # the caller is still on the line after the queue
        if app == "voicemail":
            call.voicemail = True

    def _on_dialbegin(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        # Direct dial to an extension (outside a queue); queue dials are covered by AgentCalled.
        call = self._caller_channel(h)
        if call is None or call.in_queue or call.answered:
            return
        leg = h.get("destuniqueid") or h.get("destchannel", "")
        if leg and leg not in call.rung_legs:
            call.rung_legs.add(leg)
            ext = _resource(h.get("destchannel")) or None
            out.append(CallRinging(call.call_id, SOURCE, call.caller, call.callee, call.queue, ext, at))

    def _on_dialend(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._caller_channel(h)
        if call is None or call.in_queue or call.answered or h.get("dialstatus") != "ANSWER":
            return
        ext = _resource(h.get("destchannel")) or _number(h.get("destcalleridnum"))
        call.answered, call.answered_at, call.operator_ext = True, at, ext
        out.append(CallAnswered(call.call_id, SOURCE, ext, at))

    def _on_dtmfend(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._caller_channel(h)
        if call is None or h.get("direction", "").lower() != "received":
            return
        digit = h["digit"]
        key = (h.get("timestamp", ""), digit)
        if key[0] and key in call.digits_seen:
            return  # same keypress replayed after a reconnect
        call.digits_seen.add(key)
        out.append(DigitsEntered(call.call_id, SOURCE, digit, at))

    def _on_hangup(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        call = self._caller_channel(h)
        if call is None or call.ended_at is not None:
            return
        call.ended_at = at
        self._maybe_finish(call, now, out)

    def _on_cdr(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        self._cdr_seen = True
        call = self._calls.get(h["uniqueid"])  # party A's UniqueID: the caller channel == Linkedid
        if call is None:
            return
        call.cdr_duration = _seconds(h["duration"])
        self._maybe_finish(call, now, out)  # a Cdr before the Hangup waits for it (forked CDRs)

    def _on_coreshowchannel(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        resync = self._resync
        if resync is None or (resync.action_id and h.get("actionid") not in (None, resync.action_id)):
            return
        call_id = h["linkedid"]
        resync.live.add(call_id)
        if h.get("uniqueid") != call_id or call_id in self._calls or call_id in self._finished:
            return
        if self._contexts is not None and h.get("context") not in self._contexts:
            return
        # A call that started while we were disconnected: adopt it so its end is reported.
        call = self._call(h, create=True)
        assert call is not None
        if h.get("duration"):
            call.started_at = now - timedelta(seconds=_hms(h["duration"]))
        if h.get("application", "").lower() == "queue":
            call.queue = h.get("applicationdata", "").split(",")[0] or None
            call.answered = bool(h.get("bridgeid"))  # bridged inside Queue() = talking to an agent
            call.in_queue = not call.answered
        log.info("adopted call %s found up after reconnect", call_id)

    def _on_coreshowchannelscomplete(self, h: _H, at: datetime, now: datetime, out: _Out) -> None:
        resync = self._resync
        if resync is None or (resync.action_id and h.get("actionid") not in (None, resync.action_id)):
            return
        self._resync = None
        for call_id in sorted(resync.candidates - resync.live):
            call = self._calls.get(call_id)
            if call is not None:
                log.warning("call %s ended while AMI was disconnected; durations estimated", call_id)
                call.ended_at = call.ended_at or now
                out.append(self._finish(call))

    # --- ending -----------------------------------------------------------------------------

    def _maybe_finish(self, call: _Call, now: datetime, out: list[CallEvent]) -> None:
        if call.ended_at is None:
            return
        needs_talk = call.answered and call.talk_seconds is None and call.cdr_duration is None
        needs_cdr = self._cdr_seen and call.cdr_duration is None
        if needs_talk or needs_cdr:
            call.deferred_since = call.deferred_since or now  # tick() releases it after the grace
        else:
            out.append(self._finish(call))

    def _queue_exit(self, call: _Call, hold: int) -> Disposition:
        if call.hangup_requested_while_queued:
            return "abandoned"
        if call.queue_status or call.dialplan_after_queue:
            return "missed"
        if call.queue_timeout and hold >= call.queue_timeout - 1:
            return "missed"
        return "abandoned"

    def _finish(self, call: _Call) -> CallEnded:
        del self._calls[call.call_id]
        self._mark_finished(call.call_id)
        end = call.ended_at or self._clock()
        hold = call.hold_seconds
        if hold is None:
            hold = _between(call.joined_at, call.left_queue_at or end) or 0
        talk = 0
        if call.answered:
            from_cdr = None
            if call.cdr_duration is not None:
                before_answer = _between(call.started_at, call.answered_at)
                from_cdr = max(0, call.cdr_duration - (before_answer if before_answer is not None else hold))
            if call.talk_seconds is not None:
                talk = call.talk_seconds
                if from_cdr is not None and abs(talk - from_cdr) > 2:
                    log.info("call %s: TalkTime %ss vs Cdr-derived %ss", call.call_id, talk, from_cdr)
            else:
                talk = from_cdr if from_cdr is not None else _between(call.answered_at, end) or 0
        disposition: Disposition
        if call.answered:
            disposition = "answered"
        elif call.voicemail:
            disposition = "voicemail"
        elif call.joined_at is not None or call.left_queue_at is not None or call.queue is not None:
            disposition = self._queue_exit(call, hold)
        else:
            disposition = "abandoned" if call.hangup_requested else "missed"
        return CallEnded(
            call.call_id,
            SOURCE,
            end,
            disposition,
            hold,
            talk,
            call.caller,
            call.queue,
            call.operator_ext,
            call.started_at,
            call.answered_at,
        )
