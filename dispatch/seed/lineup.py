"""The demo providers: ~30 social organisations, their workers, and a few independent social workers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dispatch.seed import district as d
from dispatch.seed.names import INDEPENDENT_WORKERS, ORGANISATIONS, mobile, person_name, working_hours
from dispatch.seed.world import AreaLayout, ItemFacts, ProviderFacts, around
from models import Provider, ProviderCommunity, ProviderKind, ProviderService, ProviderStatus

SUSPENDED_ORGANISATION = "书香邻里读书会"
SUSPENDED_WORKERS = 4
# Workers of a 24×7 organisation work in shifts; some are on call around the clock.
SHIFT_STYLES = ("24x7", "24x7", "evening", "weekend")


def _expand(services: tuple[str, ...], items: dict[str, ItemFacts]) -> list[ItemFacts]:
    """Category codes (HOME) and item codes (HOME-01) → the items they cover, in catalogue order."""
    categories = {c for c in services if "-" not in c}
    codes = {c for c in services if "-" in c}
    return [i for i in items.values() if i.category_code in categories or i.code in codes]


def _provider(
    rng: random.Random,
    *,
    kind: ProviderKind,
    name: str,
    phone: str,
    address: str,
    point: tuple[float, float],
    radius_km: float,
    capacity: int,
    hours: str,
    created: datetime,
    organisation_id: int | None = None,
) -> Provider:
    quality = round(rng.uniform(3.5, 5.0), 1)
    return Provider(
        kind=kind,
        name=name,
        phone=phone,
        organisation_id=organisation_id,
        address=address,
        lat=point[0],
        lon=point[1],
        radius_km=radius_km,
        capacity=capacity,
        open_count=0,
        working_hours=working_hours(hours),
        status=ProviderStatus.ACTIVE,
        star_level=quality,
        rating_count=0,
        rating_sum=0,
        created_at=created,
        updated_at=created,
    )


def _facts(
    p: Provider, served: list[ItemFacts], categories: set[int], communities: set[int]
) -> ProviderFacts:
    return ProviderFacts(
        id=p.id,
        kind=p.kind,
        organisation_id=p.organisation_id,
        lat=p.lat,
        lon=p.lon,
        radius_km=p.radius_km,
        capacity=p.capacity,
        hours=p.working_hours,
        quality=p.star_level,
        active_until=None,
        communities=frozenset(communities),
        item_ids=frozenset(i.id for i in served if i.category_id not in categories),
        category_ids=frozenset(categories),
    )


def build_providers(
    session: Session,
    rng: random.Random,
    layout: AreaLayout,
    items: dict[str, ItemFacts],
    used_phones: set[str],
    now: datetime,
) -> list[ProviderFacts]:
    """Organisations first (the first one is the demo org admin's), then workers; returns their facts."""
    community_specs = {c.code: c for c in d.COMMUNITIES}
    category_ids = {i.category_code: i.category_id for i in items.values()}
    orgs: list[tuple[Provider, list[ItemFacts], set[int], set[int]]] = []
    for spec in ORGANISATIONS:
        home = community_specs[spec.home]
        created = now - timedelta(days=rng.randint(200, 1200))
        org = _provider(
            rng,
            kind=ProviderKind.ORGANISATION,
            name=spec.name,
            phone=mobile(rng, used_phones),
            address=d.format_address(rng.choice(home.roads), rng.randrange(1, 300)),
            point=around(rng, *layout.community_point(spec.home), 100, 500),
            radius_km=round(rng.uniform(4.0, 8.0), 1),
            capacity=rng.randint(6, 10),
            hours=spec.hours,
            created=created,
        )
        whole = {category_ids[c] for c in spec.services if "-" not in c}
        communities = {layout.communities[c].id for c in spec.communities}
        org.services = [ProviderService(category_id=c) for c in sorted(whole)] + [
            ProviderService(item_id=items[c].id) for c in spec.services if "-" in c
        ]
        org.communities = [ProviderCommunity(community_id=c) for c in sorted(communities)]
        orgs.append((org, _expand(spec.services, items), whole, communities))
    session.add_all(o for o, *_ in orgs)
    session.flush()

    workers: list[tuple[Provider, list[ItemFacts]]] = []
    for (org, served, _, _), spec in zip(orgs, ORGANISATIONS, strict=True):
        visits = [i for i in served if i.home_visit] or served
        for _ in range(spec.workers):
            chosen = rng.sample(visits, min(len(visits), rng.randint(2, 5)))
            style = rng.choice(SHIFT_STYLES) if spec.hours == "24x7" else spec.hours
            worker = _provider(
                rng,
                kind=ProviderKind.WORKER,
                name=person_name(rng, older=rng.random() < 0.3)[0],
                phone=mobile(rng, used_phones),
                address=org.address,
                point=around(rng, org.lat, org.lon, 200, 1500),
                radius_km=round(rng.uniform(2.0, 5.0), 1),
                capacity=rng.randint(2, 5),
                hours=style,
                created=org.created_at + timedelta(days=rng.randint(10, 150)),
                organisation_id=org.id,
            )
            worker.services = [ProviderService(item_id=i.id) for i in sorted(chosen, key=lambda i: i.code)]
            workers.append((worker, chosen))
    for codes in INDEPENDENT_WORKERS:
        home = rng.choice(d.COMMUNITIES)
        chosen = [items[c] for c in codes]
        worker = _provider(
            rng,
            kind=ProviderKind.WORKER,
            name=person_name(rng, older=False)[0] + "（持证社工）",
            phone=mobile(rng, used_phones),
            address=d.format_address(rng.choice(home.roads), rng.randrange(1, 300)),
            point=around(rng, *layout.community_point(home.code), 100, 600),
            radius_km=round(rng.uniform(3.0, 6.0), 1),
            capacity=rng.randint(2, 4),
            hours=rng.choice(("standard", "saturday", "weekend")),
            created=now - timedelta(days=rng.randint(60, 700)),
        )
        worker.services = [ProviderService(item_id=i.id) for i in chosen]
        workers.append((worker, chosen))
    session.add_all(w for w, _ in workers)
    session.flush()

    facts = [_facts(o, served, whole, comms) for o, served, whole, comms in orgs]
    by_id = {f.id: f for f in facts}
    for w, chosen in workers:
        f = _facts(w, chosen, set(), set())
        facts.append(f)
        if w.organisation_id is not None:
            by_id[w.organisation_id].workers.append(w.id)
    _suspend(rng, session, orgs, workers, facts, now)
    return facts


def _suspend(
    rng: random.Random,
    session: Session,
    orgs: list[tuple[Provider, list[ItemFacts], set[int], set[int]]],
    workers: list[tuple[Provider, list[ItemFacts]]],
    facts: list[ProviderFacts],
    now: datetime,
) -> None:
    """A few providers were suspended recently: history has their past orders, nothing open."""
    by_id = {f.id: f for f in facts}
    targets = [o for o, *_ in orgs if o.name == SUSPENDED_ORGANISATION]
    # Never the demo "worker" account's provider (the first worker of the first organisation).
    first_worker = workers[0][0]
    targets += rng.sample([w for w, _ in workers[1:] if w is not first_worker], SUSPENDED_WORKERS)
    for p in targets:
        p.status = ProviderStatus.SUSPENDED
        by_id[p.id].active_until = now - timedelta(days=rng.randint(5, 40))
    session.flush()
