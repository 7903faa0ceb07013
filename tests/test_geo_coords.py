"""Coordinate conversion and distances (pure, no database)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dispatch.geo.coords import (
    from_wgs84,
    geodesic_km,
    geodesic_km_many,
    haversine_km,
    haversine_km_many,
    to_wgs84,
)

HANGZHOU = (30.2741, 120.1551)
BEIJING = (39.9087, 116.3975)

# Published eviltransform fixtures (WGS-84 → GCJ-02), the de-facto reference for the algorithm.
GCJ_FIXTURES = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic_km(*a, *b) * 1000.0


def test_wgs84_is_unchanged() -> None:
    assert to_wgs84(*HANGZHOU, "wgs84") == HANGZHOU


@pytest.mark.parametrize(("wgs", "gcj"), GCJ_FIXTURES)
def test_gcj02_matches_reference_points(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    assert from_wgs84(*wgs, "gcj02") == pytest.approx(gcj, abs=1e-9)
    # The iterative inverse lands within a millimetre of the true WGS-84 point.
    assert _metres(to_wgs84(*gcj, "gcj02"), wgs) < 0.01


@pytest.mark.parametrize("point", [HANGZHOU, BEIJING])
def test_gcj02_offset_is_a_few_hundred_metres(point: tuple[float, float]) -> None:
    offset = _metres(to_wgs84(*point, "gcj02"), point)
    assert 300 <= offset <= 600


@pytest.mark.parametrize("point", [HANGZHOU, BEIJING])
def test_bd09_is_shifted_further_than_gcj02(point: tuple[float, float]) -> None:
    gcj_offset = _metres(to_wgs84(*point, "gcj02"), point)
    bd_offset = _metres(to_wgs84(*point, "bd09"), point)
    assert bd_offset > gcj_offset
    assert 700 <= bd_offset <= 2000


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_round_trip_is_centimetre_exact(system: str) -> None:
    # prcoords iterates its inverse to 1e-5 of the offset: a few millimetres, far below GPS noise.
    rng = np.random.default_rng(7)
    for lat, lon in zip(rng.uniform(20, 45, 50), rng.uniform(100, 125, 50), strict=True):
        there = from_wgs84(float(lat), float(lon), system)  # type: ignore[arg-type]
        back = to_wgs84(*there, system)  # type: ignore[arg-type]
        assert _metres(back, (float(lat), float(lon))) < 0.05


def test_bd09_is_gcj02_plus_baidu_shift() -> None:
    gcj = from_wgs84(*HANGZHOU, "gcj02")
    bd = from_wgs84(*HANGZHOU, "bd09")
    assert _metres(to_wgs84(*bd, "bd09"), to_wgs84(*gcj, "gcj02")) < 0.05


def test_outside_china_is_not_shifted_and_does_not_warn() -> None:
    paris = (48.8566, 2.3522)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_wgs84(*paris, "gcj02") == paris
        assert from_wgs84(*paris, "gcj02") == paris


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (91.0, 120.0, "latitude"),
        (-90.5, 120.0, "latitude"),
        (30.0, 180.5, "longitude"),
        (30.0, -181.0, "longitude"),
        (120.15, 30.27, "swapped"),
        (math.nan, 120.0, "finite"),
        (30.0, math.inf, "finite"),
    ],
)
def test_out_of_range_coordinates_are_rejected(lat: float, lon: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_wgs84(lat, lon, "gcj02")


def test_unknown_system_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown coordinate system"):
        to_wgs84(*HANGZHOU, "mercator")  # type: ignore[arg-type]


def test_range_limits_themselves_are_accepted() -> None:
    assert to_wgs84(90.0, 180.0, "wgs84") == (90.0, 180.0)
    assert to_wgs84(-90.0, -180.0, "bd09") is not None


def test_haversine_agrees_with_geodesic_within_half_a_percent() -> None:
    rng = np.random.default_rng(3)
    lats = HANGZHOU[0] + rng.uniform(-0.3, 0.3, 300)
    lons = HANGZHOU[1] + rng.uniform(-0.3, 0.3, 300)
    many = haversine_km_many(*HANGZHOU, lats, lons)
    for i, (lat, lon) in enumerate(zip(lats.tolist(), lons.tolist(), strict=True)):
        geo = geodesic_km(*HANGZHOU, lat, lon)
        hav = haversine_km(*HANGZHOU, lat, lon)
        assert many[i] == pytest.approx(hav, rel=1e-12)
        assert hav == pytest.approx(geo, rel=0.005)


def test_known_geodesic_distance() -> None:
    # Wellington → Salamanca, the worked example in GeographicLib's documentation.
    assert geodesic_km(-41.32, 174.81, 40.96, -5.50) == pytest.approx(19959.679267, abs=1e-6)
    assert geodesic_km(*HANGZHOU, *HANGZHOU) == 0.0


def test_geodesic_many_is_bit_identical_to_geodesic() -> None:
    rng = np.random.default_rng(11)
    lats, lons = rng.uniform(-80, 80, 200), rng.uniform(-180, 180, 200)
    many = geodesic_km_many(*HANGZHOU, lats, lons)
    single = [geodesic_km(*HANGZHOU, a, b) for a, b in zip(lats.tolist(), lons.tolist(), strict=True)]
    assert many.tolist() == single
