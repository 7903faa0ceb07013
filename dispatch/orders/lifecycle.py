"""The one way an order changes status: check the table, compare-and-set, write the event and outbox.

``transition`` issues ``UPDATE "order" SET status = :new … WHERE id = :id AND status = :expected``;
if another request changed the order first, no row matches and the caller gets a 409 naming the
state the order is really in. The OrderEvent and any outbox rows are added in the same
transaction, so a notification exists exactly when the change it announces does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.errors import InvalidTransition
from dispatch.orders.state import LABELS_ZH, Action, IllegalTransition, next_status
from dispatch.orders.timeline import record_event
from models import Order, OrderEvent, OutboxMessage, User


def transition(
    session: Session,
    order: Order,
    action: Action,
    *,
    at: datetime,
    actor: User | str | None = None,
    note: str = "",
    data: dict[str, object] | None = None,
    changes: dict[str, Any] | None = None,
    outbox: Iterable[OutboxMessage] = (),
) -> OrderEvent:
    expected = order.status
    try:
        target = next_status(action, expected)
    except IllegalTransition as exc:
        raise InvalidTransition(str(exc)) from None
    values = {"status": target, "updated_at": at, **(changes or {})}
    result = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    # Re-read the row either way: the caller goes on with what the database now holds.
    session.refresh(order)
    if result.rowcount != 1:
        current = order.status
        label = f"{current.value} ({LABELS_ZH[current]})"
        raise InvalidTransition(
            f"order {order.number} changed while you were working on it: it is now {label}; reload and retry"
        )
    event = record_event(
        session,
        order,
        action=action.value,
        at=at,
        actor=actor,
        from_status=expected,
        to_status=target,
        note=note,
        data=data,
    )
    for message in outbox:
        message.order_id = order.id
        session.add(message)
    session.flush()
    return event
