"""Candidates for an order: the spatial index narrows, live facts decide, the ranking explains.

The provider index is rebuilt when the provider tables change (a stamp of counts and the latest
update), so every server process sharing the database sees a new or edited provider on its next
query; no process needs to tell the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from dispatch.cache import StampedCache
from dispatch.matching.eligibility import LiveFacts, Verdict, judge
from dispatch.matching.index import ProviderIndex, ProviderPoint
from dispatch.matching.ranking import CandidateFacts, RankedCandidate, rank
from models import (
    Offer,
    OfferStatus,
    Order,
    Provider,
    ProviderCommunity,
    ProviderService,
    ProviderStatus,
)

# How many covering providers to look at in detail before widening the search.
SHORTLIST = 60
ENOUGH_ELIGIBLE = 10


def load_points(session: Session) -> list[ProviderPoint]:
    items: dict[int, set[int]] = defaultdict(set)
    cats: dict[int, set[int]] = defaultdict(set)
    for pid, item_id, cat_id in session.execute(
        select(ProviderService.provider_id, ProviderService.item_id, ProviderService.category_id)
    ):
        if item_id is not None:
            items[pid].add(item_id)
        elif cat_id is not None:
            cats[pid].add(cat_id)
    communities: dict[int, set[int]] = defaultdict(set)
    for pid, cid in session.execute(select(ProviderCommunity.provider_id, ProviderCommunity.community_id)):
        communities[pid].add(cid)
    rows = session.execute(
        select(Provider.id, Provider.lat, Provider.lon, Provider.radius_km).where(
            Provider.status == ProviderStatus.ACTIVE
        )
    )
    return [
        ProviderPoint(
            id=pid,
            lat=lat,
            lon=lon,
            radius_km=radius,
            item_ids=frozenset(items.get(pid, ())),
            category_ids=frozenset(cats.get(pid, ())),
            community_ids=frozenset(communities.get(pid, ())),
        )
        for pid, lat, lon, radius in rows
        if pid in items or pid in cats
    ]


def providers_stamp(session: Session) -> tuple[Any, ...]:
    providers = session.execute(select(func.count(Provider.id), func.max(Provider.updated_at))).one()
    services = session.execute(select(func.count(ProviderService.id), func.max(ProviderService.id))).one()
    communities = session.scalar(select(func.count()).select_from(ProviderCommunity))
    return (*providers, *services, communities)


class ProviderIndexService:
    def __init__(self, check_every: float = 0.0) -> None:
        self.cache = StampedCache(
            stamp=providers_stamp, build=lambda s: ProviderIndex(load_points(s)), check_every=check_every
        )

    def index(self, session: Session) -> ProviderIndex:
        return self.cache.get(session)


@dataclass(frozen=True, slots=True)
class Candidate:
    ranked: RankedCandidate
    name: str
    out_of_hours: bool


@dataclass(frozen=True, slots=True)
class Rejected:
    provider_id: int
    name: str
    distance_km: float
    reason: str


def excluded_providers(session: Session, order_id: int) -> set[int]:
    """Providers that returned this order or let an offer expire: never offered it again."""
    stmt = select(Offer.provider_id).where(
        Offer.order_id == order_id, Offer.status.in_((OfferStatus.DECLINED, OfferStatus.EXPIRED))
    )
    return set(session.scalars(stmt))


# Built once (every dispatch runs one); columns rather than entities, as only these facts count.
_LIVE = select(
    Provider.id,
    Provider.name,
    Provider.status,
    Provider.open_count,
    Provider.capacity,
    Provider.working_hours,
    Provider.radius_km,
    Provider.star_level,
    Provider.last_offered_at,
).where(Provider.id.in_(bindparam("ids", expanding=True)))
# Without the rejected list, providers that are suspended or full need not be read at all.
_LIVE_FREE = _LIVE.where(Provider.status == ProviderStatus.ACTIVE, Provider.open_count < Provider.capacity)


def _live(session: Session, ids: list[int], *, free_only: bool) -> dict[int, Row[Any]]:
    if not ids:
        return {}
    return {row.id: row for row in session.execute(_LIVE_FREE if free_only else _LIVE, {"ids": ids})}


def candidates(
    session: Session,
    order: Order,
    *,
    index: ProviderIndex,
    now: datetime,
    tz: ZoneInfo,
    with_rejected: bool = False,
    excluded: Collection[int] | None = None,
) -> tuple[list[Candidate], list[Rejected]]:
    """Eligible providers for the order, best first (and, on request, the ones ruled out).

    ``excluded``: the providers that returned the order, when the caller knows them; looked up
    otherwise.
    """
    if order.lat is None or order.lon is None:
        return [], []
    if excluded is None:
        excluded = excluded_providers(session, order.id)
    limit: int | None = SHORTLIST
    while True:
        covering = index.covering(
            lat=order.lat,
            lon=order.lon,
            item_id=order.item_id,
            category_id=order.category_id,
            community_id=order.community_id,
            max_results=limit,
        )
        live = _live(session, [pid for pid, _ in covering], free_only=not with_rejected)
        facts: list[CandidateFacts] = []
        names: dict[int, tuple[str, bool]] = {}
        rejected: list[Rejected] = []
        for pid, km in covering:
            provider = live.get(pid)
            if provider is None:
                continue
            state = LiveFacts(
                pid, provider.status, provider.open_count, provider.capacity, provider.working_hours or {}
            )
            verdict: Verdict = judge(state, excluded=pid in excluded, priority=order.priority, at=now, tz=tz)
            if not verdict.eligible:
                rejected.append(Rejected(pid, provider.name, km, verdict.reason))
                continue
            names[pid] = (provider.name, verdict.out_of_hours)
            facts.append(
                CandidateFacts(
                    provider_id=pid,
                    name=provider.name,
                    distance_km=km,
                    radius_km=provider.radius_km,
                    star_level=provider.star_level,
                    open_count=provider.open_count,
                    capacity=provider.capacity,
                    last_offered_at=provider.last_offered_at,
                    out_of_hours=verdict.out_of_hours,
                )
            )
        # The shortlist was cut and too few of it is free: look at everyone who covers the point.
        if limit is not None and len(covering) >= limit and len(facts) < ENOUGH_ELIGIBLE:
            limit = None
            continue
        break
    ranked = rank(facts, now=now)
    result = [Candidate(r, names[r.provider_id][0], names[r.provider_id][1]) for r in ranked]
    return result, (rejected if with_rejected else [])
