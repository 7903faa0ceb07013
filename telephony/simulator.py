"""Telephony simulator: a hotline's inbound calls as normalised call events, for development and the demo.

``CallScenarios.plan(start, rng, floor)`` is pure and seedable (no clock, threads or I/O): it returns
one call's timeline, ``[(offset_seconds, event), ...]``, shaped like the Asterisk adapter's output: a
``CallRinging`` without operator when the call joins the queue, one per operator extension rung,
``CallAnswered``, and exactly one self-contained ``CallEnded``, always last. ``hold_seconds`` is the
time from joining the queue to being answered or leaving it (Asterisk's HoldTime), ``talk_seconds``
the connected time. ``Floor`` is the state it reads and updates: when each operator is busy (from
the first ring until the call's end) and who called lately. Calls are planned in start-time order.

The mix during operator hours (constructor parameters of ``CallScenarios``, defaults in brackets;
hours [08:00-20:00] in the given time zone, ``hours=None`` = always staffed):

* answered [0.80]: waits 2-25 s in the queue (15 % of calls: 25-60 s), then a free operator's
  phone rings 3-12 s. In ``second_operator`` [0.15] of them the first operator rung does not pick
  up within the queue's 15 s ring timeout and another is rung 5 s later. Talk time is lognormal,
  median 3 min, clipped to 20 s-20 min. When no operator is free the caller keeps waiting; one
  still waiting at the end of their patience hangs up (abandoned) or, at the 120 s queue timeout,
  is missed. So an understaffed floor (few operators, high rate) shifts the mix, as it would.
* abandoned [0.12]: hangs up while queued after 5-90 s; no phone rung.
* missed [0.03]: the queue rings up to three free operators in turn, nobody answers, the call
  times out at 120 s.
* voicemail [0.05]: leaves the queue for voicemail after 10-60 s and records 10-60 s
  (``VoicemailRecorded`` with a recording URL, then ``CallEnded`` "voicemail").
* outside operator hours every call goes straight to voicemail (no queue, hold 0).

Callers: ``known_callers`` [0.70] a resident number from ``callers``; ``repeat_callers`` [0.10]
someone whose call ended within the past hour (three times as likely if it was not answered), so
the repeat-call KPI is non-zero; the rest random mainland mobiles (+86 1[3-9]x ...).

``CallSimulator`` runs it live: a daemon thread starts calls as a Poisson process at
``calls_per_minute`` and calls ``sink(event)`` at each event's time, from that one thread, in
order; a sink that raises is logged and the simulator carries on. ``speed`` compresses time: at 10,
a real minute is ten simulated minutes (rate and durations are in simulated time) and events carry
simulated times, which run ahead of the wall clock. Tests drive it without sleeping through
``step(now)``/``run_for(seconds)``. ``telephony.simulator_http`` posts the events to a running
server (``sanshe simulate-calls``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.calls.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    Disposition,
    EventSink,
    VoicemailRecorded,
)

__all__ = [
    "CallScenarios",
    "CallSimulator",
    "Floor",
    "SimulatedCall",
    "from_database",
    "load_directory",
]

log = logging.getLogger(__name__)

SOURCE = "simulator"
DEFAULT_HOURS = (time(8), time(20))
NO_ANSWER_SECONDS = 15.0  # the queue's ring timeout per operator (queues.conf ``timeout``)
RETRY_SECONDS = 5.0  # pause before the queue rings the next operator (queues.conf ``retry``)
_MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 173)
_MOBILE_PREFIXES += (175, 176, 177, 178, *range(180, 190), 191, 198, 199)


@dataclass(frozen=True)
class SimulatedCall:
    call_id: str
    caller: str
    started_at: datetime
    timeline: tuple[tuple[float, CallEvent], ...]

    @property
    def ended(self) -> CallEnded:
        event = self.timeline[-1][1]
        assert isinstance(event, CallEnded)
        return event

    @property
    def disposition(self) -> Disposition:
        return self.ended.disposition


@dataclass
class Floor:
    """Operators' bookings (``[start, end)`` per extension) and recently ended calls."""

    operators: tuple[str, ...]
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    recent: deque[tuple[datetime, str, bool]] = field(default_factory=deque)  # (ended, caller, answered)

    @classmethod
    def of(cls, operators: Iterable[str]) -> Floor:
        ops = tuple(dict.fromkeys(op for op in operators if op))
        return cls(ops, {op: [] for op in ops})

    def is_free(self, ext: str, start: datetime, end: datetime) -> bool:
        return all(not (b_start < end and start < b_end) for b_start, b_end in self.busy[ext])

    def free(self, start: datetime, end: datetime, exclude: str | None = None) -> list[str]:
        return [op for op in self.operators if op != exclude and self.is_free(op, start, end)]

    def book(self, ext: str, start: datetime, end: datetime) -> None:
        self.busy[ext].append((start, end))

    def releases(self, after: datetime, before: datetime) -> list[datetime]:
        return sorted({end for slots in self.busy.values() for _, end in slots if after < end < before})

    def forget_before(self, moment: datetime) -> None:
        for ext, slots in self.busy.items():
            self.busy[ext] = [slot for slot in slots if slot[1] > moment]


class _Timeline:
    """Collects one call's events; ``end`` adds the CallEnded with durations taken from the offsets."""

    def __init__(self, call_id: str, caller: str, callee: str, queue: str | None, start: datetime) -> None:
        self.call_id, self.caller, self.callee, self.queue, self.start = call_id, caller, callee, queue, start
        self.events: list[tuple[float, CallEvent]] = []

    def at(self, offset: float) -> datetime:
        return self.start + timedelta(seconds=offset)

    def ring(self, offset: float, ext: str | None) -> None:
        event = CallRinging(self.call_id, SOURCE, self.caller, self.callee, self.queue, ext, self.at(offset))
        self.events.append((offset, event))

    def add(self, offset: float, event: CallEvent) -> None:
        self.events.append((offset, event))

    def end(
        self,
        offset: float,
        disposition: Disposition,
        *,
        hold: float,
        answered: float | None = None,
        ext: str | None = None,
    ) -> SimulatedCall:
        talk = round(offset - answered) if answered is not None else 0
        ended = CallEnded(
            self.call_id,
            SOURCE,
            self.at(offset),
            disposition,
            round(hold),
            talk,
            self.caller,
            self.queue,
            ext,
            self.start,
            self.at(answered) if answered is not None else None,
        )
        self.events.append((offset, ended))
        return SimulatedCall(self.call_id, self.caller, self.start, tuple(self.events))


class CallScenarios:
    """Plans calls; see the module docstring for the mix. Proportions of the four outcomes must add
    up to 1; ``known_callers + repeat_callers`` must not exceed 1."""

    def __init__(
        self,
        *,
        callers: Sequence[str] = (),
        answered: float = 0.80,
        abandoned: float = 0.12,
        missed: float = 0.03,
        voicemail: float = 0.05,
        known_callers: float = 0.70,
        repeat_callers: float = 0.10,
        second_operator: float = 0.15,
        hours: tuple[time, time] | None = DEFAULT_HOURS,
        timezone: str | tzinfo = "Asia/Shanghai",
        queue: str = "hotline",
        callee: str = "12345",
        queue_timeout_seconds: float = 120.0,
        recording_base_url: str = "https://pbx.example.invalid/recordings",
        id_prefix: str | None = None,
    ) -> None:
        mix = {"answered": answered, "abandoned": abandoned, "missed": missed, "voicemail": voicemail}
        shares = [*mix.values(), known_callers, repeat_callers, second_operator]
        if any(not 0 <= share <= 1 for share in shares):
            raise ValueError("proportions must be between 0 and 1")
        if not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
            raise ValueError(f"answered + abandoned + missed + voicemail must be 1, not {sum(mix.values())}")
        if known_callers + repeat_callers > 1 + 1e-9:
            raise ValueError("known_callers + repeat_callers must not exceed 1")
        self.mix = mix
        self.callers = tuple(callers)
        self.known_callers, self.repeat_callers = known_callers, repeat_callers
        self.second_operator = second_operator
        self.hours = hours
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.queue, self.callee = queue, callee
        self.timeout = queue_timeout_seconds
        self.recording_base_url = recording_base_url.rstrip("/")
        self.id_prefix = id_prefix if id_prefix is not None else uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)

    def in_hours(self, moment: datetime) -> bool:
        if self.hours is None:
            return True
        opens, closes = self.hours
        local = moment.astimezone(self.tz).time()
        if opens < closes:
            return opens <= local < closes
        return local >= opens or local < closes  # hours across midnight (or equal: always open)

    def plan(self, start: datetime, rng: random.Random, floor: Floor) -> SimulatedCall:
        """One call starting at ``start`` (aware); books its operators in ``floor``."""
        floor.forget_before(start)
        while floor.recent and floor.recent[0][0] < start - timedelta(hours=1):
            floor.recent.popleft()
        caller = self._caller(start, rng, floor)
        call_id = f"sim-{self.id_prefix}-{next(self._numbers)}"
        if not self.in_hours(start):
            call = self._voicemail(_Timeline(call_id, caller, self.callee, None, start), rng, queued=False)
        else:
            line = _Timeline(call_id, caller, self.callee, self.queue, start)
            line.ring(0.0, None)
            kind = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
            call = getattr(self, f"_{kind}")(line, rng, floor)
        ended = call.ended
        # Kept in end order (calls overlap), so the oldest is at the left for the pruning above.
        entry = (ended.at, caller, ended.disposition == "answered")
        index = len(floor.recent)
        while index and floor.recent[index - 1][0] > ended.at:
            index -= 1
        floor.recent.insert(index, entry)
        return call

    # --- callers ----------------------------------------------------------------------------

    def _caller(self, start: datetime, rng: random.Random, floor: Floor) -> str:
        roll = rng.random()
        if roll < self.repeat_callers:
            recent = [(caller, answered) for ended, caller, answered in floor.recent if ended <= start]
            if recent:
                weights = [1 if answered else 3 for _, answered in recent]
                return rng.choices(recent, weights=weights)[0][0]
        if roll < self.repeat_callers + self.known_callers and self.callers:
            return rng.choice(self.callers)
        return f"+86{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"

    # --- outcomes ---------------------------------------------------------------------------

    def _answered(self, line: _Timeline, rng: random.Random, floor: Floor) -> SimulatedCall:
        wait = rng.uniform(2, 25) if rng.random() < 0.85 else rng.uniform(25, 60)
        ring = rng.uniform(3, 12)
        talk = min(1200.0, max(20.0, rng.lognormvariate(math.log(180), 0.6)))
        patience = rng.uniform(wait + 5, self.timeout - 1) if rng.random() < 0.6 else self.timeout
        second = rng.random() < self.second_operator
        # Patience bounds the wait for a free phone; once one rings the caller holds on (to the timeout).
        gives_up, timeout = line.at(min(patience, self.timeout)), line.at(self.timeout)
        first_ring = line.at(wait)
        for t in [first_ring, *floor.releases(first_ring, gives_up)]:
            legs = self._legs(floor, t, ring, talk, second, rng)
            if legs is not None and legs[-1][0] + timedelta(seconds=ring) <= timeout:
                break
        else:
            if patience < self.timeout:
                return line.end(patience, "abandoned", hold=patience)
            return line.end(self.timeout, "missed", hold=self.timeout)
        for ring_at, ext, until in legs:
            floor.book(ext, ring_at, until)
            line.ring((ring_at - line.start).total_seconds(), ext)
        ext = legs[-1][1]
        answered = (legs[-1][0] - line.start).total_seconds() + ring
        line.add(answered, CallAnswered(line.call_id, SOURCE, ext, line.at(answered)))
        return line.end(answered + talk, "answered", hold=answered, answered=answered, ext=ext)

    @staticmethod
    def _legs(
        floor: Floor, t: datetime, ring: float, talk: float, second: bool, rng: random.Random
    ) -> list[tuple[datetime, str, datetime]] | None:
        """(ring start, extension, busy until) for each phone rung from ``t``, the answerer last."""
        legs: list[tuple[datetime, str, datetime]] = []
        if second:
            no_answer_end = t + timedelta(seconds=NO_ANSWER_SECONDS)
            first = floor.free(t, no_answer_end)
            if first:
                legs.append((t, rng.choice(first), no_answer_end))
        ring_at = legs[0][2] + timedelta(seconds=RETRY_SECONDS) if legs else t
        until = ring_at + timedelta(seconds=ring + talk)
        answerers = floor.free(ring_at, until, exclude=legs[0][1] if legs else None)
        if not answerers:
            if not legs:
                return None
            return CallScenarios._legs(floor, t, ring, talk, False, rng)
        return [*legs, (ring_at, rng.choice(answerers), until)]

    def _abandoned(self, line: _Timeline, rng: random.Random, floor: Floor) -> SimulatedCall:
        waited = rng.uniform(5, 90)
        return line.end(waited, "abandoned", hold=waited)

    def _missed(self, line: _Timeline, rng: random.Random, floor: Floor) -> SimulatedCall:
        t, last, rung = rng.uniform(2, 25), None, 0
        while rung < 3 and t + NO_ANSWER_SECONDS <= self.timeout:
            start, end = line.at(t), line.at(t + NO_ANSWER_SECONDS)
            free = floor.free(start, end, exclude=last)
            if free:
                last, rung = rng.choice(free), rung + 1
                floor.book(last, start, end)
                line.ring(t, last)
                t += NO_ANSWER_SECONDS
            t += RETRY_SECONDS
        return line.end(self.timeout, "missed", hold=self.timeout)

    def _voicemail(
        self, line: _Timeline, rng: random.Random, floor: Floor | None = None, *, queued: bool = True
    ) -> SimulatedCall:
        if queued:
            hold = rng.uniform(10, 60)
        else:
            hold = 0.0
            line.ring(0.0, None)
        recorded = hold + rng.uniform(5, 10) + rng.uniform(10, 60)  # greeting, then the message
        url = f"{self.recording_base_url}/{line.start:%Y/%m/%d}/{line.call_id}.wav"
        line.add(recorded, VoicemailRecorded(line.call_id, SOURCE, url, line.caller, line.at(recorded)))
        return line.end(recorded, "voicemail", hold=hold)


class CallSimulator:
    """A daemon thread playing ``CallScenarios`` in (compressed) real time; see the module docstring."""

    def __init__(
        self,
        sink: EventSink,
        *,
        operators: Iterable[str],
        callers: Sequence[str] = (),
        calls_per_minute: float,
        seed: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hours: tuple[time, time] | None = DEFAULT_HOURS,
        timezone: str | tzinfo = "Asia/Shanghai",
        speed: float = 1.0,
        scenarios: CallScenarios | None = None,
    ) -> None:
        if calls_per_minute <= 0:
            raise ValueError("calls_per_minute must be positive")
        self._sink = sink
        self._clock = clock
        self.calls_per_minute = calls_per_minute
        self.scenarios = scenarios or CallScenarios(callers=callers, hours=hours, timezone=timezone)
        self.floor = Floor.of(operators)
        self.calls_started = 0
        self._rng = random.Random(seed)
        self._pending: list[tuple[datetime, int, CallEvent]] = []
        self._order = itertools.count()
        self._next_arrival: datetime | None = None
        self._accepting = True
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._speed = 1.0
        self._anchor = (clock(), clock())  # (wall, simulated) at the last speed change
        self.speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("speed must be positive")
        with self._lock:
            wall = self._clock()
            self._anchor = (wall, self._simulated(wall))
            self._speed = value

    def now(self) -> datetime:
        """Simulated time: the wall clock, compressed by ``speed`` since the simulator started."""
        return self._simulated(self._clock())

    def _simulated(self, wall: datetime) -> datetime:
        wall0, sim0 = self._anchor
        return sim0 + (wall - wall0) * self._speed

    @property
    def calls_in_progress(self) -> int:
        with self._lock:
            return len({event.call_id for _, _, event in self._pending if isinstance(event, CallEnded)})

    def step(self, now: datetime) -> list[CallEvent]:
        """Start the calls due by simulated time ``now`` and emit every event due by then, in order."""
        with self._lock:
            self._first_arrival_after(now)
            while self._accepting and self._next_arrival is not None and self._next_arrival <= now:
                call = self.scenarios.plan(self._next_arrival, self._rng, self.floor)
                self.calls_started += 1
                for _, event in call.timeline:
                    heapq.heappush(self._pending, (event.at, next(self._order), event))
                self._next_arrival += self._gap()
            due = []
            while self._pending and self._pending[0][0] <= now:
                due.append(heapq.heappop(self._pending)[2])
            if not self._accepting and not self._pending:
                self._idle.set()
        for event in due:
            try:
                self._sink(event)
            except Exception:
                log.exception(
                    "simulator: the sink failed on %s of call %s",
                    type(event).__name__,
                    getattr(event, "call_id", "?"),
                )
        return due

    def run_for(self, seconds: float) -> list[CallEvent]:
        """Advance simulated time by ``seconds`` at once, without sleeping (tests, batch runs)."""
        with self._lock:
            wall = self._clock()
            current = self._simulated(wall)
            self._first_arrival_after(current)
            target = current + timedelta(seconds=seconds)
            self._anchor = (wall, target)
        return self.step(target)

    def next_due(self) -> datetime | None:
        with self._lock:
            times = [self._pending[0][0]] if self._pending else []
            if self._accepting and self._next_arrival is not None:
                times.append(self._next_arrival)
            return min(times, default=None)

    def _first_arrival_after(self, now: datetime) -> None:
        if self._next_arrival is None and self._accepting:
            self._next_arrival = now + self._gap()

    def _gap(self) -> timedelta:
        return timedelta(seconds=self._rng.expovariate(self.calls_per_minute / 60))

    # --- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._next_arrival is None:  # simulated time starts now, at the wall clock
                wall = self._clock()
                self._anchor = (wall, wall)
                self._first_arrival_after(wall)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="call-simulator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop at once (calls in progress are dropped); True when the thread has ended."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def drain(self) -> None:
        """Start no new calls; the calls in progress still play out."""
        with self._lock:
            self._accepting = False
            if not self._pending:
                self._idle.set()

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """After ``drain()``: wait up to ``timeout`` real seconds for the last call to end."""
        return self._idle.wait(timeout)

    def finish(self, timeout: float | None = None) -> bool:
        """``drain()``, wait for the calls in progress (up to ``timeout``), stop. True when every
        started call has ended."""
        self.drain()
        running = self._thread is not None and self._thread.is_alive()
        done = self.wait_until_idle(timeout) if running else self._idle.is_set()
        self.stop()
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step(self.now())
                due = self.next_due()
                wait = 1.0 if due is None else (due - self.now()).total_seconds() / self._speed
            except Exception:  # a bug here must not end the demo silently
                log.exception("simulator: step failed")
                wait = 1.0
            self._stop.wait(min(max(wait, 0.0), 1.0))


# --- wiring: the database and the HTTP ingest endpoint -------------------------------------------


def load_directory(session: Any, *, max_callers: int = 20_000) -> tuple[list[str], list[str]]:
    """(extensions of active operators, resident phone numbers in E.164) from the database."""
    from sqlalchemy import select

    from models import ResidentPhone, Role, User

    operators = session.scalars(
        select(User.extension)
        .where(User.active.is_(True), User.role == Role.OPERATOR, User.extension.is_not(None))
        .order_by(User.extension)
    ).all()
    callers = session.scalars(select(ResidentPhone.e164).order_by(ResidentPhone.id).limit(max_callers)).all()
    return [ext for ext in operators if ext], list(callers)


def from_database(
    session: Any, sink: EventSink, *, calls_per_minute: float, max_callers: int = 20_000, **kwargs: Any
) -> CallSimulator:
    """A simulator ringing the database's operators with its residents' numbers as known callers."""
    operators, callers = load_directory(session, max_callers=max_callers)
    return CallSimulator(
        sink, operators=operators, callers=callers, calls_per_minute=calls_per_minute, **kwargs
    )
