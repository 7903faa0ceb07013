"""Orders as spreadsheet rows, for supervisors' own analysis: masked, or with personal data.

Masked (the default) is what a spreadsheet on a desk or in an e-mail may hold: the resident's
surname only, the number masked, the address without house, building or room numbers, numbers in
the description masked, no tags. With personal data (an admin, for a reason, recorded row by row
in the access trail) the same columns carry the whole name, number, address, description and tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from dispatch.orders.state import LABELS_ZH
from dispatch.reports.xlsx import Column, Kind
from dispatch.residents.phones import national
from dispatch.residents.privacy import mask_address, mask_name, mask_phone, mask_phones_in_text
from models import Area, Category, Item, Order, OrderStatus, Provider, Resident

# (machine name, Chinese title, kind): the headers of the CSV for scripts (layout=raw), and of the
# CSV for people (layout=zh) and the workbook.
FIELDS: tuple[tuple[str, str, Kind], ...] = (
    ("number", "工单编号", "text"),
    ("created_at", "受理时间", "datetime"),
    ("status", "状态", "text"),
    ("channel", "渠道", "text"),
    ("priority", "紧急程度", "text"),
    ("item_code", "服务项目编码", "text"),
    ("item_name", "服务项目", "text"),
    ("category_code", "类别编码", "text"),
    ("description", "诉求内容", "text"),
    ("resident_id", "居民编号", "count"),
    ("resident_name", "居民姓名", "text"),
    ("resident_tags", "居民标签", "text"),
    ("caller_phone", "来电号码", "text"),
    ("address", "地址", "text"),
    ("community", "社区", "text"),
    ("provider", "服务方", "text"),
    ("completed_at", "办结时间", "datetime"),
    ("rating_stars", "评价星级", "count"),
)
COLUMNS = tuple(name for name, _, _ in FIELDS)
TITLES = tuple(
    Column(title, kind, 40 if name in ("description", "address") else None) for name, title, kind in FIELDS
)
STATUS_ZH = {s.value: label for s, label in LABELS_ZH.items()}
CHANNELS_ZH = {
    "phone": "电话",
    "ivr": "语音导航",
    "sms": "短信",
    "web": "网上",
    "app": "居民App",
    "visit": "上门",
}
PRIORITIES_ZH = {"normal": "一般", "urgent": "紧急"}


def readable(cells: list[object]) -> list[object]:
    """A row for people (the workbook): status, channel and priority in Chinese."""
    out = list(cells)
    for name, labels in (("status", STATUS_ZH), ("channel", CHANNELS_ZH), ("priority", PRIORITIES_ZH)):
        i = COLUMNS.index(name)
        out[i] = labels.get(str(out[i]), out[i])
    return out


def as_text(cells: list[object]) -> list[object]:
    """A row for the CSV for scripts (``layout=raw``): times as local ISO 8601 to the second,
    missing values empty."""
    return [
        c.isoformat(timespec="seconds") if isinstance(c, datetime) else "" if c is None else c for c in cells
    ]


def for_people(cells: list[object]) -> list[object]:
    """A row for the CSV for people (``layout=zh``): :func:`readable`, times as local
    ``2026-11-03 14:05`` as in the workbook, missing values empty."""
    return [
        c.strftime("%Y-%m-%d %H:%M") if isinstance(c, datetime) else "" if c is None else c
        for c in readable(cells)
    ]


@dataclass(frozen=True)
class ExportedRow:
    order_id: int
    resident_id: int | None
    cells: list[object]


def count(session: Session, *, start: datetime, end: datetime, status: OrderStatus | None) -> int:
    stmt = select(func.count()).select_from(Order).where(Order.created_at >= start, Order.created_at < end)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return session.scalar(stmt) or 0


def rows(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    status: OrderStatus | None,
    personal: bool,
    region: str,
    tz: ZoneInfo,
) -> Iterator[ExportedRow]:
    """The orders created in [start, end), oldest first, as cells in ``COLUMNS`` order (times as
    local date-times, missing values None: see :func:`as_text` and :func:`readable`)."""
    community = aliased(Area)
    stmt = (
        select(Order, Item.code, Item.name_zh, Category.code, Resident, community.name, Provider.name)
        .join(Item, Item.id == Order.item_id)
        .join(Category, Category.id == Order.category_id)
        .outerjoin(Resident, Resident.id == Order.resident_id)
        .outerjoin(community, community.id == Order.community_id)
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(Order.created_at >= start, Order.created_at < end)
        .order_by(Order.created_at, Order.id)
    )
    if status is not None:
        stmt = stmt.where(Order.status == status)

    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(tz) if moment else None

    for o, item_code, item_name, category_code, r, community_name, provider in session.execute(stmt):
        if personal:
            name = r.name if r else ""
            tags = "、".join(r.tags or []) if r else ""
            phone = national(o.caller_phone, region) if o.caller_phone else ""
            address, description = o.address, o.description
        else:
            name, tags = mask_name(r.name) if r else "", ""
            phone = mask_phone(o.caller_phone, region)
            address, description = mask_address(o.address), mask_phones_in_text(o.description, region)
        yield ExportedRow(
            o.id,
            o.resident_id,
            [
                o.number,
                local(o.created_at),
                o.status.value,
                o.channel.value,
                o.priority.value,
                item_code,
                item_name,
                category_code,
                description,
                o.resident_id if personal and o.resident_id else None,
                name,
                tags,
                phone,
                address,
                community_name or "",
                provider or "",
                local(o.completed_at),
                o.rating_stars,
            ],
        )
