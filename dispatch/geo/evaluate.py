"""How well the offline geocoder resolves the district's addresses as people actually say them.

For every building in the gazetteer the canonical address is rewritten the ways residents and
operators write it (alias of the compound, 号楼/栋 for 幢, Chinese numerals, traditional
characters, full-width digits, no road, a name and phone number around it, one wrong character
in a long compound name); addresses that are *not* in the district must resolve to nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from opencc import OpenCC

from dispatch.geo.coords import haversine_km
from dispatch.geo.gazetteer import Gazetteer, GazetteerPlace
from models import PlaceKind

_s2t = OpenCC("s2t")
_CN = "零一二三四五六七八九"
NEGATIVES = (
    "北京市海淀区中关村大街27号",
    "上海市浦东新区世纪大道100号",
    "月亮湾花园8幢3单元",
    "滨江区江南大道3888号",
    "我家住在楼上",
    "幸福里小区12号楼",
    "天堂软件园B座",
)
CORRECT_M = 60.0  # within this of the true building counts as right
WRONG_M = 500.0  # farther than this is a wrong place (worse than no answer)


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[ones] if ones else "")


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


@dataclass
class GeoEval:
    cases: int = 0
    building: int = 0
    compound_or_better: int = 0
    unresolved: int = 0
    wrong: int = 0
    negatives: int = 0
    false_positives: int = 0
    by_variant: Counter[str] = field(default_factory=Counter)
    misses_by_variant: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def format(self) -> str:
        pct = lambda n, d: f"{100 * n / d:5.1f} %" if d else "  n/a"  # noqa: E731
        lines = [
            f"addresses:              {self.cases}",
            f"right building (≤{CORRECT_M:.0f} m): {pct(self.building, self.cases)} ({self.building})",
            f"right compound or better: {pct(self.compound_or_better, self.cases)}",
            f"unresolved:             {pct(self.unresolved, self.cases)} ({self.unresolved})",
            f"wrong place (>{WRONG_M:.0f} m):  {pct(self.wrong, self.cases)} ({self.wrong})",
            f"outside addresses resolved anyway: {self.false_positives}/{self.negatives}",
            "misses by variant: "
            + ", ".join(f"{k} {self.misses_by_variant[k]}/{v}" for k, v in sorted(self.by_variant.items())),
        ]
        return "\n".join(lines + [f"  e.g. {e}" for e in self.examples[:8]])


def _variants(
    rng: random.Random, road: str, number: int, compound: GazetteerPlace, building_no: int
) -> dict[str, str]:
    name = compound.name
    unit, room = rng.randint(1, 4), rng.choice((101, 202, 301, 502, 601, 1203))
    alias = compound.aliases[0] if compound.aliases else name
    variants = {
        "canonical": f"{road}{number}号 {name} {building_no}幢{unit}单元{room}室",
        "no_road": f"{name}{building_no}幢{unit}单元{room}",
        "hao_lou": f"{name}{building_no}号楼{unit}单元{room}室",
        "dong": f"{road}{number}号{name}{building_no}栋",
        "cn_numerals": f"{name}{_cn_number(building_no)}号楼{_cn_number(unit)}单元",
        "alias": f"{alias}{building_no}幢",
        "traditional": _s2t.convert(f"{road}{number}号{name}{building_no}幢{unit}单元"),
        "full_width": _full_width(f"{name}{building_no}号楼{unit}单元{room}室"),
        "with_noise": f"张阿姨13805711234反映，住{name}{building_no}幢{unit}单元，家里没电了",
    }
    if len(name) >= 5:  # one wrong character, only where the name is long enough to tell
        i = rng.randrange(1, len(name) - 1)
        wrong = "家" if name[i] != "家" else "园"
        variants["typo"] = f"{name[:i]}{wrong}{name[i + 1 :]}{building_no}幢"
    for suffix in ("花园", "公寓", "新村", "家园"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 3:
            variants["suffix_swap"] = f"{name[: -len(suffix)]}小区{building_no}幢"
    return variants


def evaluate_geocoder(gazetteer: Gazetteer, *, seed: int = 7, per_compound: int = 3) -> GeoEval:
    rng = random.Random(seed)
    places = gazetteer.places
    roads = [p for p in places.values() if p.kind == PlaceKind.ROAD]
    result = GeoEval()
    by_compound: dict[int, list[GazetteerPlace]] = {}
    for p in places.values():
        if p.kind == PlaceKind.BUILDING and p.parent_id is not None:
            by_compound.setdefault(p.parent_id, []).append(p)
    for compound_id, buildings in sorted(by_compound.items()):
        compound = places[compound_id]
        near_roads = sorted(roads, key=lambda r: haversine_km(r.lat, r.lon, compound.lat, compound.lon))
        for building in rng.sample(buildings, min(per_compound, len(buildings))):
            digits = "".join(c for c in building.name if c.isdigit())
            if not digits:
                continue
            variants = _variants(rng, near_roads[0].name, rng.randint(1, 399), compound, int(digits))
            for variant, text in variants.items():
                result.cases += 1
                result.by_variant[variant] += 1
                _score(result, gazetteer.resolve, text, variant, building, compound)
    for text in NEGATIVES:
        result.negatives += 1
        if gazetteer.resolve(text) is not None:
            result.false_positives += 1
            result.examples.append(f"outside address resolved: {text}")
    return result


def _score(
    result: GeoEval,
    resolve: Callable[[str], object],
    text: str,
    variant: str,
    building: GazetteerPlace,
    compound: GazetteerPlace,
) -> None:
    found = resolve(text)
    if found is None:
        result.unresolved += 1
        result.misses_by_variant[variant] += 1
        result.examples.append(f"unresolved [{variant}]: {text}")
        return
    off_m = haversine_km(found.lat, found.lon, building.lat, building.lon) * 1000  # type: ignore[attr-defined]
    if off_m <= CORRECT_M:
        result.building += 1
        result.compound_or_better += 1
        return
    result.misses_by_variant[variant] += 1
    if found.place_id == compound.id:  # type: ignore[attr-defined]
        result.compound_or_better += 1
    elif off_m > WRONG_M:
        result.wrong += 1
        result.examples.append(f"wrong place [{variant}]: {text} → {found.matched}")  # type: ignore[attr-defined]
