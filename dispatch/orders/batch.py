"""Batch dispatch: offer every waiting order at once, minimising total distance under capacity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import AppError
from dispatch.matching.assignment import BatchOrder, assign_greedy, assign_optimal
from dispatch.matching.service import candidates
from dispatch.orders.offers import DispatchContext, dispatch_order
from models import DispatchMode, Order, OrderStatus, Provider, User

MAX_BATCH = 500


@dataclass
class BatchReport:
    orders: int
    assigned: dict[str, int] = field(default_factory=dict)  # order number -> provider id
    unassigned: list[str] = field(default_factory=list)
    total_km: float = 0.0
    greedy_km: float = 0.0
    greedy_assigned: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def waiting_orders(session: Session, limit: int = MAX_BATCH) -> list[Order]:
    """Received orders with a location that no supervisor has taken over, oldest first."""
    stmt = (
        select(Order)
        .where(
            Order.status == OrderStatus.RECEIVED,
            Order.supervisor_queue_reason.is_(None),
            Order.lat.is_not(None),
        )
        .order_by(Order.created_at, Order.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def run_batch(
    session: Session,
    *,
    ctx: DispatchContext,
    now: datetime,
    actor: User | str,
    orders: list[Order] | None = None,
) -> BatchReport:
    orders = waiting_orders(session) if orders is None else orders
    batch: list[BatchOrder] = []
    for order in orders:
        ranked, _ = candidates(session, order, index=ctx.index, now=now, tz=ctx.tz)
        batch.append(BatchOrder(order.id, {c.ranked.provider_id: c.ranked.distance_km for c in ranked}))
    providers = {p for b in batch for p in b.eligible}
    free = {
        pid: max(0, cap - open_)
        for pid, cap, open_ in session.execute(
            select(Provider.id, Provider.capacity, Provider.open_count).where(Provider.id.in_(providers))
        )
    }
    optimal = assign_optimal(batch, free)
    greedy = assign_greedy(batch, free)
    by_id = {o.id: o for o in orders}
    report = BatchReport(
        orders=len(orders),
        total_km=round(optimal.total_km, 3),
        greedy_km=round(greedy.total_km, 3),
        greedy_assigned=len(greedy.assignments),
        unassigned=[by_id[i].number for i in optimal.unassigned],
    )
    for order_id, provider_id in optimal.assignments.items():
        order = by_id[order_id]
        try:
            with session.begin_nested():
                dispatch_order(
                    session,
                    order,
                    ctx=ctx,
                    now=now,
                    actor=actor,
                    provider_id=provider_id,
                    mode=DispatchMode.BATCH,
                )
            report.assigned[order.number] = provider_id
        except AppError as exc:  # a slot taken meanwhile: this order waits for the next run
            report.failed[order.number] = exc.detail
    return report
