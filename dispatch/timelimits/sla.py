"""Which time limits an order runs on: its item's SLA class, or the urgent class when urgent."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dispatch.timelimits.deadlines import Limits, limits_for
from models import Item, Order, Priority, SlaClass


def effective_limits(session: Session, item: Item, priority: Priority) -> Limits:
    """An urgent order runs on the urgent limits unless its item is a consultation; an item's own
    overrides apply only when it runs on its own class."""
    code = (
        "urgent" if priority == Priority.URGENT and item.sla_class_code != "consult" else item.sla_class_code
    )
    sla = session.get_one(SlaClass, code)
    return limits_for(sla, item if code == item.sla_class_code else None)


def order_limits(session: Session, order: Order) -> Limits:
    return effective_limits(session, session.get_one(Item, order.item_id), order.priority)
