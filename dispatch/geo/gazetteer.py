"""Offline geocoding against the seeded gazetteer (streets, compounds, buildings, landmarks).

Address text from a phone call is messy: full-width digits, traditional characters, Chinese
numerals ("三号楼"), a compound called by its alias, a typo, names and phone numbers around it.
Resolution looks for the most specific place it can trust — building, compound, landmark, road,
community — and returns nothing rather than a wrong place: fuzzy matches use rapidfuzz's Indel
similarity on windows of the text (not WRatio, which lets short partial matches win) with a
cut-off, and two different places matching equally well is treated as "don't know".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from opencc import OpenCC
from rapidfuzz.distance import Indel
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Area, AreaKind, Place, PlaceKind

_t2s = OpenCC("t2s")
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+(?=[号幢栋座单楼室])")
_BUILDING = re.compile(r"(\d+)(?:号楼|幢|栋|座|号)")
# Suffixes a resident may leave off or swap ("阳光花园" said as "阳光小区").
_COMPOUND_SUFFIXES = ("小区", "花园", "家园", "公寓", "新村", "苑", "院", "里")
FUZZY_CUTOFF = 0.8  # normalised Indel similarity; one wrong character in a five-character name passes
MAX_LOCATE_KM = 3.0


def _cn_to_int(text: str) -> int:
    """Chinese numerals up to 999: 三 → 3, 十二 → 12, 二十 → 20, 一百零五 → 105."""
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def normalise_address(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, no spaces, Chinese numerals → digits."""
    s = _t2s.convert(unicodedata.normalize("NFKC", text or ""))
    s = "".join(s.split())
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(0))), s)


@dataclass(frozen=True, slots=True)
class GazetteerPlace:
    id: int
    kind: PlaceKind
    name: str
    aliases: tuple[str, ...]
    parent_id: int | None
    community_id: int | None
    grid_id: int | None
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class AreaPoint:
    id: int
    kind: AreaKind
    name: str
    parent_id: int | None
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Resolution:
    lat: float
    lon: float
    precision: str  # building | compound | landmark | road | community
    matched: str
    score: float  # 0..1, 1 = the name appears exactly
    community_id: int | None
    grid_id: int | None
    place_id: int | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """One suggestion while an address is typed: the place's own name (a building with its
    compound: ``阳光花园 3幢``), what it is, where."""

    text: str
    kind: PlaceKind
    community_id: int | None
    lat: float
    lon: float


_LEADING_NUMBER = re.compile(r"^\D{0,2}?(\d{1,4})")


def _variants(place: GazetteerPlace) -> set[str]:
    names = {normalise_address(n) for n in (place.name, *place.aliases) if n}
    if place.kind == PlaceKind.COMPOUND:
        for n in list(names):
            for suffix in _COMPOUND_SUFFIXES:
                if n.endswith(suffix) and len(n) - len(suffix) >= 3:
                    names.add(n[: -len(suffix)])
    return {n for n in names if len(n) >= 2}


def _similarity(name: str, text: str) -> tuple[float, int]:
    """Best Indel similarity of ``name`` against windows of ``text``, and where that window ends."""
    pos = text.find(name)
    if pos >= 0:
        return 1.0, pos + len(name)
    if len(name) < 4:  # too short to tell a typo from another name
        return 0.0, -1
    best, end = 0.0, -1
    for width in (len(name) - 1, len(name), len(name) + 1):
        for start in range(0, max(1, len(text) - width + 1)):
            score = Indel.normalized_similarity(name, text[start : start + width])
            if score > best:
                best, end = score, start + width
    return best, end


class Gazetteer:
    def __init__(self, places: Iterable[GazetteerPlace], areas: Iterable[AreaPoint]) -> None:
        self.places = {p.id: p for p in places}
        self.areas = {a.id: a for a in areas}
        self._names: dict[PlaceKind, list[tuple[str, GazetteerPlace]]] = {k: [] for k in PlaceKind}
        self._buildings: dict[int, dict[int, GazetteerPlace]] = {}
        for p in self.places.values():
            if p.kind == PlaceKind.BUILDING and p.parent_id is not None:
                number = re.search(r"\d+", normalise_address(p.name))
                if number:
                    self._buildings.setdefault(p.parent_id, {})[int(number.group())] = p
            else:
                self._names[p.kind].extend((v, p) for v in _variants(p))
        communities = [a for a in self.areas.values() if a.kind == AreaKind.COMMUNITY]
        self._communities = [(normalise_address(a.name), a) for a in communities]
        grids = [a for a in self.areas.values() if a.kind == AreaKind.GRID]
        self._grid_ids = np.array([g.id for g in grids], dtype=np.int64)
        self._grid_parent = np.array([g.parent_id or 0 for g in grids], dtype=np.int64)
        self._grid_lat = np.radians(np.array([g.lat for g in grids], dtype=float))
        self._grid_lon = np.radians(np.array([g.lon for g in grids], dtype=float))

    @classmethod
    def load(cls, session: Session) -> Gazetteer:
        places = [
            GazetteerPlace(
                id=p.id,
                kind=p.kind,
                name=p.name,
                aliases=tuple(a for a in (p.aliases or "").split("|") if a),
                parent_id=p.parent_id,
                community_id=p.community_id,
                grid_id=p.grid_id,
                lat=p.lat,
                lon=p.lon,
            )
            for p in session.scalars(select(Place))
        ]
        areas = [
            AreaPoint(id=a.id, kind=a.kind, name=a.name, parent_id=a.parent_id, lat=a.lat, lon=a.lon)
            for a in session.scalars(select(Area))
        ]
        return cls(places, areas)

    def _best(self, kind: PlaceKind, text: str) -> tuple[GazetteerPlace, float, int] | None:
        scored: dict[int, tuple[float, int, int, GazetteerPlace]] = {}
        # Names said exactly are the common case and cheap to find; the fuzzy window scan runs
        # only when no name appears as it is.
        exact = [(name, place) for name, place in self._names[kind] if name in text]
        for name, place in exact or self._names[kind]:
            score, end = _similarity(name, text)
            if score < FUZZY_CUTOFF:
                continue
            # Between variants of one place keep the best score, then the longest name matched.
            key = (score, len(name))
            if place.id not in scored or key > scored[place.id][:2]:
                scored[place.id] = (score, len(name), end, place)
        if not scored:
            return None
        ranked = sorted(scored.values(), key=lambda t: (-t[0], -t[1]))
        best = ranked[0]
        # Two places fitting equally: an exact longer name ("阳光花园") beats a shorter one it
        # contains ("阳光"); otherwise we cannot tell them apart and do not guess.
        tied = len(ranked) > 1 and ranked[1][0] == best[0]
        if tied and not (best[0] == 1.0 and best[1] > ranked[1][1]):
            return None
        return best[3], best[0], best[2]

    def _resolution(self, place: GazetteerPlace, precision: str, score: float) -> Resolution:
        return Resolution(
            lat=place.lat,
            lon=place.lon,
            precision=precision,
            matched=place.name,
            score=round(score, 3),
            community_id=place.community_id,
            grid_id=place.grid_id,
            place_id=place.id,
        )

    def resolve(self, text: str) -> Resolution | None:
        norm = normalise_address(text)
        if not norm:
            return None
        compound = self._best(PlaceKind.COMPOUND, norm)
        if compound is not None:
            place, score, end = compound
            building = _BUILDING.search(norm, pos=max(end, 0))
            if building is not None:
                found = self._buildings.get(place.id, {}).get(int(building.group(1)))
                if found is not None:
                    return self._resolution(found, "building", score)
            return self._resolution(place, "compound", score)
        for kind, precision in ((PlaceKind.LANDMARK, "landmark"), (PlaceKind.ROAD, "road")):
            hit = self._best(kind, norm)
            if hit is not None:
                return self._resolution(hit[0], precision, hit[1])
        for name, area in self._communities:
            short = name[:-2] if name.endswith("社区") else name
            if name in norm or (len(short) >= 2 and short + "社区" in norm):
                grid = self._nearest_grid(area.lat, area.lon, parent=area.id)
                return Resolution(area.lat, area.lon, "community", area.name, 1.0, area.id, grid)
        return None

    def complete(self, text: str, limit: int = 5) -> list[Completion]:
        """Places whose name (or an alias) begins with what was typed, then those containing it;
        once a compound's whole name is typed and a number follows, its buildings of that number
        (``阳光花园3`` → ``阳光花园 3幢``). Roads, compounds and landmarks; nothing for text that names
        none of them."""
        norm = normalise_address(text)
        if not norm:
            return []
        ranked: dict[int, tuple[int, int, str, GazetteerPlace]] = {}
        typed_past: list[tuple[str, GazetteerPlace]] = []
        for kind in (PlaceKind.COMPOUND, PlaceKind.LANDMARK, PlaceKind.ROAD):
            for name, place in self._names[kind]:
                if name.startswith(norm):
                    rank = 0
                elif norm in name:
                    rank = 1
                elif name in norm:  # typed past the name: the place, and a compound's buildings
                    rank = 2
                    typed_past.append((name, place))
                else:
                    continue
                key = (rank, len(name), place.name, place)
                if place.id not in ranked or key[:2] < ranked[place.id][:2]:
                    ranked[place.id] = key
        found: list[Completion] = []
        for name, compound in sorted(typed_past, key=lambda t: -len(t[0])):
            number = _LEADING_NUMBER.match(norm[norm.find(name) + len(name) :])
            if compound.kind != PlaceKind.COMPOUND or number is None:
                continue
            buildings = self._buildings.get(compound.id, {})
            for n in sorted(b for b in buildings if str(b).startswith(number.group(1))):
                b = buildings[n]
                found.append(Completion(f"{compound.name} {b.name}", b.kind, b.community_id, b.lat, b.lon))
            break
        for _, _, _, place in sorted(ranked.values(), key=lambda t: (t[0], t[1], t[2])):
            found.append(Completion(place.name, place.kind, place.community_id, place.lat, place.lon))
        return found[:limit]

    def area_name(self, area_id: int | None) -> str | None:
        area = self.areas.get(area_id) if area_id is not None else None
        return area.name if area is not None else None

    def _nearest_grid(self, lat: float, lon: float, parent: int | None = None) -> int | None:
        if not len(self._grid_ids):
            return None
        la, lo = np.radians(lat), np.radians(lon)
        h = (
            np.sin((self._grid_lat - la) / 2) ** 2
            + np.cos(la) * np.cos(self._grid_lat) * np.sin((self._grid_lon - lo) / 2) ** 2
        )
        km = 2 * 6371.0088 * np.arcsin(np.sqrt(h))
        if parent is not None and (self._grid_parent == parent).any():
            km = np.where(self._grid_parent == parent, km, np.inf)
        i = int(np.argmin(km))
        return int(self._grid_ids[i]) if km[i] <= MAX_LOCATE_KM else None

    def locate(self, lat: float, lon: float) -> tuple[int | None, int | None]:
        """(community_id, grid_id) for a point: the nearest grid centre within a few km."""
        grid = self._nearest_grid(lat, lon)
        if grid is None:
            return None, None
        return self.areas[grid].parent_id, grid
