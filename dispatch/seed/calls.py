"""Simulated telephone calls behind the demo history.

Every phone order gets the call it was taken on; around them: callers who hung up in the queue and
rang again a few minutes later, follow-up calls about an open order (linked to it, and counted as
repeat calls), and calls nobody answered or that went to voicemail at night.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.seed.history import Draft
from dispatch.seed.names import mobile
from dispatch.seed.timing import HOUR_WEIGHTS, TZ
from dispatch.seed.world import ResidentFacts
from models import CallDirection, Channel, Disposition

HOTLINE = "+8657188008000"  # fictional call-centre number
QUEUE = "8000"
SOURCE = "simulator"
EXTENSIONS = {"operator1": "1001", "operator2": "1002"}


@dataclass
class CallDraft:
    cols: dict[str, object]
    orders: list[int] = field(default_factory=list)  # indexes into the order drafts
    id: int | None = None  # once inserted


class CallBuilder:
    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        residents: list[ResidentFacts],
        users: dict[str, int],
        used_phones: set[str],
    ) -> None:
        self.rng, self.now, self.users = rng, now, users
        self.residents = residents
        self.resident_of = {phone: r.id for r in residents for phone in r.phones}
        self.used_phones = used_phones
        self.calls: list[CallDraft] = []
        self.intake: dict[int, CallDraft] = {}  # order index → the call it was taken on

    def _call(
        self,
        caller: str,
        started: datetime,
        *,
        disposition: Disposition,
        ring_s: float = 0.0,
        talk_s: float = 0.0,
        hold_s: int = 0,
        operator: str | None = None,
        orders: list[int] | None = None,
    ) -> CallDraft:
        answered = started + timedelta(seconds=ring_s) if disposition == Disposition.ANSWERED else None
        if answered is not None:
            ended = answered + timedelta(seconds=talk_s + hold_s)
        else:
            ended = started + timedelta(seconds=ring_s)
        cols: dict[str, object] = {
            "source": SOURCE,
            "direction": CallDirection.INBOUND,
            "caller": caller,
            "callee": HOTLINE,
            "queue": QUEUE,
            "operator_ext": EXTENSIONS[operator] if operator else "",
            "operator_id": self.users[operator] if operator and answered is not None else None,
            "resident_id": self.resident_of.get(caller),
            "started_at": started,
            "answered_at": answered,
            "ended_at": ended,
            "hold_seconds": hold_s if answered is not None else 0,
            "talk_seconds": round(talk_s) if answered is not None else 0,
            "disposition": disposition,
            "recording_url": "",
        }
        draft = CallDraft(cols, orders or [])
        self.calls.append(draft)
        return draft

    def _ring(self) -> float:
        return self.rng.uniform(2, 14) if self.rng.random() < 0.85 else self.rng.uniform(15, 45)

    def build(self, orders: list[Draft]) -> list[CallDraft]:
        rng = self.rng
        for index, o in enumerate(orders):
            if o.cols["channel"] != Channel.PHONE:
                continue
            operator = o.creator[0].split(":", 1)[1]
            caller = o.cols["caller_phone"]
            ring = self._ring()
            # The order is saved while the operator is still talking to the caller.
            before, after = rng.uniform(40, 240), rng.uniform(15, 120)
            answered = o.created_at - timedelta(seconds=before)
            hold = 0 if rng.random() < 0.8 else rng.randint(10, 90)
            call = self._call(
                caller,
                answered - timedelta(seconds=ring),
                disposition=Disposition.ANSWERED,
                ring_s=ring,
                talk_s=before + after,
                hold_s=hold,
                operator=operator,
                orders=[index],
            )
            self.intake[index] = call
            if rng.random() < 0.05:  # hung up in the queue first, rang back a few minutes later
                self._call(
                    caller,
                    answered - timedelta(minutes=rng.uniform(2, 15)),
                    disposition=Disposition.ABANDONED,
                    ring_s=rng.uniform(8, 60),
                )
            self._follow_up(o, index, caller)
        self._unanswered(len(orders))
        self.calls.sort(key=lambda c: (c.cols["started_at"], c.cols["caller"]))
        for n, call in enumerate(self.calls, start=1):
            call.cols["external_id"] = f"sim-{n}"
        return self.calls

    def _follow_up(self, o: Draft, index: int, caller: str) -> None:
        """Some residents ring again to ask how their order is getting on (a repeat call)."""
        rng = self.rng
        if rng.random() >= 0.12:
            return
        at = o.created_at + timedelta(hours=rng.uniform(2, 30))
        settled = o.cols["completed_at"] or o.cols["cancelled_at"] or self.now
        if at >= settled or at > self.now - timedelta(minutes=5):
            return
        self._call(
            caller,
            at,
            disposition=Disposition.ANSWERED,
            ring_s=self._ring(),
            talk_s=rng.uniform(40, 180),
            operator=rng.choice(tuple(EXTENSIONS)),
            orders=[index],
        )

    def _unanswered(self, order_count: int) -> None:
        """Calls that never became an order: abandoned in the queue, missed, voicemail at night."""
        rng = self.rng
        days = 90
        for _ in range(int(order_count * 0.09)):
            roll = rng.random()
            disposition = (
                Disposition.ABANDONED
                if roll < 0.65
                else Disposition.MISSED
                if roll < 0.88
                else Disposition.VOICEMAIL
            )
            day = self.now - timedelta(days=rng.uniform(0.2, days))
            local = day.astimezone(TZ)
            if disposition == Disposition.VOICEMAIL:
                hour = rng.choice((22, 23, 0, 1, 5, 6))
            else:
                hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            started = local.replace(hour=hour, minute=rng.randrange(60)).astimezone(self.now.tzinfo)
            if started > self.now - timedelta(minutes=5):
                continue
            caller = (
                rng.choice(self.residents).phones[0] if rng.random() < 0.8 else mobile(rng, self.used_phones)
            )
            ring = rng.uniform(5, 60) if disposition == Disposition.ABANDONED else rng.uniform(60, 120)
            call = self._call(caller, started, disposition=disposition, ring_s=ring)
            if disposition == Disposition.VOICEMAIL:
                call.cols["recording_url"] = f"/recordings/{started:%Y%m%d%H%M%S}.wav"
                call.cols["ended_at"] = started + timedelta(seconds=ring + rng.uniform(10, 50))
            elif disposition == Disposition.MISSED:
                call.cols["operator_ext"] = EXTENSIONS[rng.choice(tuple(EXTENSIONS))]
