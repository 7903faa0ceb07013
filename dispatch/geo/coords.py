"""Coordinate systems and distances.

Everything inside sanshe is WGS-84. Chinese map services hand out obfuscated coordinates (GCJ-02
from AMap/Tencent, BD-09 from Baidu, both offsets of a few hundred metres) and those are converted
on the way in with ``prcoords``. Note that prcoords works on ``(lat, lon)`` tuples.

Distances: ``geodesic_km`` (WGS-84 ellipsoid, via geopy/geographiclib, ~0.1 mm exact but
~60-100 µs a call) is the one that decides "inside the service area" and is reported to users;
``haversine_km`` (sphere, < 0.6 % off) is only a cheap, vectorisable prefilter.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np
import prcoords
from geographiclib.geodesic import Geodesic
from geopy.distance import ELLIPSOIDS, geodesic

from dispatch.errors import InvalidValue

CoordSystem = Literal["wgs84", "gcj02", "bd09"]
COORD_SYSTEMS: tuple[str, ...] = get_args(CoordSystem)

# IUGG mean Earth radius: minimises the worst-case haversine error against the ellipsoid.
EARTH_RADIUS_KM = 6371.0088

# Worst relative difference between haversine (mean radius) and the WGS-84 geodesic: the local
# radii of curvature range 6335.4-6399.6 km, so hav/geodesic lies in [0.9955, 1.0057]. Prefilters
# widen by this (with headroom) so the approximation can never drop a provider that is inside.
HAVERSINE_MAX_REL_ERROR = 0.01

# geopy builds its Geodesic from this tuple in *kilometres*; using the same construction and the
# same argument order makes ``geodesic_km_many`` bit-identical to ``geodesic_km``.
_MAJOR_KM, _MINOR_KM, _FLATTENING = ELLIPSOIDS["WGS-84"]
_GEOD_KM = Geodesic(_MAJOR_KM, _FLATTENING)
_DISTANCE_ONLY = Geodesic.DISTANCE


def validate_point(lat: float, lon: float) -> None:
    """Raise ``ValueError`` (an ``InvalidValue``) unless (lat, lon) is a finite point in degrees."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise InvalidValue(
            f"coordinates must be finite numbers, got lat={lat!r}, lon={lon!r}",
            message=f"坐标应为有效数字（纬度 {lat!r}，经度 {lon!r}）",
        )
    if not -90.0 <= lat <= 90.0:
        raise InvalidValue(
            f"latitude {lat} is out of range -90..90 (were lat and lon swapped?)",
            message=f"纬度 {lat} 超出范围（-90 到 90），是否把纬度和经度填反了？",
        )
    if not -180.0 <= lon <= 180.0:
        raise InvalidValue(
            f"longitude {lon} is out of range -180..180", message=f"经度 {lon} 超出范围（-180 到 180）"
        )


def _in_china(lat: float, lon: float) -> bool:
    # Same rectangle prcoords uses: outside it the map services publish plain WGS-84.
    return 0.8293 <= lat <= 55.8271 and 72.004 <= lon <= 137.8347


def to_wgs84(lat: float, lon: float, system: CoordSystem) -> tuple[float, float]:
    """Convert a point given in ``system`` to WGS-84 ``(lat, lon)``.

    Uses prcoords' iterative ("bored") inverses, which are exact to ~1e-5° of the forward
    transform rather than the metre-level one-step inverse. Points outside China are returned
    unchanged, as the services themselves do not shift them.
    """
    lat, lon = float(lat), float(lon)
    validate_point(lat, lon)
    if system == "wgs84":
        return lat, lon
    if system not in COORD_SYSTEMS:
        raise InvalidValue(
            f"unknown coordinate system {system!r}; expected one of {', '.join(COORD_SYSTEMS)}",
            message=f"未知的坐标系 {system}，可选：{'、'.join(COORD_SYSTEMS)}",
        )
    if system == "gcj02":
        if not _in_china(lat, lon):
            return lat, lon
        out = prcoords.gcj_wgs_bored((lat, lon))
    else:
        # BD-09 adds a fixed shift on top of GCJ-02, so the China test is done on the GCJ point.
        gcj = prcoords.bd_gcj((lat, lon))
        if not _in_china(gcj.lat, gcj.lon):
            return float(gcj.lat), float(gcj.lon)
        out = prcoords.bd_wgs_bored((lat, lon))
    return float(out.lat), float(out.lon)


def from_wgs84(lat: float, lon: float, system: CoordSystem) -> tuple[float, float]:
    """The forward transform (WGS-84 → ``system``), for exporting to Chinese map widgets."""
    lat, lon = float(lat), float(lon)
    validate_point(lat, lon)
    if system == "wgs84":
        return lat, lon
    if system not in COORD_SYSTEMS:
        raise InvalidValue(
            f"unknown coordinate system {system!r}; expected one of {', '.join(COORD_SYSTEMS)}",
            message=f"未知的坐标系 {system}，可选：{'、'.join(COORD_SYSTEMS)}",
        )
    if not _in_china(lat, lon):
        return lat, lon
    out = prcoords.wgs_gcj((lat, lon), False) if system == "gcj02" else prcoords.wgs_bd((lat, lon), False)
    return float(out.lat), float(out.lon)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean-radius sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def haversine_km_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Haversine from one point to many, vectorised."""
    p1 = math.radians(lat)
    p2 = np.radians(np.asarray(lats, dtype=np.float64))
    dlon = np.radians(np.asarray(lons, dtype=np.float64) - lon)
    h = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, h)))


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance on the WGS-84 ellipsoid (Karney's algorithm via geopy)."""
    return float(geodesic((lat1, lon1), (lat2, lon2)).km)


def geodesic_km_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """``geodesic_km`` from one point to each of a few others.

    Skips geopy's per-call Point/Distance wrapping (~40 % of its cost) but calls the same
    geographiclib routine with the same ellipsoid and argument order, so the numbers are
    identical to ``geodesic_km(lat, lon, lats[i], lons[i])``. Still a Python loop: keep it short.
    """
    inverse = _GEOD_KM.Inverse
    lat, lon = float(lat), float(lon)
    out = np.empty(len(lats), dtype=np.float64)
    for i, (plat, plon) in enumerate(zip(np.asarray(lats).tolist(), np.asarray(lons).tolist(), strict=True)):
        out[i] = inverse(lat, lon, plat, plon, _DISTANCE_ONLY)["s12"]
    return out
