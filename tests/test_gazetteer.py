"""Offline gazetteer resolution on a small hand-made district."""

from __future__ import annotations

import pytest

from dispatch.geo.gazetteer import AreaPoint, Gazetteer, GazetteerPlace, normalise_address
from models import AreaKind, PlaceKind

AREAS = [
    AreaPoint(1, AreaKind.DISTRICT, "西湖区", None, 30.26, 120.13),
    AreaPoint(2, AreaKind.STREET, "翠苑街道", 1, 30.29, 120.12),
    AreaPoint(3, AreaKind.COMMUNITY, "翠苑一区社区", 2, 30.290, 120.120),
    AreaPoint(4, AreaKind.COMMUNITY, "文新社区", 2, 30.300, 120.100),
    AreaPoint(5, AreaKind.GRID, "翠苑一区第1网格", 3, 30.291, 120.121),
    AreaPoint(6, AreaKind.GRID, "文新第1网格", 4, 30.301, 120.101),
]


def place(id_, kind, name, lat, lon, *, aliases=(), parent=None, community=3, grid=5) -> GazetteerPlace:
    return GazetteerPlace(id_, kind, name, tuple(aliases), parent, community, grid, lat, lon)


PLACES = [
    place(10, PlaceKind.ROAD, "文三路", 30.285, 120.125),
    place(11, PlaceKind.ROAD, "学院路", 30.280, 120.130),
    place(20, PlaceKind.COMPOUND, "阳光花园", 30.2905, 120.1205, aliases=("阳光小区",)),
    place(21, PlaceKind.COMPOUND, "翠苑一区", 30.2895, 120.1195),
    place(22, PlaceKind.COMPOUND, "文新家园", 30.3005, 120.1005, community=4, grid=6),
    place(23, PlaceKind.COMPOUND, "阳光", 30.2990, 120.1100, community=4, grid=6),
    place(24, PlaceKind.COMPOUND, "紫金港花园", 30.2950, 120.1150),
    place(33, PlaceKind.BUILDING, "5幢", 30.2951, 120.1151, parent=24),
    place(30, PlaceKind.BUILDING, "3幢", 30.2906, 120.1206, parent=20),
    place(31, PlaceKind.BUILDING, "12幢", 30.2907, 120.1207, parent=20),
    place(32, PlaceKind.BUILDING, "3幢", 30.3006, 120.1006, parent=22, community=4, grid=6),
    place(40, PlaceKind.LANDMARK, "翠苑社区卫生服务中心", 30.2910, 120.1180),
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer(PLACES, AREAS)


def test_normalise() -> None:
    assert normalise_address("陽光花園 ３號樓 二单元 501室") == "阳光花园3号楼2单元501室"
    assert normalise_address("十二幢") == "12幢"
    assert normalise_address("二十三栋一百零五室") == "23栋105室"


@pytest.mark.parametrize(
    ("text", "place_id", "precision"),
    [
        ("文三路 128号 阳光花园 3幢2单元501室", 30, "building"),
        ("阳光花园3号楼", 30, "building"),
        ("阳光花园三号楼二单元", 30, "building"),
        ("陽光花園十二幢", 31, "building"),
        ("阳光小区３栋", 30, "building"),  # alias, full-width digit, 栋 for 幢
        ("紫金岗花园5幢", 33, "building"),  # one wrong character in a five-character name
        ("阳光花园", 20, "compound"),
        ("阳光花园99幢", 20, "compound"),  # unknown building: fall back to the compound
        ("张阿姨 13800138000 住文新家园3幢 家里漏水", 32, "building"),
        ("翠苑社区卫生服务中心门口", 40, "landmark"),
        ("学院路边上", 11, "road"),
    ],
)
def test_resolves(gaz: Gazetteer, text: str, place_id: int, precision: str) -> None:
    found = gaz.resolve(text)
    assert found is not None, text
    assert (found.place_id, found.precision) == (place_id, precision)
    assert found.community_id is not None and found.grid_id is not None


def test_longer_exact_name_wins_over_contained_name(gaz: Gazetteer) -> None:
    # "阳光" is another compound; "阳光花园" contains it and must win.
    assert gaz.resolve("阳光花园3幢").place_id == 30
    assert gaz.resolve("阳光5号").place_id == 23


def test_community_fallback(gaz: Gazetteer) -> None:
    found = gaz.resolve("文新社区这边")
    assert found is not None and found.precision == "community" and found.community_id == 4
    assert found.grid_id == 6


@pytest.mark.parametrize(
    "text",
    ["", "   ", "北京市海淀区中关村大街1号", "我家漏水了", "月亮花园5幢", "翠苑二区3幢"],  # 二区 is not 一区
)
def test_returns_nothing_rather_than_a_wrong_place(gaz: Gazetteer, text: str) -> None:
    assert gaz.resolve(text) is None


def test_locate_point(gaz: Gazetteer) -> None:
    assert gaz.locate(30.2912, 120.1212) == (3, 5)
    assert gaz.locate(30.3011, 120.1011) == (4, 6)
    assert gaz.locate(31.5, 121.5) == (None, None)  # far outside the district
