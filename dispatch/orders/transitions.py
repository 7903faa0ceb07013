"""The one way an order changes status: check the table, compare-and-set, write the event and outbox.

``transition`` issues ``UPDATE "order" SET status = :new … WHERE id = :id AND status = :expected
RETURNING *``; if another request changed the order first, no row matches and the caller gets a 409
naming the state the order is really in. The OrderEvent and any outbox rows are added in the same
transaction (the outbox rows are written with the session's next flush), so a notification exists
exactly when the change it announces does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.errors import InvalidTransition
from dispatch.facts import touch
from dispatch.orders.state import LABELS_ZH, Action, IllegalTransition, next_status
from dispatch.orders.timeline import record_event
from models import Order, OutboxMessage, User

_order = Order.__table__
# Built once; the SET clause comes from the parameters, so one statement serves every change.
_COMPARE_AND_SET = (
    update(_order)
    .where(_order.c.id == bindparam("order_id"), _order.c.status == bindparam("expected"))
    .returning(*_order.c)
)
_UPDATE = update(_order).where(_order.c.id == bindparam("order_id"))


def set_fields(session: Session, order: Order, **values: Any) -> None:
    """Write fields that are not the status (a queue note, a flag) with one UPDATE (built once,
    cheaper than the unit of work's) and keep the loaded order in step with it."""
    session.execute(_UPDATE, {"order_id": order.id, **values})
    touch(session, order.id)
    for key, value in values.items():
        set_committed_value(order, key, value)


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
) -> None:
    expected = order.status
    held_by = (order.provider_id, order.worker_id)  # told too when it moves on from them
    try:
        target = next_status(action, expected)
    except IllegalTransition as exc:
        raise InvalidTransition(str(exc), message=f"工单{order.number}{exc.message}") from None
    values = {"status": target, "updated_at": at, **(changes or {})}
    session.flush()  # unsaved edits go in first, or the row read back below would drop them
    row = session.execute(_COMPARE_AND_SET, {"order_id": order.id, "expected": expected, **values}).first()
    # Either way the caller goes on with what the database now holds.
    if row is None:
        session.refresh(order)
        current = order.status
        label = f"{current.value} ({LABELS_ZH[current]})"
        raise InvalidTransition(
            f"order {order.number} changed while you were working on it: it is now {label}; reload and retry",
            message=f"工单{order.number}在您操作时已被他人更改，现为“{LABELS_ZH[current]}”，请刷新后重试",
        )
    touch(session, order.id)
    for key, value in row._mapping.items():
        set_committed_value(order, key, value)
    record_event(
        session,
        order,
        action=action.value,
        at=at,
        actor=actor,
        from_status=expected,
        to_status=target,
        note=note,
        data=data,
        providers=held_by,
    )
    for message in outbox:
        message.order_id = order.id
        session.add(message)
