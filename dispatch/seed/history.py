"""Three months of demo orders: how many a day, at what hours, from whom, about what.

Each order is drafted here and then lived through by ``life.Life``; see there for the lifecycle.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from dispatch.seed import texts
from dispatch.seed.choosing import Chooser
from dispatch.seed.draft import Draft, reset_service_columns
from dispatch.seed.life import Life
from dispatch.seed.timing import HOUR_WEIGHTS, TZ, TimeRules
from dispatch.seed.world import ItemFacts, ProviderFacts, ResidentFacts
from dispatch.timelimits.deadlines import order_deadlines
from models import Channel, Priority

DAYS = 90
HIGH_RISK_TAGS = frozenset({"独居老人", "失能", "残疾", "特困"})
CHANNELS = (Channel.PHONE, Channel.APP, Channel.WEB, Channel.IVR, Channel.SMS, Channel.VISIT)
CHANNEL_WEIGHTS = (70, 8, 5, 6, 4, 7)
CATEGORY_WEIGHTS = {
    "HOME": 20, "ELDER": 17, "PROP": 14, "ERRAND": 10, "HEALTH": 8, "GOV": 9,
    "LEGAL": 6, "ASSIST": 5, "CHILD": 4, "CULTURE": 3, "JOBS": 2, "VOLUN": 2,
}  # fmt: skip
ITEM_WEIGHTS = {
    "HOME-01": 4, "HOME-02": 3, "HOME-03": 2, "HOME-06": 2, "HOME-04": 1.5, "HOME-10": 0.5,
    "ELD-01": 4, "ELD-06": 2.5, "ELD-07": 2, "ELD-03": 2, "ELD-09": 0.6,
    "PRP-01": 3, "PRP-06": 3, "PRP-03": 2, "PRP-02": 1.5, "PRP-09": 1.5, "PRP-10": 1.5, "PRP-08": 0.3,
    "GOV-09": 3, "GOV-01": 2.5, "GOV-05": 1.5, "ERR-01": 2, "ERR-02": 2, "ERR-05": 1.5,
    "HLT-02": 2, "HLT-03": 1.5, "LEG-02": 3, "LEG-01": 2, "LEG-08": 0.3, "CUL-10": 2,
    "CHD-06": 0.2, "VOL-04": 0.2, "VOL-06": 0.4, "AST-09": 0.4,
}  # fmt: skip
VULNERABLE_BOOST = {"ELDER": 2.0, "HEALTH": 1.5, "ASSIST": 2.0}


class HistoryBuilder:
    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        items: dict[str, ItemFacts],
        residents: list[ResidentFacts],
        providers: list[ProviderFacts],
        users: dict[str, int],
        rules: TimeRules,
    ) -> None:
        self.rng, self.now, self.users, self.rules = rng, now, users, rules
        self.items = list(items.values())
        self.residents = residents
        self.chooser = Chooser(rng, providers, self.items)
        general = [CATEGORY_WEIGHTS[i.category_code] * ITEM_WEIGHTS.get(i.code, 1.0) for i in self.items]
        self.item_weights = general
        self.vulnerable_item_weights = [
            w * VULNERABLE_BOOST.get(i.category_code, 1.0) for w, i in zip(general, self.items, strict=True)
        ]
        self.resident_weights = [
            min(8.0, rng.paretovariate(1.6)) * (2.0 if r.tags else 1.0) * (1.5 if r.older else 1.0)
            for r in residents
        ]
        self.life = Life(rng, now, users, self.chooser, rules)
        self.orders: list[Draft] = []
        self.counters: dict[date, int] = {}

    # -- volume -------------------------------------------------------------------------------

    def run(self, existing_counters: dict[date, int]) -> list[Draft]:
        today = self.now.astimezone(TZ).date()
        for back in range(DAYS, -1, -1):
            day = today - timedelta(days=back)
            weekday = day.weekday() < 5
            n = self.rng.randint(24, 40) if weekday else self.rng.randint(15, 25)
            times = sorted(self._moment(day) for _ in range(n))
            times = [t for t in times if t <= self.now - timedelta(minutes=3)]
            seq = existing_counters.get(day, 0)
            for t in times:
                seq += 1
                self.life.live(self._draft(t, f"{day:%Y%m%d}-{seq:04d}"))
            if times:
                self.counters[day] = seq
        return self.orders

    def _moment(self, day: date) -> datetime:
        hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        local = datetime(
            day.year, day.month, day.day, hour, self.rng.randrange(60), self.rng.randrange(60), tzinfo=TZ
        )
        return local.astimezone(self.now.tzinfo)

    def _draft(self, at: datetime, number: str) -> Draft:
        rng = self.rng
        resident = rng.choices(self.residents, weights=self.resident_weights)[0]
        weights = self.vulnerable_item_weights if resident.tags else self.item_weights
        item = rng.choices(self.items, weights=weights)[0]
        channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
        urgent = item.sla == "urgent" or (
            item.home_visit and item.sla == "priority" and bool(HIGH_RISK_TAGS.intersection(resident.tags))
        )
        urgent = urgent or (item.sla != "consult" and rng.random() < 0.01)
        # How the order is handled (how fast it is signed for, done, batched); its time limits
        # are the product's, for its item and priority.
        sla = "urgent" if urgent and item.sla != "consult" else item.sla
        priority = Priority.URGENT if urgent else Priority.NORMAL
        limits = self.rules.limits[(item.id, priority)]
        deadlines = order_deadlines(at, limits, self.rules.calendar)
        if channel == Channel.PHONE:
            operator = rng.choices(("operator1", "operator2"), weights=(55, 45))[0]
            creator = (f"operator:{operator}", self.users[operator])
        elif channel == Channel.VISIT:
            creator = (f"provider:{self.chooser.any_worker()}", None)
        else:
            creator = ("system", None)
        caller = resident.phones[0] if len(resident.phones) == 1 or rng.random() < 0.8 else resident.phones[1]
        suggestions = [{"item_code": item.code, "score": round(rng.uniform(0.55, 0.97), 4)}]
        o = Draft(
            created_at=at,
            number=number,
            item=item,
            resident=resident,
            sla=sla,
            limits=limits,
            creator=creator,
            until=self.now,
            clock_start=at,
        )
        o.cols = {
            "number": number,
            "channel": channel,
            "priority": priority,
            "resident_id": resident.id,
            "caller_phone": caller,
            "item_id": item.id,
            "category_id": item.category_id,
            "description": texts.describe(rng, item.code, home_visit=item.home_visit, urgent=urgent),
            "suggestions": suggestions,
            "address": resident.address,
            "lat": resident.lat,
            "lon": resident.lon,
            "community_id": resident.community_id,
            "grid_id": resident.grid_id,
            "created_by_id": creator[1],
            "sign_by": deadlines.sign_by,
            "complete_by": deadlines.complete_by,
            "reopen_count": 0,
            "return_count": 0,
            "supervisor_queue_reason": None,
            "created_at": at,
        }
        reset_service_columns(o)
        self.orders.append(o)
        return o
