"""Address → WGS-84 point, community and grid.

The offline gazetteer answers first (no network, no cost, knows the district's compounds and
buildings). Online geocoders configured in ``[geocoding] online`` are tried only when it finds
nothing. Baidu answers in BD-09 and is converted to WGS-84; Nominatim answers in WGS-84.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from geopy.exc import GeopyError
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.cache import StampedCache
from dispatch.geo.coords import CoordSystem, to_wgs84
from dispatch.geo.gazetteer import Gazetteer
from dispatch.settings import GeocodingSettings
from models import Area, Place

log = logging.getLogger(__name__)


class GazetteerGeocoder(Geocoder):
    """geopy's Geocoder interface over the offline gazetteer (so it composes with geopy's tools)."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        super().__init__()
        self.gazetteer = gazetteer

    def geocode(self, query: str, *, exactly_one: bool = True) -> Location | list[Location] | None:  # type: ignore[override]
        found = self.gazetteer.resolve(query)
        if found is None:
            return None
        location = Location(found.matched, (found.lat, found.lon), asdict(found))
        return location if exactly_one else [location]


@dataclass(frozen=True, slots=True)
class Located:
    lat: float
    lon: float
    precision: str
    source: str  # gazetteer | nominatim | baidu
    matched: str
    community_id: int | None
    grid_id: int | None


@dataclass(frozen=True, slots=True)
class OnlineGeocoder:
    name: str
    geocoder: Geocoder
    coord_system: CoordSystem
    hint: str = ""  # e.g. the city and district, prepended so "文三路128号" is found in the right city


def build_online_geocoders(settings: GeocodingSettings) -> list[OnlineGeocoder]:
    """The online geocoders named in ``[geocoding] online``, in that order."""
    built: list[OnlineGeocoder] = []
    for name in settings.online:
        if name == "nominatim":
            from geopy.geocoders import Nominatim

            geocoder: Geocoder = Nominatim(
                user_agent=settings.nominatim_user_agent,
                domain=settings.nominatim_domain,
                timeout=settings.timeout_seconds,
            )
            built.append(OnlineGeocoder("nominatim", geocoder, "wgs84", settings.query_prefix))
        elif name == "baidu":
            from geopy.geocoders import BaiduV3

            geocoder = BaiduV3(api_key=settings.baidu_api_key, timeout=settings.timeout_seconds)
            built.append(OnlineGeocoder("baidu", geocoder, "bd09", settings.query_prefix))
    return built


def gazetteer_stamp(session: Session) -> tuple[Any, ...]:
    places = session.execute(select(func.count(Place.id), func.max(Place.id))).one()
    return (*places, session.scalar(select(func.count(Area.id))))


class AddressLocator:
    """Thread-safe; reloads the gazetteer when the place table changes."""

    def __init__(self, online: list[OnlineGeocoder] | None = None, *, check_every: float = 0.0) -> None:
        self.online = online or []
        self.cache = StampedCache(stamp=gazetteer_stamp, build=Gazetteer.load, check_every=check_every)

    def gazetteer(self, session: Session) -> Gazetteer:
        return self.cache.get(session)

    def locate_address(self, session: Session, text: str) -> Located | None:
        gaz = self.gazetteer(session)
        found = gaz.resolve(text)
        if found is not None:
            return Located(
                found.lat,
                found.lon,
                found.precision,
                "gazetteer",
                found.matched,
                found.community_id,
                found.grid_id,
            )
        for online in self.online:
            query = f"{online.hint}{text}" if online.hint else text
            try:
                location = online.geocoder.geocode(query, exactly_one=True)
            except GeopyError as exc:  # an online service failing must not fail the intake
                log.warning("geocoder %s failed for %r: %s", online.name, text, exc)
                continue
            if location is None:
                continue
            lat, lon = to_wgs84(location.latitude, location.longitude, online.coord_system)
            community, grid = gaz.locate(lat, lon)
            return Located(lat, lon, "online", online.name, location.address or text, community, grid)
        return None

    def area_of(self, session: Session, lat: float, lon: float) -> tuple[int | None, int | None]:
        return self.gazetteer(session).locate(lat, lon)
