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

from dispatch.residents.phones import national
from dispatch.residents.privacy import mask_address, mask_name, mask_phone, mask_phones_in_text
from models import Area, Category, Item, Order, OrderStatus, Provider, Resident

COLUMNS = (
    "number",
    "created_at",
    "status",
    "channel",
    "priority",
    "item_code",
    "item_name",
    "category_code",
    "description",
    "resident_id",
    "resident_name",
    "resident_tags",
    "caller_phone",
    "address",
    "community",
    "provider",
    "completed_at",
    "rating_stars",
)


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
    """The orders created in [start, end), oldest first, as CSV cells in ``COLUMNS`` order."""
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

    def local(moment: datetime | None) -> str:
        return moment.astimezone(tz).isoformat(timespec="seconds") if moment else ""

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
                o.resident_id if personal and o.resident_id else "",
                name,
                tags,
                phone,
                address,
                community_name or "",
                provider or "",
                local(o.completed_at),
                o.rating_stars if o.rating_stars is not None else "",
            ],
        )
