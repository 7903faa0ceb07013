"""What changed in a transaction, for the live screens: every order that got a timeline event.

``timeline.record_event`` notes the order here, in the session it writes with; whoever runs the
live stream (``dispatch.live.orders``) publishes the notes once that session's transaction has
committed, and drops them when it rolls back, so a screen never hears of a change that did not
happen. A note keeps the order's state as of its last event in the transaction and every
provider that held or was offered it meanwhile (they must hear that it went elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models import Order

KEY = "sanshe_order_changes"


def note(
    session: Session,
    order: Order,
    *,
    action: str,
    actor: str,
    at: datetime,
    providers: Iterable[int | None] = (),
) -> None:
    changes: dict[int, dict[str, Any]] = session.info.setdefault(KEY, {})
    entry = changes.setdefault(order.id, {"providers": set()})
    entry.update(
        id=order.id,
        number=order.number,
        status=order.status.value,
        supervision=order.supervision.value,
        action=action,
        actor=actor,
        at=at.isoformat(),
        provider_id=order.provider_id,
        supervisor_queue_reason=order.supervisor_queue_reason,
    )
    entry["providers"] |= {p for p in (order.provider_id, order.worker_id, *providers) if p is not None}


def take(session: Session) -> list[dict[str, Any]]:
    """The notes of the transaction just ended, once; the next transaction starts empty."""
    return list(session.info.pop(KEY, {}).values())
