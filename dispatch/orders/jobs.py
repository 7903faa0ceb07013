"""The worker's itinerary: the orders on their hands and the offers waiting for them, as job cards
in visit order, each with what the worker needs at the door and may see (``residents.privacy``).

Visit order: by the day the work is due (the complete-by deadline, local time), then by distance
from where the worker is, then by the deadline itself. A check-in changes neither, so a card does
not jump when the worker arrives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispatch.audit.service import Access, Seen, record_many
from dispatch.geo.coords import geodesic_km
from dispatch.orders import policy, repository
from dispatch.orders.views import OrderViews
from dispatch.residents.privacy import HELD, View, mask_phones_in_text
from models import Item, Offer, OfferStatus, Order, OrderStatus, User


@dataclass(frozen=True)
class Here:
    lat: float
    lon: float


def map_links(lat: float | None, lon: float | None, *, title: str, address: str) -> dict[str, str] | None:
    """A ``geo:`` URI (Android opens the map app chosen) and the AMap and Baidu marker pages
    (they open the app when installed), all for the WGS-84 point; None without coordinates."""
    if lat is None or lon is None:
        return None
    label = address or title
    return {
        "geo": f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(label)})",
        "amap": f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}&name={quote(label)}"
        "&coordinate=wgs84&callnative=1&src=sanshe",
        "baidu": f"https://api.map.baidu.com/marker?location={lat:.6f},{lon:.6f}&title={quote(title)}"
        f"&content={quote(address)}&output=html&coord_type=wgs84&src=sanshe",
    }


def _distance_m(here: Here | None, o: Order) -> int | None:
    if here is None or o.lat is None or o.lon is None:
        return None
    return round(geodesic_km(here.lat, here.lon, o.lat, o.lon) * 1000)


def jobs_of(
    session: Session, user: User, *, here: Here | None, region: str, tz: ZoneInfo, now: datetime
) -> list[dict[str, Any]]:
    scope = repository.provider_scope(session, user) or []
    if not scope:
        return []
    offered_to = select(Offer.order_id).where(
        Offer.provider_id.in_(scope), Offer.status == OfferStatus.PENDING
    )
    orders = list(
        session.scalars(
            select(Order).where(
                or_(
                    (or_(Order.provider_id.in_(scope), Order.worker_id.in_(scope)) & Order.status.in_(HELD)),
                    (Order.status == OrderStatus.OFFERED) & Order.id.in_(offered_to),
                )
            )
        )
    )
    if not orders:
        return []
    offers = {
        o.order_id: o
        for o in session.scalars(
            select(Offer).where(
                Offer.order_id.in_([o.id for o in orders]),
                Offer.provider_id.in_(scope),
                Offer.status == OfferStatus.PENDING,
            )
        )
    }
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_({o.item_id for o in orders})))}
    views = OrderViews(session, user, region=region, view=View.DETAIL, tz=tz).load(orders)

    cards = []
    shown: list[Seen] = []
    for o in orders:
        seen = views.exposure(o)
        if seen.any_personal and o.resident_id is not None:
            shown.append(Seen(o.resident_id, o.id))
        item = items[o.item_id]
        offer = offers.get(o.id)
        held = o.status in HELD
        resident = views.resident(o, seen)
        cards.append(
            {
                "kind": "job" if held else "offer",
                "order_id": o.id,
                "number": o.number,
                "status": o.status.value,
                "priority": o.priority.value,
                "item_code": item.code,
                "item_name": item.name_zh,
                "description": o.description if held else mask_phones_in_text(o.description, region),
                "resident": {"name": resident["name"], "tags": resident["tags"] or []} if resident else None,
                **views.phone(o, seen),
                "address": o.address,
                "lat": o.lat,
                "lon": o.lon,
                "map_links": map_links(
                    o.lat, o.lon, title=f"工单{o.number} {item.name_zh}", address=o.address
                ),
                "safety_notice": item.notice,
                "sign_by": offer.sign_by if offer else None,
                "complete_by": o.complete_by,
                "preferred_from": o.preferred_from,
                "preferred_to": o.preferred_to,
                "distance_m": _distance_m(here, o),
                "offer_distance_km": offer.distance_km if offer else None,
                "checked_in_at": o.arrived_at,
                "checked_out_at": o.checkout_at,
                "allowed_actions": policy.allowed_actions(o, user, views.scope),
            }
        )
    if shown:
        record_many(session, user, Access.ORDER_DETAIL, shown, at=now, detail="job_card")

    def visit_order(card: dict[str, Any]) -> tuple[Any, ...]:
        due: datetime | None = card["complete_by"]
        day = due.astimezone(tz).date().toordinal() if due else math.inf
        distance = card["distance_m"] if card["distance_m"] is not None else math.inf
        return (day, distance, due.timestamp() if due else math.inf, card["order_id"])

    return sorted(cards, key=visit_order)
