"""The running server's telephony sink: stores call events and pops operators' screens.

Adapters call ``ingest(event)`` from their own threads and never wait for the database. Events
posted to ``POST /api/v1/telephony/events`` arrive differently: the request stores them in the
call event inbox (``calls.inbox``) and commits before answering 202, then calls
``accepted(event)``. Three worker threads take it from there:

* the *pop* worker: when an operator's extension starts ringing, it builds the screen pop
  (caller's resident profile, open orders, recent calls) from a read-only session, which on
  SQLite waits for no writer, and publishes it to that operator's stream. It has its own queue,
  so a pop never waits behind the writes of earlier events (under write load the store queue can
  be seconds long; the pop must arrive while the phone rings);
* the *store* worker, in arrival order: stores the event (``recorder.record_event``) in its own
  transaction, then publishes a ``call`` update (the call as ``GET /api/v1/calls`` shows it) to
  the operator concerned and to supervisors. It also records each pop that showed a resident in
  the access trail (``dispatch.audit``): a write, so never in the pop worker, which must not wait
  for SQLite's writer;
* the *inbox* worker: handles the inbox's due rows oldest first, each in one transaction with
  its effects (see ``calls.inbox``). ``accepted`` wakes it at once; it also looks every
  ``poll_seconds`` (rows left by a process that died, rows waiting for a retry) and at start.

An adapter's events (Asterisk, the simulator) stay in memory: a restart loses what was queued,
and the AMI adapter's ``CoreShowChannels`` resync on (re)connect makes up for it.

A failure in one event is logged and the worker carries on with the next; the adapters' own
idempotency (and the recorder's) make a later replay of the same call safe.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit.service import Access, Reader, record
from dispatch.auth.users import CALL_TAKING_ROLES
from dispatch.calls import callbacks, inbox
from dispatch.calls.callbacks import CallbackRules
from dispatch.calls.events import CallEvent, CallRinging, SmsReceived, event_to_dict
from dispatch.calls.recorder import find_call, operator_for_extension, record_event
from dispatch.calls.views import callback_out
from dispatch.db import read_only, transaction
from dispatch.live.bus import EventBus
from dispatch.residents import repository
from dispatch.residents.phones import national, try_normalise
from dispatch.residents.privacy import mask_phone
from dispatch.residents.profile import resident_detail
from models import Call, CallDirection
from models.base import utcnow

log = logging.getLogger(__name__)

SUPERVISORS = "role:supervisor"
_STOP = object()


@dataclass(frozen=True)
class PopShown:
    """A screen pop that showed a resident's profile to an operator: to record in the access trail."""

    reader: Reader
    resident_id: int
    event: CallRinging


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def call_out(call: Call, *, with_orders: bool = True, region: str = "CN") -> dict[str, Any]:
    """A call as ``GET /api/v1/calls`` lists it (the contract's fields, then extras).

    The resident's number — the caller of an inbound call, the callee of an outbound one — is
    masked for everyone (``caller_national``/``callee_national``; ``caller``/``callee`` null):
    ``POST /api/v1/phones/reveal`` shows it, with a reason. The centre's own numbers are shown.

    ``with_orders=False`` leaves the linked orders out (a screen pop's recent calls) rather than
    loading them."""
    orders = sorted(call.orders, key=lambda o: o.id) if with_orders else []
    inbound = call.direction == CallDirection.INBOUND
    return {
        "id": call.id,
        "direction": call.direction.value,
        "caller": None if inbound else call.caller,
        "operator": call.operator_ext or None,
        "queue": call.queue or None,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "hold_seconds": call.hold_seconds,
        "talk_seconds": call.talk_seconds,
        "disposition": call.disposition.value if call.disposition else None,
        "order_ids": [o.id for o in orders],
        "source": call.source,
        "external_id": call.external_id,
        "callee": call.callee if inbound else None,
        "callee_national": "" if inbound or not call.callee else mask_phone(call.callee, region),
        "operator_id": call.operator_id,
        "resident_id": call.resident_id,
        "recording_url": call.recording_url or None,
        "ivr_digits": call.ivr_digits or None,
        "order_numbers": [o.number for o in orders],
        "caller_national": (mask_phone if inbound else national)(call.caller, region) if call.caller else "",
        "outcome": call.outcome,
        "callback_id": call.callback_id,
    }


def screen_pop(session: Session, event: CallRinging, *, region: str) -> dict[str, Any]:
    """What an operator sees while the phone rings: who is calling and what is open for them."""
    e164 = try_normalise(event.caller, region) if event.caller else None
    resident = repository.by_phone(session, e164) if e164 else None
    known = find_call(session, event.source, event.call_id)
    recent: list[dict[str, Any]] = []
    if e164:
        rows = session.scalars(
            select(Call).where(Call.caller == e164).order_by(Call.started_at.desc()).limit(6)
        )
        recent = [
            call_out(c, with_orders=False, region=region)
            for c in rows
            if c.id != (known.id if known else None)
        ][:5]
    # The operator rung hears the caller: the number calling is shown, the resident's others masked.
    profile = (
        resident_detail(session, resident, region=region, shown=e164).model_dump(mode="json")
        if resident
        else None
    )
    waiting = callbacks.open_callback(session, e164) if e164 else None
    return {
        "call": {
            "id": known.id if known else None,
            "source": event.source,
            "external_id": event.call_id,
            "caller": e164 or event.caller,
            "queue": event.queue,
            "operator": event.operator_ext,
            "ringing_at": event.at.isoformat(),
        },
        "resident": profile,
        "open_orders": profile["open_orders"] if profile else [],
        "recent_calls": profile["calls"][:5] if profile else recent,
        "known_caller": resident is not None,
        "open_callback": callback_out(session, [waiting], region=region)[0] if waiting else None,
    }


class CallIngest:
    """``EventSink`` for every telephony adapter in the server (thread-safe, never blocks)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        hub: EventBus,
        *,
        region: str,
        callbacks: CallbackRules | None = None,
        max_attempts: int = 5,
        poll_seconds: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.hub = hub
        self.region = region
        self.callbacks = callbacks
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self._store: queue.Queue[object] = queue.Queue()
        self._pops: queue.Queue[object] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._passes = threading.Condition()
        self._started = 0  # inbox passes begun
        self._finished = 0  # inbox passes ended
        self.handled = 0
        self.failed = 0

    def accepted(self, event: CallEvent) -> None:
        """An event is in the inbox, committed: pop the screen and have the inbox worker store it."""
        if _pops_screen(event):
            self._pops.put(event)
        self._wake.set()

    def wake(self) -> None:
        """Have the inbox worker look now (a row made due again)."""
        self._wake.set()

    def __call__(self, event: CallEvent) -> None:
        if _pops_screen(event):
            self._pops.put(event)
        self._store.put(event)

    def start(self) -> None:
        if any(t.is_alive() for t in self._threads):
            return
        self._threads = [
            threading.Thread(
                target=self._run, args=(self._pops, self._pop_one), name="call-pop", daemon=True
            ),
            threading.Thread(
                target=self._run, args=(self._store, self._store_one), name="call-store", daemon=True
            ),
            threading.Thread(target=self._run_inbox, name="call-inbox", daemon=True),
        ]
        self._stopping.clear()
        self._wake.set()  # rows acknowledged before a restart are handled at once
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Handles what is already queued, then stops."""
        self._pops.put(_STOP)
        self._store.put(_STOP)
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every event queued so far is handled (tests, the CLI)."""
        for q in (self._pops, self._store):
            done = threading.Event()
            q.put(done)
            if not done.wait(timeout):
                raise TimeoutError("call ingest did not catch up")
        with self._passes:
            wanted = self._started + 1  # a pass that begins after every row so far was committed
            self._wake.set()
            if not self._passes.wait_for(lambda: self._finished >= wanted, timeout):
                raise TimeoutError("the call inbox did not catch up")

    def _run(self, q: queue.Queue[object], work: Any) -> None:
        while True:
            item = q.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                work(item)
            except Exception:
                self.failed += 1
                log.exception("call event could not be handled: %r", item)

    def _run_inbox(self) -> None:
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                return
            with self._passes:
                self._started += 1
            try:
                self.process_inbox()
            except Exception:  # the database is unreachable, say: the rows wait, the next pass retries
                log.exception("call inbox: pass failed; next try within %g s", self.poll_seconds)
            finally:
                with self._passes:
                    self._finished += 1
                    self._passes.notify_all()

    def process_inbox(self, *, limit: int | None = None) -> int:
        """Handle due inbox rows one transaction each until none is due; how many were handled."""
        done = 0
        while limit is None or done < limit:
            if self._stopping.is_set():
                break
            published = self._process_one()
            if published is None:
                break
            done += 1
            if published:
                targets, update = published
                self.hub.publish(targets, "call", update)
        return done

    def _process_one(self) -> tuple[list[str], dict[str, Any]] | tuple[()] | None:
        """One due row: None when there is none; the call update to publish after the commit, or
        ``()`` when there is nothing to publish (an SMS, a failed attempt)."""
        now = utcnow()
        with transaction(self.sessions) as session:
            row = inbox.next_due(session, now=now)
            if row is None:
                return None
            try:
                with session.begin_nested():
                    event = inbox.parse(row)
                    call = None
                    if not isinstance(event, SmsReceived):
                        call = record_event(session, event, region=self.region, callbacks=self.callbacks)
                    published: tuple[list[str], dict[str, Any]] | tuple[()] = ()
                    if call is not None:
                        update = call_out(call, region=self.region)
                        update["event"] = row.raw.get("type")
                        targets = [SUPERVISORS] + ([f"user:{call.operator_id}"] if call.operator_id else [])
                        published = (targets, update)
            except Exception as exc:
                self.failed += 1
                gave_up = inbox.attempt_failed(
                    row, f"{type(exc).__name__}: {exc}", now=now, max_attempts=self.max_attempts
                )
                log.warning(
                    "call inbox %s: %s%s", row.id, exc, " — left failed for an admin" if gave_up else ""
                )
                return ()
            inbox.processed(row, now=now)
        self.handled += 1
        return published

    def handle(self, event: CallEvent) -> Call | None:
        """Pop and store one event synchronously, in the calling thread."""
        if _pops_screen(event):
            shown = self.pop(event)  # type: ignore[arg-type]
            if shown is not None:
                self.record_pop(shown)
        return self.store(event)

    def _pop_one(self, event: CallRinging) -> None:
        shown = self.pop(event)
        if shown is not None:
            self._store.put(shown)  # recorded by the writer, after the call itself is stored

    def _store_one(self, item: CallEvent | PopShown) -> None:
        if isinstance(item, PopShown):
            self.record_pop(item)
        else:
            self.store(item)

    def pop(self, event: CallRinging) -> PopShown | None:
        """Publish the screen pop for a ringing extension. Returns what it showed of a resident
        (None: no user has the extension, or the caller is no known resident)."""
        with read_only(self.sessions) as session:
            user = operator_for_extension(session, event.operator_ext)
            # Personal data pops only on a call-taking role's console (the lookup says so too).
            if user is None or user.role not in CALL_TAKING_ROLES:
                return None
            reader = Reader.of(user)
            pop = screen_pop(session, event, region=self.region)
        self.hub.publish([f"user:{reader.id}"], "screen_pop", pop)
        resident = pop["resident"]
        return PopShown(reader, resident["id"], event) if resident else None

    def record_pop(self, shown: PopShown) -> None:
        event = shown.event
        with transaction(self.sessions) as session:
            call = find_call(session, event.source, event.call_id)
            record(
                session,
                shown.reader,
                Access.SCREEN_POP,
                at=event.at,
                resident_id=shown.resident_id,
                reason="来电弹屏：接听居民来电",
                detail=f"call {call.id if call else '?'} ({event.source} {event.call_id}), ext {event.operator_ext}",
            )

    def store(self, event: CallEvent) -> Call | None:
        if isinstance(event, SmsReceived):
            log.info(
                "SMS %s from the telephony adapter ignored: SMS replies arrive by webhook", event.message_id
            )
            return None
        with transaction(self.sessions) as session:
            call = record_event(session, event, region=self.region, callbacks=self.callbacks)
            if call is None:
                return None
            update = call_out(call, region=self.region)
            update["event"] = event_to_dict(event)["type"]
            operator_id = call.operator_id
        targets = [SUPERVISORS] + ([f"user:{operator_id}"] if operator_id else [])
        self.hub.publish(targets, "call", update)
        self.handled += 1
        return call


def _pops_screen(event: CallEvent) -> bool:
    return isinstance(event, CallRinging) and bool(event.operator_ext)
