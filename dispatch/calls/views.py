"""Callbacks as the worklist shows them: with the resident, the order and the resident's open
orders (to close one as a duplicate), loaded for a whole page at once. The caller's number is
masked (``residents.privacy``); the worklist records who saw which resident (``callbacks_api``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.residents.privacy import mask_phone
from models import OPEN_STATUSES, Callback, CallbackStatus, Item, Order, Resident, User


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def callback_out(
    session: Session, rows: Sequence[Callback], *, region: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    resident_ids = {c.resident_id for c in rows if c.resident_id}
    residents = (
        {r.id: r for r in session.scalars(select(Resident).where(Resident.id.in_(resident_ids)))}
        if resident_ids
        else {}
    )
    order_ids = {c.order_id for c in rows if c.order_id}
    numbers = (
        dict(session.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids))).all())
        if order_ids
        else {}
    )
    closers = {c.closed_by_id for c in rows if c.closed_by_id}
    names = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(closers))).all())
        if closers
        else {}
    )
    open_orders: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if resident_ids:
        stmt = (
            select(Order.id, Order.number, Order.status, Order.resident_id, Item.code)
            .join(Item, Item.id == Order.item_id)
            .where(Order.resident_id.in_(resident_ids), Order.status.in_(OPEN_STATUSES))
            .order_by(Order.created_at.desc())
        )
        for oid, number, status, rid, code in session.execute(stmt):
            open_orders[rid].append({"id": oid, "number": number, "status": status.value, "item_code": code})
    out = []
    for c in rows:
        r = residents.get(c.resident_id) if c.resident_id else None
        out.append(
            {
                "id": c.id,
                "caller": None,
                "caller_national": mask_phone(c.caller, region),
                "resident": {"id": r.id, "name": r.name, "tags": list(r.tags or [])} if r else None,
                "reason": c.reason.value,
                "recording_url": c.recording_url or None,
                "call_count": c.call_count,
                "created_at": _iso(c.created_at),
                "last_call_at": _iso(c.last_call_at),
                "due_at": _iso(c.due_at),
                "overdue": c.status == CallbackStatus.OPEN and c.due_at < now,
                "status": c.status.value,
                "attempts": c.attempts,
                "first_attempt_at": _iso(c.first_attempt_at),
                "last_attempt_at": _iso(c.last_attempt_at),
                "outcome": c.outcome.value if c.outcome else None,
                "order_id": c.order_id,
                "order_number": numbers.get(c.order_id) if c.order_id else None,
                "note": c.note,
                "closed_at": _iso(c.closed_at),
                "closed_by": names.get(c.closed_by_id) if c.closed_by_id else None,
                "open_orders": open_orders.get(c.resident_id, []) if c.resident_id else [],
            }
        )
    return out
