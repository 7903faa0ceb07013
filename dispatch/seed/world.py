"""The standing data of the demo: areas, gazetteer and residents (providers: ``lineup``).

Each builder adds rows through the session (flushing once per kind, never committing) and returns the
plain facts the history generator needs, so it never has to read the rows back.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.geo.coords import haversine_km
from dispatch.seed import district as d
from dispatch.seed.names import (
    OLDER_TAGS,
    YOUNGER_TAGS,
    landline,
    mobile,
    person_name,
)
from models import (
    Area,
    AreaKind,
    Category,
    Item,
    PhoneKind,
    Place,
    PlaceKind,
    ProviderKind,
    Resident,
    ResidentPhone,
)


@dataclass(frozen=True, slots=True)
class ItemFacts:
    id: int
    code: str
    category_id: int
    category_code: str
    sla: str
    home_visit: bool


@dataclass(slots=True)
class Point:
    id: int
    lat: float
    lon: float
    community_id: int
    grid_id: int


@dataclass(slots=True)
class Flat:
    """One building of a compound, where residents live."""

    building_id: int
    lat: float
    lon: float
    community_id: int
    grid_id: int
    road: str
    number: int
    compound: str
    building: int
    units: int
    floors: int


@dataclass(slots=True)
class ProviderFacts:
    id: int
    kind: ProviderKind
    organisation_id: int | None
    lat: float
    lon: float
    radius_km: float
    capacity: int
    hours: dict[str, list[list[str]]]
    quality: float  # the star level it deserves; ratings are drawn around it
    active_until: datetime | None  # suspended from then on
    communities: frozenset[int]
    item_ids: frozenset[int]
    category_ids: frozenset[int]
    workers: list[int] = field(default_factory=list)

    def serves(self, item: ItemFacts) -> bool:
        return item.id in self.item_ids or item.category_id in self.category_ids


@dataclass(slots=True)
class ResidentFacts:
    id: int
    phones: list[str]
    address: str
    lat: float
    lon: float
    community_id: int
    grid_id: int
    tags: list[str]
    older: bool


def load_items(session: Session) -> dict[str, ItemFacts]:
    rows = session.execute(
        select(Item.id, Item.code, Item.category_id, Category.code, Item.sla_class_code, Item.home_visit)
        .join(Category, Category.id == Item.category_id)
        .order_by(Item.code)
    )
    return {r[1]: ItemFacts(*r) for r in rows}


def _nearest(points: list[Point], lat: float, lon: float) -> Point:
    return min(points, key=lambda p: haversine_km(lat, lon, p.lat, p.lon))


def around(rng: random.Random, lat: float, lon: float, r_min: float, r_max: float) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * math.pi)
    r = rng.uniform(r_min, r_max)
    return d.offset(lat, lon, r * math.cos(angle), r * math.sin(angle))


class AreaLayout:
    """Areas by code and the grids of each community, after they are flushed."""

    def __init__(self) -> None:
        self.district: Area | None = None
        self.communities: dict[str, Area] = {}
        self.grids: dict[str, list[Point]] = {}

    def community_point(self, code: str) -> tuple[float, float]:
        c = self.communities[code]
        return c.lat, c.lon

    def locate(self, code: str, lat: float, lon: float) -> Point:
        """The grid (of community ``code``) nearest to a point."""
        return _nearest(self.grids[code], lat, lon)


def build_areas(session: Session, rng: random.Random, used_phones: set[str]) -> AreaLayout:
    layout = AreaLayout()
    lat0 = sum(s.lat for s in d.STREETS) / len(d.STREETS)
    lon0 = sum(s.lon for s in d.STREETS) / len(d.STREETS)
    district = Area(kind=AreaKind.DISTRICT, code=d.DISTRICT_CODE, name=d.DISTRICT_NAME, lat=lat0, lon=lon0)
    session.add(district)
    session.flush()
    layout.district = district
    streets = {}
    for s in d.STREETS:
        streets[s.code] = Area(
            kind=AreaKind.STREET, code=s.code, name=s.name, parent_id=district.id, lat=s.lat, lon=s.lon
        )
    session.add_all(streets.values())
    session.flush()
    street_specs = {s.code: s for s in d.STREETS}
    for c in d.COMMUNITIES:
        base = street_specs[c.street_code]
        lat, lon = d.offset(base.lat, base.lon, c.east_m, c.north_m)
        layout.communities[c.code] = Area(
            kind=AreaKind.COMMUNITY,
            code=c.code,
            name=c.name,
            parent_id=streets[c.street_code].id,
            lat=lat,
            lon=lon,
        )
    session.add_all(layout.communities.values())
    session.flush()
    grids: list[tuple[str, Area]] = []
    for c in d.COMMUNITIES:
        community = layout.communities[c.code]
        for n, (east, north) in enumerate(d.GRID_OFFSETS_M[: d.GRIDS_PER_COMMUNITY], start=1):
            # Jitter so the grids do not look stamped out of one template.
            lat, lon = d.offset(
                community.lat, community.lon, east + rng.randint(-60, 60), north + rng.randint(-60, 60)
            )
            grid = Area(
                kind=AreaKind.GRID,
                code=d.grid_code(c.code, n),
                name=d.grid_name(c.name, n),
                parent_id=community.id,
                lat=lat,
                lon=lon,
                grid_worker_name=person_name(rng, older=False)[0],
                grid_worker_phone=mobile(rng, used_phones),
            )
            grids.append((c.code, grid))
    session.add_all(g for _, g in grids)
    session.flush()
    for code, g in grids:
        layout.grids.setdefault(code, []).append(Point(g.id, g.lat, g.lon, g.parent_id or 0, g.id))
    return layout


def build_places(session: Session, rng: random.Random, layout: AreaLayout) -> list[Flat]:
    """Roads, compounds, buildings and landmarks; returns the buildings people live in."""
    roads: list[Place] = []
    compounds: list[tuple[Place, str, int, bool]] = []  # place, road, house number, high-rise
    for c in d.COMMUNITIES:
        clat, clon = layout.community_point(c.code)
        for road in c.roads:
            lat, lon = around(rng, clat, clon, 250, 650)
            grid = layout.locate(c.code, lat, lon)
            roads.append(
                Place(
                    kind=PlaceKind.ROAD,
                    name=road,
                    community_id=grid.community_id,
                    grid_id=grid.id,
                    lat=lat,
                    lon=lon,
                )
            )
        for name, aliases in c.compounds:
            lat, lon = around(rng, clat, clon, 60, 380)
            grid = layout.locate(c.code, lat, lon)
            place = Place(
                kind=PlaceKind.COMPOUND,
                name=name,
                aliases=aliases,
                community_id=grid.community_id,
                grid_id=grid.id,
                lat=lat,
                lon=lon,
            )
            compounds.append((place, rng.choice(c.roads), rng.randrange(2, 400), rng.random() < 0.35))
    landmarks = []
    for lm in d.LANDMARKS:
        clat, clon = layout.community_point(lm.community_code)
        lat, lon = d.offset(clat, clon, lm.east_m, lm.north_m)
        grid = layout.locate(lm.community_code, lat, lon)
        landmarks.append(
            Place(
                kind=PlaceKind.LANDMARK,
                name=lm.name,
                aliases=lm.aliases,
                community_id=grid.community_id,
                grid_id=grid.id,
                lat=lat,
                lon=lon,
            )
        )
    session.add_all([*roads, *(c[0] for c in compounds), *landmarks])
    session.flush()

    buildings: list[Place] = []
    flats: list[Flat] = []
    for place, road, number, high_rise in compounds:
        for n in range(1, rng.randint(4, 12) + 1):
            lat, lon = around(rng, place.lat, place.lon, 15, 75)
            building = Place(
                kind=PlaceKind.BUILDING,
                name=d.building_name(n),
                aliases=d.building_aliases(n),
                parent_id=place.id,
                community_id=place.community_id,
                grid_id=place.grid_id,
                lat=lat,
                lon=lon,
            )
            buildings.append(building)
            units, floors = (rng.randint(1, 2), rng.randint(11, 18)) if high_rise else (rng.randint(2, 4), 6)
            flats.append(
                Flat(
                    building_id=0,  # known after the flush below
                    lat=lat,
                    lon=lon,
                    community_id=place.community_id or 0,
                    grid_id=place.grid_id or 0,
                    road=road,
                    number=number,
                    compound=place.name,
                    building=n,
                    units=units,
                    floors=floors,
                )
            )
    session.add_all(buildings)
    session.flush()
    for flat, building in zip(flats, buildings, strict=True):
        flat.building_id = building.id
    return flats


def _address_of(rng: random.Random, flat: Flat) -> str:
    room = rng.randint(1, flat.floors) * 100 + rng.randint(1, 4)
    return d.format_address(
        flat.road, flat.number, flat.compound, flat.building, rng.randint(1, flat.units), room
    )


def build_residents(
    session: Session,
    rng: random.Random,
    flats: list[Flat],
    used_phones: set[str],
    now: datetime,
    count: int = 500,
) -> list[ResidentFacts]:
    residents: list[tuple[Resident, bool]] = []
    used_names: set[str] = set()
    used_addresses: set[str] = set()
    for _ in range(count):
        for _attempt in range(5):  # mostly distinct names; a few namesakes are realistic
            name, older = person_name(rng)
            if name not in used_names:
                break
        used_names.add(name)
        flat = rng.choice(flats)
        address = _address_of(rng, flat)
        while address in used_addresses:
            address = _address_of(rng, flat)
        used_addresses.add(address)
        tags: list[str] = []
        if rng.random() < (0.38 if older else 0.08):
            pool = OLDER_TAGS if older else YOUNGER_TAGS
            tags = rng.sample(pool, 1 if rng.random() < 0.7 else 2)
        phones = [ResidentPhone(e164=mobile(rng, used_phones), kind=PhoneKind.MOBILE, is_primary=True)]
        roll = rng.random()
        if roll < 0.12:
            phones.append(
                ResidentPhone(e164=mobile(rng, used_phones), kind=PhoneKind.MOBILE, is_primary=False)
            )
        elif roll < 0.12 + (0.25 if older else 0.05):
            phones.append(
                ResidentPhone(e164=landline(rng, used_phones), kind=PhoneKind.LANDLINE, is_primary=False)
            )
        created = now - timedelta(days=rng.randint(100, 900), minutes=rng.randint(0, 1439))
        resident = Resident(
            name=name,
            address=address,
            lat=flat.lat,
            lon=flat.lon,
            community_id=flat.community_id,
            grid_id=flat.grid_id,
            tags=tags,
            consent=rng.random() < 0.92,
            note="",
            phones=phones,
            created_at=created,
            updated_at=created,
        )
        residents.append((resident, older))
    session.add_all(r for r, _ in residents)
    session.flush()
    return [
        ResidentFacts(
            id=r.id,
            phones=[p.e164 for p in r.phones],
            address=r.address,
            lat=r.lat or 0.0,
            lon=r.lon or 0.0,
            community_id=r.community_id or 0,
            grid_id=r.grid_id or 0,
            tags=list(r.tags),
            older=older,
        )
        for r, older in residents
    ]
