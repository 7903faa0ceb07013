"""Offline first, online geocoders only when the gazetteer finds nothing; Baidu answers in BD-09."""

from __future__ import annotations

import pytest
from geopy.exc import GeocoderTimedOut
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from dispatch.geo.coords import from_wgs84
from dispatch.geo.geocoding import AddressLocator, GazetteerGeocoder, OnlineGeocoder, build_online_geocoders
from dispatch.settings import GeocodingSettings
from tests.factories import make_small_district


class FakeOnline(Geocoder):
    """Stands in for the remote service at geopy's interface (the network edge)."""

    def __init__(self, answer: tuple[float, float] | None, fail: bool = False) -> None:
        super().__init__()
        self.answer, self.fail, self.queries = answer, fail, []

    def geocode(self, query, *, exactly_one=True):  # type: ignore[override]
        self.queries.append(query)
        if self.fail:
            raise GeocoderTimedOut("too slow")
        return None if self.answer is None else Location(query, self.answer, {})


@pytest.fixture
def district(session) -> dict[str, int]:
    ids = make_small_district(session)
    session.flush()
    return ids


def test_gazetteer_first_no_network(session, district) -> None:
    online = FakeOnline((0.0, 0.0))
    locator = AddressLocator([OnlineGeocoder("baidu", online, "bd09", "杭州市西湖区")])
    found = locator.locate_address(session, "阳光花园3幢")
    assert found is not None and found.source == "gazetteer" and found.precision == "building"
    assert online.queries == []


def test_online_fallback_converts_bd09_and_locates_area(session, district) -> None:
    true_point = (30.2912, 120.1212)
    online = FakeOnline(from_wgs84(*true_point, "bd09"))
    locator = AddressLocator([OnlineGeocoder("baidu", online, "bd09", "杭州市西湖区")])
    found = locator.locate_address(session, "翠苑一区菜场旁边的修车铺")
    assert online.queries == ["杭州市西湖区翠苑一区菜场旁边的修车铺"]
    assert found is not None and found.source == "baidu" and found.precision == "online"
    assert (found.lat, found.lon) == pytest.approx(true_point, abs=1e-5)
    assert (found.community_id, found.grid_id) == (district["c1"], district["g1"])


def test_a_failing_online_geocoder_is_skipped(session, district) -> None:
    broken, working = FakeOnline(None, fail=True), FakeOnline((30.3011, 120.1011))
    locator = AddressLocator(
        [OnlineGeocoder("baidu", broken, "bd09"), OnlineGeocoder("nominatim", working, "wgs84")]
    )
    found = locator.locate_address(session, "某某大厦")
    assert found is not None and found.source == "nominatim" and found.community_id == district["c2"]
    assert (
        AddressLocator([OnlineGeocoder("nominatim", FakeOnline(None), "wgs84")]).locate_address(
            session, "某某大厦"
        )
        is None
    )


def test_gazetteer_geocoder_speaks_geopy(session, district) -> None:
    locator = AddressLocator()
    geocoder = GazetteerGeocoder(locator.gazetteer(session))
    location = geocoder.geocode("阳光花园3幢")
    assert isinstance(location, Location) and location.raw["precision"] == "building"
    assert geocoder.geocode("月亮湾") is None
    assert len(geocoder.geocode("阳光花园", exactly_one=False)) == 1


def test_online_geocoders_built_from_settings() -> None:
    built = build_online_geocoders(
        GeocodingSettings(online=["nominatim", "baidu"], baidu_api_key="k", query_prefix="杭州")
    )
    assert [(g.name, g.coord_system, g.hint) for g in built] == [
        ("nominatim", "wgs84", "杭州"),
        ("baidu", "bd09", "杭州"),
    ]
    with pytest.raises(ValueError, match="baidu_api_key"):
        GeocodingSettings(online=["baidu"])
