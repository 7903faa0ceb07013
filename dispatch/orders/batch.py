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
from models import DispatchMode, Item, Order, OrderStatus, Provider, User

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


@dataclass(frozen=True)
class Planned:
    order_id: int
    number: str
    item_code: str
    provider_id: int
    provider_name: str
    distance_km: float


@dataclass(frozen=True)
class Left:
    order_id: int
    number: str
    reason: str


@dataclass
class BatchPlan:
    """Which waiting order goes to whom, and who stays unassigned and why; nothing written."""

    orders: int
    plan: list[Planned]
    unassigned: list[Left]
    total_km: float
    greedy_km: float
    greedy_assigned: int


NOBODY = "没有符合条件的服务方（不在服务范围、不服务此事项或均已满负荷）"
NO_SLOT = "符合条件的服务方名额已被其他工单占用"


def plan_batch(
    session: Session, *, ctx: DispatchContext, now: datetime, orders: list[Order] | None = None
) -> BatchPlan:
    """The assignment that offers the most waiting orders, then the fewest kilometres in all."""
    orders = waiting_orders(session) if orders is None else orders
    batch: list[BatchOrder] = []
    for order in orders:
        ranked, _ = candidates(session, order, index=ctx.index, now=now, tz=ctx.tz)
        batch.append(BatchOrder(order.id, {c.ranked.provider_id: c.ranked.distance_km for c in ranked}))
    providers = {p for b in batch for p in b.eligible}
    facts = (
        session.execute(
            select(Provider.id, Provider.capacity, Provider.open_count, Provider.name).where(
                Provider.id.in_(providers)
            )
        ).all()
        if providers
        else []
    )
    free = {pid: max(0, cap - open_) for pid, cap, open_, _ in facts}
    names = {pid: name for pid, _, _, name in facts}
    optimal = assign_optimal(batch, free)
    greedy = assign_greedy(batch, free)
    by_id = {o.id: o for o in orders}
    eligible = {b.order_id: b.eligible for b in batch}
    items = (
        dict(
            session.execute(select(Item.id, Item.code).where(Item.id.in_({o.item_id for o in orders}))).all()
        )
        if orders
        else {}
    )
    plan = [
        Planned(
            order_id=oid,
            number=by_id[oid].number,
            item_code=items.get(by_id[oid].item_id, ""),
            provider_id=pid,
            provider_name=names.get(pid, ""),
            distance_km=round(eligible[oid][pid], 3),
        )
        for oid, pid in optimal.assignments.items()
    ]
    left = [Left(oid, by_id[oid].number, NO_SLOT if eligible[oid] else NOBODY) for oid in optimal.unassigned]
    return BatchPlan(
        orders=len(orders),
        plan=sorted(plan, key=lambda p: p.number),
        unassigned=left,
        total_km=round(optimal.total_km, 3),
        greedy_km=round(greedy.total_km, 3),
        greedy_assigned=len(greedy.assignments),
    )


def offer_planned(
    session: Session,
    assignments: list[tuple[int, int]],
    *,
    ctx: DispatchContext,
    now: datetime,
    actor: User | str,
) -> BatchReport:
    """Offer exactly these (order id, provider id) pairs, each in its own savepoint: one that
    can no longer be made (the order moved on, the slot was taken meanwhile) is reported and
    the others go ahead."""
    report = BatchReport(orders=len(assignments))
    for order_id, provider_id in assignments:
        order = session.get(Order, order_id)
        if order is None:
            report.failed[str(order_id)] = f"未找到编号为 {order_id} 的工单"
            continue
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
        except AppError as exc:
            report.failed[order.number] = exc.message  # for the supervisor, like the plan's reasons
    return report


def run_batch(
    session: Session,
    *,
    ctx: DispatchContext,
    now: datetime,
    actor: User | str,
    orders: list[Order] | None = None,
) -> BatchReport:
    """Plan and offer in one go (the CLI); the console shows the plan first (``plan_batch``)."""
    planned = plan_batch(session, ctx=ctx, now=now, orders=orders)
    report = offer_planned(
        session, [(p.order_id, p.provider_id) for p in planned.plan], ctx=ctx, now=now, actor=actor
    )
    report.orders = planned.orders
    report.unassigned = [u.number for u in planned.unassigned]
    report.total_km, report.greedy_km = planned.total_km, planned.greedy_km
    report.greedy_assigned = planned.greedy_assigned
    return report
