"""Explainable ranking of eligible providers.

Each candidate gets four sub-scores in [0, 1] — closeness, rating, spare capacity, time since its
last offer — combined with ``RankingWeights``. The weighted parts are returned alongside the score
(they sum to it) together with short reasons ("2.3 km", "4.6★", "1/5 在办", "3天未派单") so an
operator choosing manually sees why the list is in this order.

Eligibility (serves the item, inside the area, has capacity, …) is decided before ranking; this
module only orders candidates that are all allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

# Closeness halves every this many km. An absolute decay rather than distance/radius, because the
# resident waits for the actual distance: a provider 1 km away with a 1.2 km radius should not
# lose to one 4 km away just because the second declared a 10 km radius.
DISTANCE_HALF_LIFE_KM = 3.0
# Fairness credit reaches half after this long without an offer. Short on purpose: it is a
# round-robin nudge among otherwise equal providers, not a reason to send someone farther away.
FAIRNESS_HALF_LIFE_HOURS = 24.0
# Out of working hours (only offered under an urgent override) the score is scaled down so any
# in-hours provider of similar quality comes first.
OUT_OF_HOURS_FACTOR = 0.8


@dataclass(frozen=True, slots=True)
class CandidateFacts:
    provider_id: int
    name: str
    distance_km: float
    radius_km: float
    star_level: float  # 1..5
    open_count: int
    capacity: int
    last_offered_at: datetime | None
    out_of_hours: bool = False


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    provider_id: int
    distance_km: float
    score: float
    reasons: list[str]
    parts: dict[str, float]


@dataclass(frozen=True)
class RankingWeights:
    distance: float = 0.5
    rating: float = 0.25
    load: float = 0.15
    fairness: float = 0.10

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError("ranking weights must be finite and non-negative")
        if sum(values) <= 0:
            raise ValueError("at least one ranking weight must be positive")


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def closeness(distance_km: float) -> float:
    return _clip01(0.5 ** (max(0.0, distance_km) / DISTANCE_HALF_LIFE_KM))


def rating_score(star_level: float) -> float:
    return _clip01((star_level - 1.0) / 4.0)


def spare_capacity(open_count: int, capacity: int) -> float:
    if capacity <= 0:
        return 0.0
    return _clip01(1.0 - open_count / capacity)


def idle_credit(last_offered_at: datetime | None, now: datetime) -> float:
    if last_offered_at is None:
        return 1.0  # never offered anything: the most deserving of a turn
    hours = _hours_between(last_offered_at, now)
    if hours <= 0:
        return 0.0  # just offered (or a clock ahead of ours)
    return _clip01(1.0 - 0.5 ** (hours / FAIRNESS_HALF_LIFE_HOURS))


def _hours_between(earlier: datetime, later: datetime) -> float:
    if (earlier.tzinfo is None) != (later.tzinfo is None):
        raise ValueError("last_offered_at and now must both be timezone-aware or both naive")
    return (later - earlier).total_seconds() / 3600.0


def _idle_reason(last_offered_at: datetime | None, now: datetime) -> str:
    if last_offered_at is None:
        return "从未派单"
    hours = _hours_between(last_offered_at, now)
    if hours >= 24:
        return f"{int(hours // 24)}天未派单"
    if hours >= 1:
        return f"{int(hours)}小时未派单"
    return f"{max(0, int(hours * 60))}分钟未派单"


def explain(c: CandidateFacts, now: datetime) -> list[str]:
    reasons = [
        f"{c.distance_km:.1f} km",
        f"{c.star_level:.1f}★",
        f"{c.open_count}/{c.capacity} 在办",
        _idle_reason(c.last_offered_at, now),
    ]
    if c.out_of_hours:
        reasons.append("非工作时间")
    return reasons


def score_one(
    c: CandidateFacts, *, now: datetime, weights: RankingWeights = RankingWeights()
) -> RankedCandidate:
    total_weight = weights.distance + weights.rating + weights.load + weights.fairness
    # Normalised by the weight sum so the score stays in [0, 1] whatever weights are configured.
    parts = {
        "distance": weights.distance * closeness(c.distance_km) / total_weight,
        "rating": weights.rating * rating_score(c.star_level) / total_weight,
        "load": weights.load * spare_capacity(c.open_count, c.capacity) / total_weight,
        "fairness": weights.fairness * idle_credit(c.last_offered_at, now) / total_weight,
    }
    subtotal = sum(parts.values())
    if c.out_of_hours:
        # Recorded as its own (negative) part so the parts still add up to the score.
        parts["out_of_hours"] = -(1.0 - OUT_OF_HOURS_FACTOR) * subtotal
    score = _clip01(sum(parts.values()))
    return RankedCandidate(
        provider_id=c.provider_id,
        distance_km=c.distance_km,
        score=score,
        reasons=explain(c, now),
        parts=parts,
    )


def rank(
    candidates: Iterable[CandidateFacts], *, now: datetime, weights: RankingWeights = RankingWeights()
) -> list[RankedCandidate]:
    """Best first; equal scores fall back to the nearer provider, then the lower id."""
    ranked = [score_one(c, now=now, weights=weights) for c in candidates]
    ranked.sort(key=lambda r: (-r.score, r.distance_km, r.provider_id))
    return ranked
