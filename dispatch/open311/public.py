"""Orders as the public sees them through Open311: what happened, roughly where, never who.

This is a social-services hotline, so a request the public can read carries:
- no name, phone number or exact address of the resident: the address is the street office and
  community, the coordinates the centre of a grid cell ``[open311] coordinate_precision_m`` wide;
- the resident's description with every digit masked (phone and ID numbers, house, building and
  room numbers, ages), e-mail addresses removed and the resident's name cut to the surname (王**);
- ``status_notes`` in plain words from the steps a resident is told of (received, being arranged,
  who took it, arrived, done, cancelled), never a note staff wrote;
- ``agency_responsible``: the organisation that took the order (an independent worker: 服务人员,
  never a person's name);
- no ``media_url`` (photos are the order's and the resident's, not served publicly).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from dispatch.residents.privacy import mask_address, mask_name
from models import OPEN_STATUSES, Area, Category, Item, Order, OrderEvent, Provider, ProviderKind, Resident

METRES_PER_DEGREE = 111_320.0
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# The timeline's steps a resident is told of, in plain words ({org}: who took the order).
STATUS_NOTES = {
    "create": "已受理，正在安排服务",
    "offer": "正在安排服务人员",
    "decline": "正在重新安排服务人员",
    "expire": "正在重新安排服务人员",
    "withdraw": "正在重新安排服务人员",
    "accept": "{org}已接单，将按约定上门服务",
    "check_in": "服务人员已到达，正在服务",
    "complete": "服务已完成",
    "complete_direct": "已答复，办理完毕",
    "close": "服务已完成，已归档",
    "reopen": "已重新受理，正在安排服务",
    "cancel": "已撤销",
}
INDEPENDENT_WORKER = "服务人员"


def snap(lat: float, lon: float, metres: float) -> tuple[float, float]:
    """The centre of the grid cell, ``metres`` on a side, that holds the point."""
    step_lat = metres / METRES_PER_DEGREE
    cell_lat = (math.floor(lat / step_lat) + 0.5) * step_lat
    step_lon = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(cell_lat)), 0.01))
    cell_lon = (math.floor(lon / step_lon) + 0.5) * step_lon
    return round(cell_lat, 6), round(cell_lon, 6)


def public_text(text: str, names: Iterable[str] = ()) -> str:
    """A resident's words with their name, numbers and e-mail addresses taken out."""
    out = _EMAIL.sub("***", text or "")
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        out = out.replace(name, mask_name(name))
    return mask_address(out)


def open_or_closed(order: Order) -> str:
    return "open" if order.status in OPEN_STATUSES else "closed"


@dataclass(frozen=True)
class Filters:
    numbers: tuple[str, ...] = ()  # service_request_id: these, whatever the rest says
    codes: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset()  # open, closed
    start: datetime | None = None
    end: datetime | None = None


def find_orders(session: Session, filters: Filters, *, limit: int) -> list[Order]:
    stmt = select(Order).order_by(desc(Order.created_at), desc(Order.id)).limit(limit)
    if filters.numbers:
        return list(session.scalars(stmt.where(Order.number.in_(filters.numbers))))
    if filters.codes:
        stmt = stmt.where(Order.item_id.in_(select(Item.id).where(Item.code.in_(filters.codes))))
    if filters.statuses == {"open"}:
        stmt = stmt.where(Order.status.in_(OPEN_STATUSES))
    elif filters.statuses == {"closed"}:
        stmt = stmt.where(Order.status.not_in(OPEN_STATUSES))
    if filters.start is not None:
        stmt = stmt.where(Order.created_at >= filters.start)
    if filters.end is not None:
        stmt = stmt.where(Order.created_at <= filters.end)
    return list(session.scalars(stmt))


class PublicView:
    """The public fields of some orders; what they need is read once for all of them."""

    def __init__(self, session: Session, *, tz: ZoneInfo, precision_m: float) -> None:
        self.session = session
        self.tz = tz
        self.precision_m = precision_m
        self.items: dict[int, Item] = {}
        self.places: dict[int, str] = {}
        self.agencies: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self.steps: dict[int, str] = {}

    def load(self, orders: Collection[Order]) -> PublicView:
        s = self.session
        item_ids = {o.item_id for o in orders}
        if item_ids:
            rows = s.execute(select(Item, Category).join(Item.category).where(Item.id.in_(item_ids)))
            self.items = {item.id: item for item, _ in rows}
        self._load_places({o.community_id for o in orders if o.community_id is not None})
        self._load_agencies({o.provider_id for o in orders if o.provider_id is not None})
        resident_ids = {o.resident_id for o in orders if o.resident_id is not None}
        if resident_ids:
            self.names = dict(
                s.execute(select(Resident.id, Resident.name).where(Resident.id.in_(resident_ids))).all()
            )
        order_ids = [o.id for o in orders]
        if order_ids:
            last = (
                select(func.max(OrderEvent.id))
                .where(OrderEvent.order_id.in_(order_ids), OrderEvent.action.in_(STATUS_NOTES))
                .group_by(OrderEvent.order_id)
            )
            self.steps = dict(
                s.execute(select(OrderEvent.order_id, OrderEvent.action).where(OrderEvent.id.in_(last))).all()
            )
        return self

    def _load_places(self, community_ids: set[int]) -> None:
        if not community_ids:
            return
        communities = list(self.session.scalars(select(Area).where(Area.id.in_(community_ids))))
        parent_ids = {a.parent_id for a in communities if a.parent_id is not None}
        parents = dict(self.session.execute(select(Area.id, Area.name).where(Area.id.in_(parent_ids))).all())
        for area in communities:
            street = parents.get(area.parent_id) if area.parent_id is not None else None
            self.places[area.id] = f"{street} {area.name}" if street else area.name

    def _load_agencies(self, provider_ids: set[int]) -> None:
        if not provider_ids:
            return
        providers = list(self.session.scalars(select(Provider).where(Provider.id.in_(provider_ids))))
        org_ids = {p.organisation_id for p in providers if p.organisation_id is not None}
        orgs = dict(
            self.session.execute(select(Provider.id, Provider.name).where(Provider.id.in_(org_ids))).all()
        )
        for p in providers:
            if p.kind == ProviderKind.ORGANISATION:
                self.agencies[p.id] = p.name
            else:
                self.agencies[p.id] = orgs.get(p.organisation_id, INDEPENDENT_WORKER)

    def _time(self, value: datetime | None) -> str | None:
        return value.astimezone(self.tz).isoformat(timespec="seconds") if value is not None else None

    def out(self, order: Order) -> dict[str, Any]:
        item = self.items[order.item_id]
        agency = self.agencies.get(order.provider_id) if order.provider_id is not None else None
        step = self.steps.get(order.id, "create")
        lat = lon = None
        if order.lat is not None and order.lon is not None:
            lat, lon = snap(order.lat, order.lon, self.precision_m)
        name = self.names.get(order.resident_id) if order.resident_id is not None else None
        return {
            "service_request_id": order.number,
            "status": open_or_closed(order),
            "status_notes": STATUS_NOTES[step].format(org=agency or INDEPENDENT_WORKER),
            "service_name": item.name_zh,
            "service_code": item.code,
            "description": public_text(order.description, [name] if name else []),
            "agency_responsible": agency,
            "service_notice": item.notice or None,
            "requested_datetime": self._time(order.created_at),
            "updated_datetime": self._time(order.updated_at),
            "expected_datetime": self._time(order.complete_by),
            "address": self.places.get(order.community_id) if order.community_id is not None else None,
            "address_id": None,
            "zipcode": None,
            "lat": lat,
            "long": lon,
            "media_url": None,
        }
