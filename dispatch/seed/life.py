"""One order's life in the demo history, cut off at ``now``.

An order goes through the real lifecycle (create → offer → decline/expire/accept → check-in →
complete → callback → close, with cancellations and reopenings) with timestamps drawn from
plausible delays. Any step that would happen after ``now`` does not happen, and the life stops
there, so the most recent orders are left received, offered (with a pending offer), accepted, in
service or awaiting their callback, as a live system would hold them. Statuses follow the
lifecycle table (see ``draft``); deadlines, offer windows, callbacks and escalation follow the
product's time limits (see ``timing``); delays and choices are the simulation's own.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from dispatch.geo.coords import haversine_km
from dispatch.orders.lifecycle import SATISFACTION
from dispatch.orders.state import Action
from dispatch.seed import texts
from dispatch.seed.choosing import Chooser, Pick
from dispatch.seed.district import offset
from dispatch.seed.draft import SYSTEM, Actor, Draft, reset_service_columns
from dispatch.seed.timing import REMIND_BEFORE, TZ, TimeRules, daytime, minutes
from dispatch.timelimits.deadlines import auto_close_at, callback_due, ladder, order_deadlines
from models import OPEN_STATUSES, Channel, OfferStatus, OrderStatus, RatingOutcome, Supervision

S = OrderStatus
# The notes the product writes for these callback outcomes (orders/lifecycle.rate, tracking/jobs).
UNREACHABLE_NOTE = "回访未接通"
DECLINED_NOTE = "拒绝评价"
AUTO_CLOSE_NOTE = "回访期满，未获评价，自动归档"
BATCH_HOURS = (9, 14)
RETURNS = (0, 1, 2, 3)
RETURN_WEIGHTS = (78, 15, 5, 2)


class Life:
    def __init__(
        self, rng: random.Random, now: datetime, users: dict[str, int], chooser: Chooser, rules: TimeRules
    ) -> None:
        self.rng, self.now, self.users, self.chooser = rng, now, users, chooser
        self.rules, self.calendar = rules, rules.calendar

    def _operator(self) -> tuple[str, int]:
        name = self.rng.choice(("operator1", "operator2"))
        return f"operator:{name}", self.users[name]

    def live(self, o: Draft) -> None:
        rng, t = self.rng, o.created_at
        data = {
            "channel": o.cols["channel"].value,
            "item_code": o.item.code,
            "priority": o.cols["priority"].value,
        }
        o.create(data)
        direct = o.cols["channel"] != Channel.VISIT and (
            (o.item.sla == "consult" and rng.random() < 0.85)
            or (not o.item.home_visit and rng.random() < 0.35)
        )
        if direct:
            t += minutes(rng, 1, 6)
            note = rng.choice(texts.DIRECT_NOTES)
            actor = o.creator if o.creator[1] is not None else self._operator()
            if o.step(t, Action.COMPLETE_DIRECT, actor=actor, note=note):
                o.cols.update(completed_at=t, completion_note=note)
                self._callback(o, t)
        else:
            self._serve(o, t)
        self.chooser.settle(o)
        self._finish(o)

    def _finish(self, o: Draft) -> None:
        """Attributes that follow from where the life stopped: overdue, supervision, next check."""
        cols, now = o.cols, self.now
        deadline, done = cols["complete_by"], cols["completed_at"]
        open_ = o.status in OPEN_STATUSES
        # The product's escalation ladder, from when the order's clock last started (a reopening
        # starts it afresh): yellow at the deadline, red at twice a wall-clock limit or one
        # working day after a working-day deadline.
        start = o.clock_start or o.created_at
        steps = ladder(start, deadline, o.limits.clock, self.calendar, remind_before=REMIND_BEFORE)
        reached = done if done is not None else now if open_ else None  # how far its clock ran
        cols["status"] = o.status
        cols["overdue"], cols["supervision"] = False, Supervision.NONE
        if reached is not None and reached > deadline:
            cols["overdue"] = True
            cols["supervision"] = Supervision.RED if reached >= steps.red_at else Supervision.YELLOW
        upcoming: list[datetime] = []
        if o.status in (S.RECEIVED, S.OFFERED):
            pending = [f["sign_by"] for f in o.offers if f["status"] == OfferStatus.PENDING]
            upcoming += pending or ([cols["sign_by"]] if cols["sign_by"] else [])
        if open_:
            upcoming += [t for t in (steps.remind_at, steps.yellow_at, steps.red_at) if t is not None]
        if o.status == S.COMPLETED and done is not None:
            upcoming += [cols["callback_due_at"], auto_close_at(done, self.calendar)]
        future = [t for t in upcoming if t > now]
        cols["next_check_at"] = min(future) if future else (now if open_ or o.status == S.COMPLETED else None)

    def _serve(self, o: Draft, t: datetime, previous: int | None = None) -> None:
        rng = self.rng
        cancel = rng.choice(("received", "received", "offered", "accepted")) if rng.random() < 0.035 else None
        if cancel == "received":
            self._cancel(o, t + minutes(rng, 10, 240))
            return
        returns = rng.choices(RETURNS, weights=RETURN_WEIGHTS)[0]
        excluded = {previous} if previous is not None and rng.random() < 0.5 else set()
        for attempt in range(returns + 1):
            actor, mode, t = self._dispatcher(o, t, attempt)
            pick = self.chooser.pick(o, t, excluded)
            if pick is None:  # everyone who serves it is full: a supervisor has to step in
                o.cols["supervisor_queue_reason"] = "无可派单位（均已满负荷）"
                return
            if not self._offer(o, t, pick, mode, actor):
                return
            o.cols["supervisor_queue_reason"] = None
            offer = o.offers[-1]
            window = offer["sign_by"] - t
            if attempt < returns:
                if rng.random() < 0.06:  # a supervisor takes the offer back to give it to someone else
                    wt = t + min(window * 0.5, minutes(rng, 5, 60))
                    reason = rng.choice(texts.WITHDRAW_REASONS)
                    supervisor = ("supervisor:supervisor", self.users["supervisor"])
                    if not o.step(wt, Action.WITHDRAW, actor=supervisor, note=reason):
                        return
                    offer.update(status=OfferStatus.WITHDRAWN, responded_at=wt, reason=reason)
                    excluded.add(pick.provider.id)  # not a return: the seed simply picks another
                    t = wt
                    continue
                if rng.random() < 0.7:
                    rt = t + min(window * 0.9, minutes(rng, 2, 90))
                    reason = rng.choice(texts.DECLINE_REASONS)
                    ok = o.step(
                        rt,
                        Action.DECLINE,
                        actor=(f"provider:{pick.provider.id}", None),
                        note=reason,
                    )
                    outcome = OfferStatus.DECLINED
                else:
                    rt, reason, outcome = t + window, "超时未签收", OfferStatus.EXPIRED
                    ok = o.step(rt, Action.EXPIRE, note=reason)
                if not ok:
                    return
                offer.update(status=outcome, responded_at=rt, reason=reason)
                o.cols["return_count"] += 1
                excluded.add(pick.provider.id)
                t = rt
                continue
            if cancel == "offered":
                ct = t + min(window * 0.8, minutes(rng, 5, 60))
                if self._cancel(o, ct):
                    offer.update(status=OfferStatus.WITHDRAWN, responded_at=ct, reason="工单已撤销")
                return
            t = t + min(window * 0.95, self._accept_delay(o.sla))
            if not o.step(t, Action.ACCEPT, actor=(f"provider:{pick.provider.id}", None)):
                return
            offer.update(status=OfferStatus.ACCEPTED, responded_at=t)
            o.cols.update(provider_id=pick.provider.id, worker_id=pick.worker_id, accepted_at=t)
        if cancel == "accepted":
            self._cancel(o, t + minutes(rng, 30, 240))
            return
        self._work(o, t)

    def _dispatcher(self, o: Draft, t: datetime, attempt: int) -> tuple[Actor, str, datetime]:
        """Who offers the order next, how, and when."""
        rng = self.rng
        if attempt == 3:  # three returns: no more auto-dispatch, it waits in the supervisor's queue
            o.cols["supervisor_queue_reason"] = "退单3次，转督办人工派单"
            return ("supervisor:supervisor", self.users["supervisor"]), "manual", t + minutes(rng, 20, 180)
        if attempt == 0 and o.sla == "normal" and rng.random() < 0.2:
            return ("supervisor:supervisor", self.users["supervisor"]), "batch", self._next_batch(t)
        unhurried = o.sla in ("normal", "consult")
        if attempt == 0 and unhurried and rng.random() < 0.08:  # the operator checks details first
            return self._operator(), "manual", t + minutes(rng, 30, 240)
        if rng.random() < 0.15:
            return self._operator(), "manual", t + (minutes(rng, 3, 30) if unhurried else minutes(rng, 1, 5))
        t += minutes(rng, 0.2, 5)
        # Unhurried orders taken at night wait for the providers' morning.
        return SYSTEM, "auto", daytime(t, rng, start=8, end=21) if unhurried else t

    def _next_batch(self, t: datetime) -> datetime:
        """Unhurried orders are batch-assigned at 09:00 and 14:00 local time."""
        local = t.astimezone(TZ)
        for day in range(3):
            for hour in BATCH_HOURS:
                slot = (local + timedelta(days=day)).replace(
                    hour=hour, minute=0, second=self.rng.randrange(5, 60)
                )
                if slot > local:
                    return slot.astimezone(t.tzinfo)
        raise AssertionError("unreachable: there is always a batch within three days")

    def _accept_delay(self, sla: str) -> timedelta:
        rng = self.rng
        if sla == "urgent":
            return minutes(rng, 1, 12)
        if sla == "priority":
            return minutes(rng, 3, 25)
        return minutes(rng, 5, 60) if rng.random() < 0.6 else minutes(rng, 60, 600)

    def _offer(self, o: Draft, t: datetime, pick: Pick, mode: str, actor: Actor) -> bool:
        data = {"provider_id": pick.provider.id, "distance_km": round(pick.distance_km, 2), "mode": mode}
        if not o.step(t, Action.OFFER, actor=actor, data=data):
            return False
        o.offers.append(
            {
                "provider_id": pick.provider.id,
                "status": OfferStatus.PENDING,
                "mode": mode,
                "offered_at": t,
                "sign_by": self.rules.offer_sign_by(t, o.limits),
                "responded_at": None,
                "reason": "",
                "distance_km": round(pick.distance_km, 2),
                "score": pick.score,
                "reasons": pick.reasons,
                "out_of_hours": pick.out_of_hours,
                "offered_by_id": actor[1],
            }
        )
        self.chooser.offered(pick.provider.id, t)
        return True

    def _cancel(self, o: Draft, at: datetime) -> bool:
        reason = self.rng.choice(texts.CANCEL_REASONS)
        if not o.step(at, Action.CANCEL, actor=self._operator(), note=reason):
            return False
        o.cols["cancelled_at"] = at
        return True

    def _work(self, o: Draft, accepted: datetime) -> None:
        """Check in (home visits), complete — on time mostly, late sometimes — then the callback."""
        rng, cols = self.rng, o.cols
        start, deadline = o.clock_start or o.created_at, cols["complete_by"]
        span = deadline - start
        if rng.random() < 0.07:
            target = deadline + span * rng.uniform(0.05, 0.8)
        else:
            target = start + span * rng.betavariate(1.4, 3.5)
        quick = o.sla == "urgent"
        target = max(target, accepted + minutes(rng, 20, 50) if quick else accepted + minutes(rng, 40, 180))
        worker = cols["worker_id"] or cols["provider_id"]
        actor = (f"provider:{worker}", None)
        if o.item.home_visit:
            arrive = accepted + (target - accepted) * rng.uniform(0.25, 0.75)
            if not quick:
                arrive = daytime(arrive, rng)
            far = rng.random() < 0.04
            lat, lon = offset(cols["lat"], cols["lon"], *self._scatter(far))
            metres = round(haversine_km(cols["lat"], cols["lon"], lat, lon) * 1000, 1)
            if not o.step(arrive, Action.CHECK_IN, actor=actor, data={"distance_m": metres}):
                return
            cols.update(
                arrived_at=arrive,
                checkin_lat=lat,
                checkin_lon=lon,
                checkin_distance_m=metres,
                checkin_far=metres > 500,
            )
            target = max(target, arrive + minutes(rng, 15, 120))
        if not quick:
            target = daytime(target, rng)
        note = rng.choice(texts.COMPLETION_NOTES[o.item.category_code])
        if o.step(target, Action.COMPLETE, actor=actor, note=note):
            cols.update(completed_at=target, completion_note=note)
            self._callback(o, target)

    def _scatter(self, far: bool) -> tuple[float, float]:
        r = self.rng.uniform(600, 1500) if far else self.rng.uniform(5, 120)
        return self.rng.choice((-1, 1)) * r * 0.6, self.rng.choice((-1, 1)) * r * 0.8

    def _callback(self, o: Draft, completed: datetime) -> None:
        rng, cols = self.rng, o.cols
        due = callback_due(completed, self.calendar)
        auto_close = auto_close_at(completed, self.calendar)
        cols["callback_due_at"] = due
        roll = rng.random()
        provider = cols["provider_id"]
        if roll < 0.72:
            if rng.random() < 0.25:
                at, channel, actor = (
                    completed + minutes(rng, 5, 120),
                    "sms",
                    (f"sms:{cols['caller_phone']}", None),
                )
            else:
                at = daytime(completed + (due - completed) * rng.uniform(0.1, 0.9), rng, start=9)
                channel, actor = "phone", self._operator()
            stars = self.chooser.stars(provider, late=completed > cols["complete_by"])
            comment = rng.choice(texts.RATING_COMMENTS[stars])
            # A rating closes the completed order: one close event, as orders/lifecycle.rate writes it.
            note = f"{SATISFACTION[stars]} {comment}".strip()
            if not self._close(o, at, actor, note, data={"stars": stars}):
                return
            self._rating(o, at, RatingOutcome.RATED, stars, comment, channel, actor[1])
            cols["rating_stars"] = stars
            if stars <= 2 and cols["reopen_count"] == 0 and rng.random() < 0.6:
                self._reopen(o, at + minutes(rng, 10, 1200))
        elif roll < 0.87:
            at = daytime(completed + (due - completed) * rng.uniform(0.2, 0.9), rng, start=9)
            actor = self._operator()
            # Nobody answered: the order stays completed until the callback window closes it.
            data = {"stars": None, "outcome": RatingOutcome.UNREACHABLE.value}
            if o.record(at, "rate", actor=actor, note=UNREACHABLE_NOTE, data=data):
                self._rating(o, at, RatingOutcome.UNREACHABLE, None, "", "phone", actor[1])
                self._close(o, auto_close, SYSTEM, AUTO_CLOSE_NOTE)
        elif roll < 0.91:
            at = daytime(completed + (due - completed) * rng.uniform(0.2, 0.9), rng, start=9)
            actor = self._operator()
            if self._close(o, at, actor, DECLINED_NOTE, data={"stars": None}):
                self._rating(o, at, RatingOutcome.DECLINED, None, "", "phone", actor[1])
        else:
            self._close(o, auto_close, SYSTEM, AUTO_CLOSE_NOTE)

    def _rating(
        self,
        o: Draft,
        at: datetime,
        outcome: RatingOutcome,
        stars: int | None,
        comment: str,
        channel: str,
        by: int | None,
    ) -> None:
        o.ratings.append(
            {
                "provider_id": o.cols["provider_id"],
                "outcome": outcome,
                "stars": stars,
                "comment": comment,
                "channel": channel,
                "recorded_by_id": by,
                "created_at": at,
            }
        )

    def _close(
        self,
        o: Draft,
        at: datetime,
        actor: Actor,
        note: str,
        data: dict[str, Any] | None = None,
    ) -> bool:
        if not o.step(at, Action.CLOSE, actor=actor, note=note, data=data):
            return False
        o.cols["closed_at"] = at
        return True

    def _reopen(self, o: Draft, at: datetime) -> None:
        reason = self.rng.choice(texts.REOPEN_REASONS)
        actor = ("supervisor:supervisor", self.users["supervisor"])
        previous = o.cols["provider_id"]
        if not o.step(at, Action.REOPEN, actor=actor, note=reason):
            return
        reset_service_columns(o)
        o.clock_start = at
        deadlines = order_deadlines(at, o.limits, self.calendar)
        o.cols.update(reopen_count=1, sign_by=deadlines.sign_by, complete_by=deadlines.complete_by)
        self._serve(o, at, previous)
