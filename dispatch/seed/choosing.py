"""Which provider the demo history offers each order to, and the load that leaves at ``now``.

A simplified stand-in for the dispatcher (eligibility, then distance/rating/load/fairness), kept
separate so the history does not depend on the live matching code. Capacity is respected for the
load that is still held at ``now`` (accepted/in-service orders and pending offers), which is what
``Provider.open_count`` must equal after seeding.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from dispatch.geo.coords import haversine_km
from dispatch.seed.timing import TZ
from dispatch.seed.world import ItemFacts, ProviderFacts
from dispatch.timelimits.hours import in_working_hours
from models import OfferStatus, OrderStatus, ProviderKind

if TYPE_CHECKING:
    from dispatch.seed.draft import Draft

HOLDING = (OrderStatus.ACCEPTED, OrderStatus.IN_SERVICE)
STARS = (5, 4, 3, 2, 1)


@dataclass(frozen=True, slots=True)
class Pick:
    provider: ProviderFacts
    worker_id: int | None
    distance_km: float
    score: float
    reasons: list[str]
    out_of_hours: bool


def _idle(last: datetime | None, now: datetime) -> tuple[float, str]:
    if last is None:
        return 1.0, "从未派单"
    hours = (now - last).total_seconds() / 3600
    label = (
        f"{int(hours // 24)}天未派单"
        if hours >= 24
        else f"{int(hours)}小时未派单"
        if hours >= 1
        else "刚派过单"
    )
    return min(1.0, hours / 24), label


class Chooser:
    def __init__(self, rng: random.Random, providers: list[ProviderFacts], items: list[ItemFacts]) -> None:
        self.rng = rng
        self.by_id = {p.id: p for p in providers}
        self.serving = {i.id: [p for p in providers if p.serves(i)] for i in items}
        self.workers = [p.id for p in providers if p.kind == ProviderKind.WORKER and p.active_until is None]
        self.held: Counter[int] = Counter()
        self.last_offered: dict[int, datetime] = {}

    def any_worker(self) -> int:
        return self.rng.choice(self.workers)

    @staticmethod
    def _active(p: ProviderFacts, at: datetime) -> bool:
        return p.active_until is None or at < p.active_until

    def pick(self, o: Draft, at: datetime, excluded: set[int]) -> Pick | None:
        lat, lon, community = o.cols["lat"], o.cols["lon"], o.cols["community_id"]
        usable = [
            (p, haversine_km(lat, lon, p.lat, p.lon))
            for p in self.serving[o.item.id]
            if self._active(p, at) and self.held[p.id] < p.capacity
        ]
        fresh = [(p, km) for p, km in usable if p.id not in excluded]
        in_area = [
            (p, km) for p, km in fresh if (community in p.communities if p.communities else km <= p.radius_km)
        ]
        # Nobody eligible in the area: an operator widens the search (as a manual dispatch would).
        rows = in_area or fresh or usable
        if not rows:
            return None
        open_now = [(p, km) for p, km in rows if in_working_hours(p.hours, at, TZ)]
        out_of_hours = not open_now
        rows = open_now or rows
        scored = []
        for p, km in rows:
            idle, idle_label = _idle(self.last_offered.get(p.id), at)
            spare = 1 - self.held[p.id] / p.capacity
            score = 0.4 / (1 + km / 3) + 0.25 * (p.quality - 1) / 4 + 0.2 * spare + 0.15 * idle
            reasons = [
                f"{km:.1f} km",
                f"{p.quality:.1f}★",
                f"{self.held[p.id]}/{p.capacity} 在办",
                idle_label,
            ]
            if out_of_hours:
                reasons.append("非工作时间")
            scored.append((round(score, 4), p, km, reasons))
        scored.sort(key=lambda s: (-s[0], s[1].id))
        choice = self.rng.choices(range(min(3, len(scored))), weights=(70, 20, 10)[: len(scored)])[0]
        score, p, km, reasons = scored[choice]
        return Pick(p, self._worker(p, o.item, at), km, score, reasons, out_of_hours)

    def _worker(self, p: ProviderFacts, item: ItemFacts, at: datetime) -> int | None:
        if p.kind == ProviderKind.WORKER:
            return p.id
        team = [self.by_id[w] for w in p.workers if self._active(self.by_id[w], at)]
        skilled = [w for w in team if w.serves(item)]
        pool = skilled or team
        return self.rng.choice(pool).id if pool else None

    def offered(self, provider_id: int, at: datetime) -> None:
        self.last_offered[provider_id] = at

    def settle(self, o: Draft) -> None:
        """Count the slots this finished simulation still holds at ``now``."""
        if o.status in HOLDING and o.cols["provider_id"] is not None:
            self.held[o.cols["provider_id"]] += 1
        for offer in o.offers:
            if offer["status"] == OfferStatus.PENDING:
                self.held[offer["provider_id"]] += 1

    def stars(self, provider_id: int | None, *, late: bool) -> int:
        quality = self.by_id[provider_id].quality if provider_id is not None else 4.3
        good = (quality - 3.5) / 1.5
        weights = [
            0.40 + 0.30 * good,
            0.32 - 0.05 * good,
            0.14 - 0.12 * good,
            0.08 - 0.06 * good,
            0.06 - 0.05 * good,
        ]
        if late:
            weights = [weights[0] * 0.6, weights[1], weights[2] * 1.5, weights[3] * 2.5, weights[4] * 2.5]
        return self.rng.choices(STARS, weights=weights)[0]
