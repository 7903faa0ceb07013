"""Every order that got a timeline event is noted for the live screens (``dispatch.changes``): the
call centre hears of all of them, providers of those they hold, held or were offered (they must
hear that it went elsewhere). The note keeps the order's state as of its last event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from dispatch import changes
from models import Order


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
            "actor": actor,
            "at": at.isoformat(),
            "provider_id": order.provider_id,
            "supervisor_queue_reason": order.supervisor_queue_reason,
        },
        changes.CALL_CENTRE | {f"provider:{p}" for p in concerned},
    )
