"""The append-only timeline: every change to an order is one OrderEvent row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models import Order, OrderEvent, OrderStatus, User


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
) -> OrderEvent:
    event = OrderEvent(
        order_id=order.id,
        at=at,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.id if isinstance(actor, User) else None,
        actor=actor_label(actor),
        note=note,
        data=data or {},
    )
    session.add(event)
    return event
