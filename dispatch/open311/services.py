"""The catalogue as Open311 services: one service per active item, and the attributes some need.

Two kinds of attribute (the spec's service definition):
- ``safety_notice`` (``variable: false``, information only) on every item with a safety notice,
  so an application shows it before the resident submits (e.g. verify identity before 开锁);
- ``preferred_time`` (a single choice, optional) on every home-visit item: when the resident would
  like the visit. It is written on the order's timeline for the call centre and the worker.
An item with neither has ``metadata: false`` and a definition with an empty attribute list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from dispatch.errors import BadRequest
from models import Category, Item

MAX_KEYWORDS = 20


@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    description: str
    datatype_description: str
    order: int
    required: bool = False
    variable: bool = True
    values: tuple[Value, ...] = field(default_factory=tuple)

    def out(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
            "values": [{"key": v.key, "name": v.name} for v in self.values],
        }


PREFERRED_TIME = Attribute(
    code="preferred_time",
    datatype="singlevaluelist",
    description="希望上门的时间段",
    datatype_description="从下列时间段中选一项；不选表示任何时间都可以",
    order=2,
    values=(
        Value("morning", "上午（8:00–12:00）"),
        Value("afternoon", "下午（12:00–18:00）"),
        Value("evening", "晚上（18:00–20:00）"),
        Value("anytime", "任何时间"),
    ),
)


def attributes_of(item: Item) -> list[Attribute]:
    found = []
    if item.notice:
        found.append(
            Attribute(
                code="safety_notice",
                datatype="text",
                description=f"安全提示：{item.notice}",
                datatype_description="仅供阅读，无需填写",
                order=1,
                variable=False,
            )
        )
    if item.home_visit:
        found.append(PREFERRED_TIME)
    return found


_ACTIVE = (
    select(Item)
    .join(Item.category)
    .options(contains_eager(Item.category))
    .where(Item.active, Category.active)
)


def active_items(session: Session) -> list[Item]:
    return list(session.scalars(_ACTIVE.order_by(Category.code, Item.code)))


def active_item(session: Session, code: str) -> Item | None:
    return session.scalar(_ACTIVE.where(Item.code == code))


def service_out(item: Item) -> dict[str, Any]:
    words = [w.strip() for w in item.keywords.split("|") if w.strip()][:MAX_KEYWORDS]
    return {
        "service_code": item.code,
        "service_name": item.name_zh,
        "description": item.name_en and f"{item.name_zh}（{item.name_en}）" or item.name_zh,
        "metadata": bool(attributes_of(item)),
        "type": "realtime",
        "keywords": ",".join(words),
        "group": item.category.name_zh,
    }


def definition_out(item: Item) -> dict[str, Any]:
    return {"service_code": item.code, "attributes": [a.out() for a in attributes_of(item)]}


def check_attributes(item: Item, given: Mapping[str, str]) -> dict[str, str]:
    """The ``attribute[code]`` values of a request, checked against the item's definition."""
    known = {a.code: a for a in attributes_of(item) if a.variable}
    for code, value in given.items():
        attribute = known.get(code)
        if attribute is None:
            raise BadRequest(
                f"attribute[{code}]: service {item.code} has no such attribute",
                code="unknown_attribute",
                message=f"attribute[{code}]：服务 {item.code} 没有这一项，请按服务定义填写",
            )
        keys = [v.key for v in attribute.values]
        if keys and value not in keys:
            raise BadRequest(
                f"attribute[{code}]: {value!r} is not one of {', '.join(keys)}",
                code="invalid_attribute",
                message=f"attribute[{code}]：“{value}”不是可选的值（可选：{'、'.join(keys)}）",
            )
    for attribute in known.values():
        if attribute.required and attribute.code not in given:
            raise BadRequest(
                f"attribute[{attribute.code}] is required",
                code="missing_attribute",
                message=f"attribute[{attribute.code}]：请填写{attribute.description}",
            )
    return dict(given)


def describe_attributes(item: Item, values: Mapping[str, str]) -> str:
    """The chosen values in words, for the order's timeline (希望上门时间：上午（8:00–12:00）)."""
    said = []
    for attribute in attributes_of(item):
        chosen = values.get(attribute.code)
        if chosen is None:
            continue
        name = next((v.name for v in attribute.values if v.key == chosen), chosen)
        said.append(f"{attribute.description}：{name}")
    return "；".join(said)
