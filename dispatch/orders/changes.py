"""Every order that got a timeline event is noted for the live screens (``dispatch.changes``): the
call centre hears of all of them, providers of those they hold, held or were offered (they must
hear that it went elsewhere). The note keeps the order's state as of its last event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from dispatch import changes
from dispatch.residents.privacy import mask_actor
from models import Offer, Order


def note(
    session: Session,
    order: Order,
    *,
    action: str,
    actor: str,
    at: datetime,
    providers: Iterable[int | None] = (),
) -> None:
    concerned = {p for p in (order.provider_id, order.worker_id, *providers) if p is not None}
    changes.note(
        session,
        "order",
        order.id,
        {
            "id": order.id,
            "number": order.number,
            "status": order.status.value,
            "supervision": order.supervision.value,
            "action": action,
            # A resident acting by SMS, phone menu or app is named by a masked number: providers
            # hear of their orders' changes too.
            "actor": mask_actor(actor),
            "at": at.isoformat(),
            "provider_id": order.provider_id,
            "supervisor_queue_reason": order.supervisor_queue_reason,
        },
        changes.CALL_CENTRE | {f"provider:{p}" for p in concerned},
    )


def note_offer(session: Session, order: Order, offer: Offer, *, item_code: str, item_name: str) -> None:
    """A new offer, for the phones of the provider it went to: what a worker needs to decide at
    once (what, where, how far from their base, by when to sign for it) — nothing of the resident."""
    changes.note(
        session,
        "offer",
        offer.id,
        {
            "offer_id": offer.id,
            "order_id": order.id,
            "number": order.number,
            "item_code": item_code,
            "item_name": item_name,
            "priority": order.priority.value,
            "address": order.address,
            "lat": order.lat,
            "lon": order.lon,
            "distance_km": offer.distance_km,
            "sign_by": offer.sign_by.isoformat() if offer.sign_by else None,
            "complete_by": order.complete_by.isoformat() if order.complete_by else None,
            "provider_id": offer.provider_id,
        },
        {f"provider:{offer.provider_id}"},
    )
