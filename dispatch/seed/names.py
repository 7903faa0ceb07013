"""People and organisations of the demo district: names, phone numbers, provider line-up (static data)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dispatch.timelimits.hours import DAY_KEYS

# The commonest surnames, roughly by frequency (earlier = more likely).
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Given names that sound like people born in the 1940s–60s, and like younger people.
OLDER_MALE = _words(
    "建国 建华 国强 志强 德明 海平 永福 长生 建平 金根 根宝 国庆 志明 福根 荣华 庆丰 文忠 立新 卫东 振华 宝林 顺发 "
    "水根 阿毛 连生 有才 兴旺 伯年 鸿章 伟民"
)
OLDER_FEMALE = _words(
    "秀英 桂英 秀兰 玉兰 凤英 美珍 金凤 月娥 素珍 彩凤 雅琴 惠芳 兰英 阿娣 爱珍 菊芬 巧云 慧珍 杏花 小妹 翠英 月仙 "
    "招娣 宝珠 琴芳 美娟 雪琴 淑华 丽娟 金娣"
)
YOUNGER = _words(
    "伟 磊 杰 浩 静 婷 丽 敏 晨 雪 琳 倩 涛 斌 鹏 宇航 子轩 晓燕 佳怡 欣怡 思远 梓涵 "
    "俊杰 嘉豪 浩然 一鸣 文博 雨萱 诗涵 晓峰 海燕 丽华 建军 红梅 春燕 志刚 伟明 晓东 燕 芳 霞 军 超 洁 "
    "凯 晶 亮 慧敏 天宇 子涵 梦琪 佳豪 宏伟 雅婷 晓明 秀梅 玉婷 海波 永强 国华 丽萍 春梅 金龙 晓丽 俊 洋 "
    "颖 蕾 晓军 振宇"
)

MOBILE_PREFIXES = ("138", "139", "150")
VULNERABILITY_TAGS = ("独居老人", "空巢老人", "残疾", "低保", "特困", "失能", "留守儿童", "优抚对象")
# Tags of older people, drawn for residents with an older-style name.
OLDER_TAGS = ("独居老人", "空巢老人", "失能", "残疾", "低保", "优抚对象", "特困")
YOUNGER_TAGS = ("留守儿童", "残疾", "低保", "特困")


def surname(rng: random.Random) -> str:
    # Triangular weighting: the first surnames are much commoner than the last ones.
    n = len(SURNAMES)
    return SURNAMES[min(n - 1, int(rng.triangular(0, n, 0)))]


def person_name(rng: random.Random, *, older: bool | None = None) -> tuple[str, bool]:
    """A Chinese personal name and whether it sounds like an older person's."""
    if older is None:
        older = rng.random() < 0.55
    pool = (OLDER_MALE if rng.random() < 0.45 else OLDER_FEMALE) if older else YOUNGER
    return surname(rng) + rng.choice(pool), older


def mobile(rng: random.Random, used: set[str]) -> str:
    """A fictional but valid E.164 mainland mobile number, not in ``used`` (added to it)."""
    while True:
        number = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        if number not in used:
            used.add(number)
            return number


def landline(rng: random.Random, used: set[str]) -> str:
    """A fictional Hangzhou landline, +86 571 8xxxxxxx."""
    while True:
        number = f"+865718{rng.choice('5678')}{rng.randrange(10**6):06d}"
        if number not in used:
            used.add(number)
            return number


# Weekly working hours by style; an empty dict means always available (24×7).
WEEKDAYS = DAY_KEYS[:5]


def working_hours(style: str) -> dict[str, list[list[str]]]:
    if style == "24x7":
        return {}
    if style == "split":
        return {d: [["08:30", "11:30"], ["13:30", "17:30"]] for d in WEEKDAYS}
    if style == "weekend":
        return {d: [["08:00", "18:00"]] for d in DAY_KEYS}
    if style == "saturday":
        return {**{d: [["08:30", "17:30"]] for d in WEEKDAYS}, "sat": [["09:00", "12:00"]]}
    if style == "evening":
        return {d: [["12:00", "20:30"]] for d in DAY_KEYS}
    return {d: [["08:30", "17:30"]] for d in WEEKDAYS}


@dataclass(frozen=True, slots=True)
class OrgSpec:
    name: str
    services: tuple[str, ...]  # category codes (HOME) or item codes (HOME-01)
    hours: str  # a working_hours style
    workers: int
    home: str  # community code of the base
    communities: tuple[str, ...] = ()  # when set, the service area is these communities


ORGANISATIONS = (
    OrgSpec("西湖区颐乐居家养老服务中心", ("ELDER", "AST-08"), "weekend", 8, "C02-01"),
    OrgSpec("翠苑街道居家养老服务照料中心", ("ELDER",), "split", 5, "C02-02", ("C02-01", "C02-02", "C02-03")),
    OrgSpec(
        "夕阳红助老服务社",
        ("ELD-01", "ELD-02", "ELD-03", "ELD-04", "ELD-06", "ELD-10", "HOME-06"),
        "weekend",
        5,
        "C04-02",
    ),
    OrgSpec("康乐长者服务中心", ("ELDER", "HLT-02", "HLT-04"), "saturday", 5, "C03-02"),
    OrgSpec("安心家政服务有限公司", ("HOME",), "weekend", 7, "C01-02"),
    OrgSpec(
        "邻里帮便民维修服务社",
        ("HOME-01", "HOME-02", "HOME-03", "HOME-04", "HOME-05", "HOME-10", "PRP-01"),
        "24x7",
        6,
        "C03-01",
    ),
    OrgSpec("小蜜蜂家电清洗服务部", ("HOME-03", "HOME-06", "HOME-07"), "weekend", 4, "C04-01"),
    OrgSpec("乐邻生活代办服务社", ("ERRAND",), "weekend", 5, "C02-03"),
    OrgSpec("西湖区跑腿帮便民服务中心", ("ERRAND", "VOL-02"), "evening", 5, "C03-03"),
    OrgSpec("仁和护理服务中心", ("HEALTH", "AST-08"), "saturday", 6, "C01-01"),
    OrgSpec("心晴心理咨询工作室", ("HLT-06", "CHD-04", "ELD-10", "AST-06"), "standard", 3, "C02-02"),
    OrgSpec("彩虹青少年服务中心", ("CHILD",), "standard", 5, "C03-02"),
    OrgSpec("童心四点半课堂", ("CHD-01", "CHD-02", "CHD-05", "CHD-07", "CHD-09"), "standard", 3, "C01-03"),
    OrgSpec("西溪街道便民服务代办站", ("GOV",), "split", 4, "C01-02", ("C01-01", "C01-02", "C01-03")),
    OrgSpec(
        "蒋村街道政务代办服务中心",
        ("GOV", "JOBS"),
        "standard",
        4,
        "C04-01",
        ("C04-01", "C04-02", "C04-03"),
    ),
    OrgSpec("阳光法律援助工作站", ("LEGAL",), "standard", 4, "C02-03"),
    OrgSpec(
        "和事佬人民调解工作室",
        ("LEG-02", "LEG-03", "LEG-04", "LEG-07", "PRP-06", "PRP-10"),
        "weekend",
        4,
        "C03-03",
    ),
    OrgSpec(
        "法润社区法律服务站",
        ("LEG-01", "LEG-05", "LEG-06", "LEG-08", "LEG-09", "LEG-10"),
        "standard",
        3,
        "C04-03",
    ),
    OrgSpec(
        "西湖区助残服务中心", ("AST-01", "AST-02", "AST-03", "GOV-03", "JOB-07"), "standard", 5, "C02-02"
    ),
    OrgSpec("善行社会工作服务中心", ("ASSIST", "ELD-06"), "saturday", 6, "C01-02"),
    OrgSpec("知行禁毒社工服务社", ("AST-04", "AST-05", "CHD-08"), "standard", 3, "C03-01"),
    OrgSpec("宜居物业服务有限公司西湖分公司", ("PROP",), "24x7", 6, "C02-01"),
    OrgSpec("清风环境服务社", ("PRP-01", "PRP-03", "PRP-04", "ERR-05"), "weekend", 4, "C04-02"),
    OrgSpec("乐龄文化服务社", ("CULTURE",), "weekend", 3, "C01-01"),
    OrgSpec("书香邻里读书会", ("CUL-03", "CUL-05", "CUL-08", "CHD-07"), "weekend", 2, "C03-02"),
    OrgSpec("西湖区就业创业服务站", ("JOBS",), "split", 3, "C02-03"),
    OrgSpec("巧手家政职业培训学校", ("JOB-03", "JOB-10", "HOME-08", "HOME-09"), "standard", 3, "C04-03"),
    OrgSpec("西湖区志愿者协会", ("VOLUN",), "weekend", 4, "C02-02"),
    OrgSpec(
        "蓝天应急救援队西湖分队",
        ("VOL-03", "VOL-04", "VOL-05", "VOL-06", "VOL-07", "ELD-09", "HOME-10"),
        "24x7",
        6,
        "C04-01",
    ),
    OrgSpec(
        "时间银行互助社", ("VOL-01", "VOL-02", "VOL-08", "VOL-09", "VOL-10", "ELD-10"), "weekend", 3, "C01-03"
    ),
    OrgSpec("阳光家庭教育指导站", ("CHD-03", "CHD-06", "LEG-03", "LEG-08"), "24x7", 3, "C03-03"),
)

# Independent (持证) social workers: the items each one takes on.
INDEPENDENT_WORKERS = (
    ("ELD-06", "ELD-10", "AST-07"),
    ("AST-06", "HLT-06", "LEG-03"),
    ("CHD-03", "CHD-04", "CHD-08"),
    ("ELD-06", "ELD-07", "ELD-10", "AST-08"),
    ("LEG-02", "LEG-03", "LEG-07"),
    ("AST-01", "AST-07", "GOV-02", "GOV-10"),
    ("ELD-03", "ELD-04", "HOME-06"),
    ("AST-04", "AST-05", "AST-09"),
    ("CHD-05", "CHD-01", "CUL-10"),
    ("ELD-10", "CUL-10", "VOL-02"),
)
