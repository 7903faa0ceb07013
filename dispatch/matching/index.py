"""Which providers cover a point, without a geodesic call per provider.

geopy's geodesic costs ~60-100 µs, so scanning 100,000 providers with it takes seconds. The index
keeps, per catalogue item and per category, contiguous numpy arrays of the radius-based providers
that serve it. A query touches only the providers serving its item (or the item's category), cuts
them with a bounding box and a vectorised haversine widened by its worst-case error, and spends
geodesic calls only on the survivors that matter: the ones near the radius boundary (to decide
membership exactly) and the nearest ``max_results`` (to report exact distances and order).

Providers that serve a list of communities instead of a radius sit in a small per-community map.

The index is immutable; when providers change, build a new one and swap it in (``version`` carries
the database marker the caller compares against to know when).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dispatch.geo.coords import (
    HAVERSINE_MAX_REL_ERROR,
    geodesic_km_many,
    haversine_km_many,
    validate_point,
)

# Lower bounds of a degree's length on the WGS-84 ellipsoid (latitude: at the equator; longitude:
# 111.32·cos φ is below the exact value everywhere), so a box built from them never cuts too much.
_KM_PER_DEG_LAT_MIN = 110.57
_KM_PER_DEG_LON_AT_EQUATOR = 111.32
_MARGIN = HAVERSINE_MAX_REL_ERROR
# Absolute slack for floating-point noise at tiny radii (1 mm).
_ABS_SLACK_KM = 1e-6
# (item, category) unions are cached; bounded so odd callers cannot grow it without limit.
_MAX_CACHED_GROUPS = 4096


@dataclass(frozen=True, slots=True)
class ProviderPoint:
    id: int
    lat: float
    lon: float
    radius_km: float
    item_ids: frozenset[int]  # serves these items…
    category_ids: frozenset[int]  # …or every item of these categories
    community_ids: frozenset[int] = frozenset()  # if non-empty: serves exactly these, radius ignored


@dataclass(frozen=True, slots=True)
class _Group:
    """Radius-based providers serving one item/category, as parallel arrays (rows into the index)."""

    rows: np.ndarray  # int64, sorted, unique
    lat: np.ndarray
    lon: np.ndarray
    radius: np.ndarray
    max_radius: float


class ProviderIndex:
    def __init__(self, providers: Iterable[ProviderPoint], *, version: int = 0) -> None:
        self.version = version
        points = list(providers)
        ids = [p.id for p in points]
        if len(set(ids)) != len(ids):
            raise ValueError("provider ids must be unique in a ProviderIndex")
        for p in points:
            validate_point(p.lat, p.lon)
            if not p.community_ids and not (math.isfinite(p.radius_km) and p.radius_km >= 0):
                raise ValueError(
                    f"provider {p.id}: radius_km must be a finite number >= 0, got {p.radius_km!r}"
                )

        self._ids = np.fromiter(ids, dtype=np.int64, count=len(points))
        self._lat = np.fromiter((p.lat for p in points), dtype=np.float64, count=len(points))
        self._lon = np.fromiter((p.lon for p in points), dtype=np.float64, count=len(points))
        self._radius = np.fromiter((p.radius_km for p in points), dtype=np.float64, count=len(points))
        self._points = points

        by_item: defaultdict[int, list[int]] = defaultdict(list)
        by_category: defaultdict[int, list[int]] = defaultdict(list)
        by_community: defaultdict[int, list[int]] = defaultdict(list)
        for row, p in enumerate(points):
            if p.community_ids:
                for community in p.community_ids:
                    by_community[community].append(row)
                continue
            for item in p.item_ids:
                by_item[item].append(row)
            for category in p.category_ids:
                by_category[category].append(row)
        self._by_item = {k: self._group(np.asarray(v, dtype=np.int64)) for k, v in by_item.items()}
        self._by_category = {k: self._group(np.asarray(v, dtype=np.int64)) for k, v in by_category.items()}
        self._by_community = {k: tuple(v) for k, v in by_community.items()}
        self._merged: dict[tuple[int, int], _Group] = {}
        self._merged_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._points)

    def _group(self, rows: np.ndarray) -> _Group:
        radius = self._radius[rows]
        return _Group(
            rows=rows,
            lat=self._lat[rows],
            lon=self._lon[rows],
            radius=radius,
            max_radius=float(radius.max()) if len(rows) else 0.0,
        )

    def _serving(self, item_id: int, category_id: int) -> _Group | None:
        """Radius providers serving the item directly or through its category (union, cached)."""
        key = (item_id, category_id)
        group = self._merged.get(key)
        if group is not None:
            return group
        by_item, by_category = self._by_item.get(item_id), self._by_category.get(category_id)
        if by_item is None or by_category is None:
            group = by_item or by_category
        else:
            # A provider listing both the item and its category must appear once.
            group = self._group(np.union1d(by_item.rows, by_category.rows))
        if group is None:
            return None
        with self._merged_lock:
            if len(self._merged) >= _MAX_CACHED_GROUPS:
                self._merged.clear()
            self._merged[key] = group
        return group

    def _serves(self, row: int, item_id: int, category_id: int) -> bool:
        p = self._points[row]
        return item_id in p.item_ids or category_id in p.category_ids

    def covering(
        self,
        *,
        lat: float,
        lon: float,
        item_id: int,
        category_id: int,
        community_id: int | None = None,
        max_results: int | None = None,
    ) -> list[tuple[int, float]]:
        """``(provider_id, geodesic_km)`` of providers serving the item whose area contains the point.

        Nearest first, ties by provider id. A radius area contains the point when the geodesic
        distance is <= radius (boundary inclusive); a community-list area when ``community_id`` is
        in it. ``max_results`` returns only the nearest N and is what keeps the geodesic calls
        bounded; ``None`` returns every covering provider (one geodesic call each).
        """
        lat, lon = float(lat), float(lon)
        validate_point(lat, lon)
        if max_results is not None and max_results <= 0:
            return []

        rows, hav, certain = self._radius_candidates(lat, lon, item_id, category_id)
        if community_id is not None and community_id in self._by_community:
            extra = np.fromiter(
                (r for r in self._by_community[community_id] if self._serves(r, item_id, category_id)),
                dtype=np.int64,
            )
            if len(extra):
                rows = np.concatenate([rows, extra])
                hav = np.concatenate([hav, haversine_km_many(lat, lon, self._lat[extra], self._lon[extra])])
                certain = np.concatenate([certain, np.ones(len(extra), dtype=bool)])
        if len(rows) == 0:
            return []
        if max_results is None:
            return self._exact_all(lat, lon, rows, certain)
        return self._exact_nearest(lat, lon, rows, hav, certain, max_results)

    def _radius_candidates(
        self, lat: float, lon: float, item_id: int, category_id: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows that may be inside, their haversine distance, and whether they are surely inside."""
        empty = np.empty(0, dtype=np.int64)
        group = self._serving(item_id, category_id)
        if group is None or len(group.rows) == 0:
            return empty, np.empty(0), np.empty(0, dtype=bool)

        # Bounding box around the point with the group's largest radius: pure comparisons, so the
        # trigonometry below only runs on the few providers anywhere near the point.
        reach = group.max_radius * (1 + _MARGIN) + _ABS_SLACK_KM
        dlat = reach / _KM_PER_DEG_LAT_MIN
        in_box = np.abs(group.lat - lat) <= dlat
        far_lat = min(90.0, abs(lat) + dlat)
        if far_lat < 89.0:
            dlon = reach / (_KM_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(far_lat)))
            if dlon < 180.0:
                # Wrapped difference so the box works across the antimeridian.
                in_box &= np.abs((group.lon - lon + 180.0) % 360.0 - 180.0) <= dlon
        idx = np.flatnonzero(in_box)
        if len(idx) == 0:
            return empty, np.empty(0), np.empty(0, dtype=bool)

        hav = haversine_km_many(lat, lon, group.lat[idx], group.lon[idx])
        radius = group.radius[idx]
        maybe = hav <= radius * (1 + _MARGIN) + _ABS_SLACK_KM
        certain = hav < radius * (1 - _MARGIN) - _ABS_SLACK_KM
        return group.rows[idx[maybe]], hav[maybe], certain[maybe]

    def _exact_all(
        self, lat: float, lon: float, rows: np.ndarray, certain: np.ndarray
    ) -> list[tuple[int, float]]:
        geo = geodesic_km_many(lat, lon, self._lat[rows], self._lon[rows])
        inside = certain | (geo <= self._radius[rows])
        return _sorted_pairs(self._ids[rows[inside]], geo[inside])

    def _exact_nearest(
        self, lat: float, lon: float, rows: np.ndarray, hav: np.ndarray, certain: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        # Walk candidates in haversine order, paying one geodesic each. Since geodesic >=
        # haversine / (1 + margin), once that lower bound passes the limit-th best geodesic
        # found so far nobody further down can enter the top ``limit``; stop there.
        order = np.argsort(hav, kind="stable")
        lower_bounds = (hav[order] / (1 + _MARGIN)).tolist()
        ordered_rows = rows[order]
        found: list[tuple[float, int]] = []  # (geodesic_km, provider_id)
        kth_best = math.inf
        chunk = max(4, limit)
        start = 0
        while start < len(ordered_rows):
            if lower_bounds[start] > kth_best:
                break
            stop = min(len(ordered_rows), start + chunk)
            part = ordered_rows[start:stop]
            geo = geodesic_km_many(lat, lon, self._lat[part], self._lon[part])
            inside = certain[order[start:stop]] | (geo <= self._radius[part])
            found.extend(zip(geo[inside].tolist(), self._ids[part[inside]].tolist(), strict=True))
            if len(found) >= limit:
                found.sort()
                del found[limit:]
                kth_best = found[-1][0]
            start = stop
            # Later chunks only need to cover what might still beat the current worst.
            chunk = max(4, limit // 4)
        found.sort()
        return [(pid, dist) for dist, pid in found[:limit]]


def _sorted_pairs(ids: np.ndarray, dist: np.ndarray) -> list[tuple[int, float]]:
    order = np.lexsort((ids, dist))
    return list(zip(ids[order].tolist(), dist[order].tolist(), strict=True))
