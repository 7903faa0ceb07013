"""The append-only timeline: every change to an order is one OrderEvent row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from dispatch.orders import changes
from models import Order, OrderEvent, OrderStatus, User

# An event is written and never read back in the same request, so it goes in as a plain INSERT
# (built once) rather than through the unit of work, which costs several times more per row.
_INSERT_EVENT = insert(OrderEvent.__table__)


def actor_label(actor: User | str | None) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return f"{actor.role.value}:{actor.username}"


def record_event(
    session: Session,
    order: Order,
    *,
    action: str,
    at: datetime,
    actor: User | str | None = None,
    from_status: OrderStatus | None = None,
    to_status: OrderStatus | None = None,
    note: str = "",
    data: dict[str, object] | None = None,
    providers: tuple[int | None, ...] = (),
) -> None:
    """Append one event to the order's timeline (the order must already have its id), and note
    the change for the live screens (``changes``; ``providers``: who held it before)."""
    session.execute(
        _INSERT_EVENT,
        {
            "order_id": order.id,
            "at": at,
            "action": action,
            "from_status": from_status,
            "to_status": to_status,
            "actor_id": actor.id if isinstance(actor, User) else None,
            "actor": actor_label(actor),
            "note": note,
            "data": data or {},
        },
    )
    changes.note(session, order, action=action, actor=actor_label(actor), at=at, providers=providers)
