"""The demo district: 杭州市西湖区, four street offices north of the lake (static data, pure helpers).

Street offices are real (西溪, 翠苑, 文新, 蒋村 街道); community and compound names are real where we
know them and plausible otherwise; centre points are WGS-84 and spread as the real streets are,
about 8 km from 曙光路 in the east to 五常大道 in the west. Positions inside a community are
offsets in metres from its centre, so the layout stays readable.

Canonical address form (what residents' and orders' ``address`` hold, and what the gazetteer
geocoder resolves, along with its variations)::

    文二路168号 翠苑一区 3幢2单元501室

road + house number + 号, a space, the compound, a space, then building 幢, unit 单元 and room 室
run together. Parts that are unknown are left out (``文三路88号``, ``翠苑一区 3幢``). Numbers are
Arabic; the building is always written ``N幢`` (its ``Place`` row lists ``N号楼|N栋`` as aliases).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CITY = "杭州市"
DISTRICT_CODE = "D330106"  # the national administrative code of 西湖区; also the "already seeded" marker
DISTRICT_NAME = "西湖区"
LANDLINE_PREFIX = "+86571"  # Hangzhou area code

METRES_PER_DEGREE_LAT = 111_320.0


@dataclass(frozen=True, slots=True)
class StreetSpec:
    code: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class CommunitySpec:
    code: str
    street_code: str
    name: str
    east_m: int  # offset of the community centre from its street office's centre
    north_m: int
    roads: tuple[str, str]  # the roads its compounds are numbered on
    compounds: tuple[tuple[str, str], ...]  # (name, "|"-separated aliases)


@dataclass(frozen=True, slots=True)
class LandmarkSpec:
    name: str
    aliases: str
    community_code: str
    east_m: int  # offset from the community centre
    north_m: int


STREETS = (
    StreetSpec("S01", "西溪街道", 30.2745, 120.1430),
    StreetSpec("S02", "翠苑街道", 30.2870, 120.1230),
    StreetSpec("S03", "文新街道", 30.2945, 120.1040),
    StreetSpec("S04", "蒋村街道", 30.2810, 120.0790),
)

COMMUNITIES = (
    CommunitySpec(
        "C01-01",
        "S01",
        "曙光新村社区",
        600,
        -300,
        ("曙光路", "求智巷"),
        (("曙光新村", "曙光小区"), ("求智苑", ""), ("嘉绿苑", "嘉绿小区"), ("黄龙公寓", "")),
    ),
    CommunitySpec(
        "C01-02",
        "S01",
        "花园新村社区",
        -500,
        -500,
        ("竞舟路", "天目山路"),
        (
            ("花园新村", "花园小区"),
            ("保俶花园", "保俶小区"),
            ("竞舟苑", ""),
            ("西溪新村", ""),
            ("教工宿舍", "教工小区"),
        ),
    ),
    CommunitySpec(
        "C01-03",
        "S01",
        "松木场社区",
        400,
        700,
        ("保俶路", "马塍路"),
        (("松木场小区", "松木场"), ("宝石花园", "宝石小区"), ("马塍苑", "")),
    ),
    CommunitySpec(
        "C02-01",
        "S02",
        "翠苑一区社区",
        -300,
        500,
        ("文二路", "学院路"),
        (("翠苑一区", "翠一小区|翠苑1区"), ("文锦苑", ""), ("紫桂花园", "紫桂小区"), ("学院公寓", "")),
    ),
    CommunitySpec(
        "C02-02",
        "S02",
        "翠苑三区社区",
        -600,
        -450,
        ("文三路", "古翠路"),
        (("翠苑三区", "翠三小区|翠苑3区"), ("翠柏苑", ""), ("古翠公寓", ""), ("雅仕苑", "")),
    ),
    CommunitySpec(
        "C02-03",
        "S02",
        "万塘社区",
        650,
        150,
        ("万塘路", "文一路"),
        (
            ("万塘苑", ""),
            ("嘉华花园", "嘉华小区"),
            ("文鼎苑", ""),
            ("星洲花园", "星洲小区"),
            ("文一新村", ""),
        ),
    ),
    CommunitySpec(
        "C03-01",
        "S03",
        "德加社区",
        -550,
        400,
        ("丰潭路", "文二西路"),
        (("德加公寓", ""), ("金都华府", ""), ("清水湾花园", "清水湾")),
    ),
    CommunitySpec(
        "C03-02",
        "S03",
        "益乐社区",
        600,
        -350,
        ("益乐路", "紫荆花路"),
        (("益乐新村", "益乐小区"), ("华门自由都", "自由都"), ("丰庆苑", ""), ("香樟公寓", "")),
    ),
    CommunitySpec(
        "C03-03",
        "S03",
        "丰潭社区",
        -200,
        -650,
        ("余杭塘路", "古墩路"),
        (("丰潭公寓", ""), ("紫荆家园", "紫荆小区"), ("和家园", ""), ("天时苑", "")),
    ),
    CommunitySpec(
        "C04-01",
        "S04",
        "蒋村花园社区",
        500,
        450,
        ("蒋村街", "紫金港路"),
        (("蒋村花园", "蒋村小区"), ("西溪诚园", ""), ("水印康庭", ""), ("金色蓝庭", "")),
    ),
    CommunitySpec(
        "C04-02",
        "S04",
        "府苑社区",
        -700,
        200,
        ("五常大道", "文一西路"),
        (("府苑新村", "府苑小区"), ("西溪山庄", ""), ("桂语苑", ""), ("翡翠城", "")),
    ),
    CommunitySpec(
        "C04-03",
        "S04",
        "龙章社区",
        150,
        -700,
        ("龙章路", "荆山巷"),
        (("龙章花园", "龙章小区"), ("文鑫苑", ""), ("西溪里", ""), ("锦绣公寓", "")),
    ),
)

GRIDS_PER_COMMUNITY = 4
# Grid centres: the four quadrants of the community, ~350 m out.
GRID_OFFSETS_M = ((-350, 350), (350, 350), (-350, -350), (350, -350))

LANDMARKS = (
    LandmarkSpec("西溪街道社区卫生服务中心", "西溪卫生服务中心", "C01-02", 150, 220),
    LandmarkSpec("翠苑街道社区卫生服务中心", "翠苑卫生服务中心", "C02-01", -180, -120),
    LandmarkSpec("文新街道社区卫生服务中心", "文新卫生服务中心", "C03-01", 200, -150),
    LandmarkSpec("蒋村街道社区卫生服务中心", "蒋村卫生服务中心", "C04-01", -160, 180),
    LandmarkSpec("杭州市学军小学", "学军小学", "C01-03", -220, 90),
    LandmarkSpec("杭州市翠苑第一小学", "翠苑一小", "C02-01", 260, 160),
    LandmarkSpec("杭州市文新小学", "文新小学", "C03-02", -140, 230),
    LandmarkSpec("杭州市蒋村小学", "蒋村小学", "C04-02", 190, -210),
    LandmarkSpec("黄龙体育中心", "黄龙体育场", "C01-01", 300, 380),
    LandmarkSpec("翠苑文化公园", "翠苑公园", "C02-02", 240, 260),
    LandmarkSpec("文新公园", "", "C03-03", -260, 120),
    LandmarkSpec("西溪国家湿地公园", "西溪湿地", "C04-03", -380, -320),
    LandmarkSpec("曙光路菜市场", "曙光菜场", "C01-01", -150, -200),
    LandmarkSpec("翠苑菜市场", "翠苑菜场", "C02-03", -200, 140),
    LandmarkSpec("益乐农贸市场", "益乐菜场", "C03-02", 170, 120),
    LandmarkSpec("蒋村农贸市场", "蒋村菜场", "C04-01", 220, -140),
    LandmarkSpec("西湖区老年活动中心", "老年活动中心", "C01-02", -260, -100),
    LandmarkSpec("西湖区行政服务中心", "区行政服务中心", "C02-03", 120, -260),
)


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point ``east_m`` metres east and ``north_m`` metres north (flat-earth; fine within a city)."""
    dlat = north_m / METRES_PER_DEGREE_LAT
    dlon = east_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def street_index(street_code: str) -> int:
    return int(street_code[1:])


def grid_code(community_code: str, number: int) -> str:
    """``C01-02`` + 3 → ``G01-02-3``."""
    return f"G{community_code[1:]}-{number}"


def grid_name(community_name: str, number: int) -> str:
    return f"{community_name.removesuffix('社区')}第{number}网格"


def building_name(number: int) -> str:
    return f"{number}幢"


def building_aliases(number: int) -> str:
    return f"{number}号楼|{number}栋"


def format_address(
    road: str,
    number: int | str | None,
    compound: str = "",
    building: int | str | None = None,
    unit: int | str | None = None,
    room: int | str | None = None,
) -> str:
    """The canonical address text, e.g. ``文二路168号 翠苑一区 3幢2单元501室`` (see the module doc).

    ``building`` may be a number (3) or a building name ending in 幢 ("3幢").
    """
    parts = []
    if road:
        parts.append(f"{road}{number}号" if number not in (None, "") else road)
    if compound:
        parts.append(compound)
    flat = ""
    if building not in (None, ""):
        text = str(building)
        flat += text if text.endswith("幢") else f"{text}幢"
    if unit not in (None, ""):
        flat += f"{unit}单元"
    if room not in (None, ""):
        flat += f"{room}室"
    if flat:
        parts.append(flat)
    return " ".join(parts)
