"""Offers: dispatch (auto or manual), sign-for, return, expiry, and the capacity slot they hold.

A provider's ``open_count`` counts its outstanding offers and its accepted/in-service orders.
Taking a slot is one conditional UPDATE (``open_count < capacity``), so two offers racing for the
last slot cannot both succeed on either database: PostgreSQL's row lock makes the second wait and
re-check, SQLite's single writer serialises them. The loser gets a 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.errors import BadRequest, Conflict, NotFound
from dispatch.geo.coords import geodesic_km
from dispatch.matching.index import ProviderIndex
from dispatch.matching.service import candidates, excluded_providers
from dispatch.orders.lifecycle import transition
from dispatch.orders.sla import order_limits
from dispatch.orders.state import Action
from dispatch.orders.timeline import record_event
from dispatch.outbox.sender import build_message
from dispatch.tracking.calendar import WorkCalendar
from dispatch.tracking.deadlines import add_limit
from models import (
    DispatchMode,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    OutboxChannel,
    Provider,
    ProviderKind,
    ProviderStatus,
    User,
)

# When an SLA class has no sign-for step (consultations), an offer still needs an answer.
DEFAULT_SIGN_FOR = timedelta(hours=4)


@dataclass(frozen=True, slots=True)
class DispatchContext:
    index: ProviderIndex
    calendar: WorkCalendar
    tz: ZoneInfo
    max_returns: int = 3


def take_slot(session: Session, provider_id: int, now: datetime) -> bool:
    result = session.execute(
        update(Provider)
        .where(
            Provider.id == provider_id,
            Provider.status == ProviderStatus.ACTIVE,
            Provider.open_count < Provider.capacity,
        )
        .values(open_count=Provider.open_count + 1, last_offered_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_slot(session: Session, provider_id: int | None) -> None:
    if provider_id is None:
        return
    session.execute(
        update(Provider)
        .where(Provider.id == provider_id, Provider.open_count > 0)
        .values(open_count=Provider.open_count - 1)
        .execution_options(synchronize_session=False)
    )


def pending_offer(session: Session, order: Order) -> Offer | None:
    return session.scalar(
        select(Offer)
        .where(Offer.order_id == order.id, Offer.status == OfferStatus.PENDING)
        .order_by(Offer.id.desc())
    )


def _offer_deadline(session: Session, order: Order, now: datetime, calendar: WorkCalendar) -> datetime:
    limits = order_limits(session, order)
    if limits.sign_for is None:
        return now + DEFAULT_SIGN_FOR
    return add_limit(now, limits.sign_for, limits.clock, calendar)


def offer_sms(order: Order, item: Item, sign_by: datetime, tz: ZoneInfo) -> str:
    local = sign_by.astimezone(tz)
    return (
        f"【社区服务】新工单{order.number}：{item.name_zh}，地址：{order.address or '见工单'}。"
        f"请于{local:%m月%d日%H:%M}前签收，回复“接{order.number[-4:]}”签收，“退{order.number[-4:]} 原因”退单。"
    )


def dispatch_order(
    session: Session,
    order: Order,
    *,
    ctx: DispatchContext,
    now: datetime,
    actor: User | str | None,
    provider_id: int | None = None,
    mode: DispatchMode | None = None,
) -> Offer:
    """Offer the order to ``provider_id`` (manual) or to the best candidate (auto)."""
    if order.status != OrderStatus.RECEIVED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: only received orders can be dispatched"
        )
    if order.lat is None or order.lon is None:
        raise BadRequest(
            f"order {order.number} has no location: set its address or coordinates first", code="no_location"
        )
    ranked, _ = candidates(session, order, index=ctx.index, now=now, tz=ctx.tz)
    if provider_id is None:
        if not ranked:
            raise Conflict(
                "no eligible provider for this order: it waits for a supervisor", code="no_candidate"
            )
        chosen = ranked[0]
        provider_id, distance, score = (
            chosen.ranked.provider_id,
            chosen.ranked.distance_km,
            chosen.ranked.score,
        )
        reasons, out_of_hours = list(chosen.ranked.reasons), chosen.out_of_hours
        mode = mode or DispatchMode.AUTO
    else:
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise NotFound(f"no provider {provider_id}")
        if provider_id in excluded_providers(session, order.id):
            raise Conflict(
                f"{provider.name} already returned this order or let it expire", code="provider_excluded"
            )
        if provider.status != ProviderStatus.ACTIVE:
            raise Conflict(f"{provider.name} is suspended", code="provider_suspended")
        match = next((c for c in ranked if c.ranked.provider_id == provider_id), None)
        distance = (
            match.ranked.distance_km
            if match
            else geodesic_km(order.lat, order.lon, provider.lat, provider.lon)
        )
        score = match.ranked.score if match else None
        reasons = list(match.ranked.reasons) if match else [f"{distance:.1f} km", "人工指派"]
        out_of_hours = match.out_of_hours if match else False
        mode = mode or DispatchMode.MANUAL
    if not take_slot(session, provider_id, now):
        provider = session.get_one(Provider, provider_id)
        session.refresh(provider)
        raise Conflict(
            f"{provider.name} has no free capacity ({provider.open_count}/{provider.capacity} open)",
            code="no_capacity",
        )
    provider = session.get_one(Provider, provider_id)
    session.refresh(provider)
    sign_by = _offer_deadline(session, order, now, ctx.calendar)
    offer = Offer(
        order_id=order.id,
        provider_id=provider_id,
        mode=mode,
        offered_at=now,
        sign_by=sign_by,
        distance_km=round(distance, 3),
        score=score,
        reasons=reasons,
        out_of_hours=out_of_hours,
        offered_by_id=actor.id if isinstance(actor, User) else None,
    )
    session.add(offer)
    item = session.get_one(Item, order.item_id)
    outbox = []
    if provider.phone:
        outbox.append(
            build_message(
                channel=OutboxChannel.SMS,
                recipient=provider.phone,
                body=offer_sms(order, item, sign_by, ctx.tz),
                payload={"kind": "offer", "provider_id": provider_id},
                now=now,
            )
        )
    transition(
        session,
        order,
        Action.OFFER,
        at=now,
        actor=actor,
        note=f"派给 {provider.name}（{'，'.join(reasons)}）",
        data={
            "provider_id": provider_id,
            "mode": mode.value,
            "distance_km": round(distance, 3),
            "score": score,
        },
        changes={
            "provider_id": provider_id,
            "worker_id": provider_id if provider.kind == ProviderKind.WORKER else None,
            "supervisor_queue_reason": None,
        },
        outbox=outbox,
    )
    session.flush()
    return offer


def _respond(session: Session, offer: Offer, status: OfferStatus, now: datetime, reason: str = "") -> None:
    result = session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.status == OfferStatus.PENDING)
        .values(status=status, responded_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.refresh(offer)
    if result.rowcount != 1:
        raise Conflict(f"this offer was already {offer.status.value}", code="offer_closed")


def accept(session: Session, order: Order, *, now: datetime, actor: User | str | None) -> Offer:
    offer = pending_offer(session, order)
    if offer is None or order.status != OrderStatus.OFFERED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: there is no offer to sign for", code="no_offer"
        )
    _respond(session, offer, OfferStatus.ACCEPTED, now)
    provider = session.get_one(Provider, offer.provider_id)
    transition(
        session,
        order,
        Action.ACCEPT,
        at=now,
        actor=actor,
        note=f"{provider.name} 已签收",
        data={"provider_id": provider.id, "on_time": offer.sign_by is None or now <= offer.sign_by},
        changes={"accepted_at": now},
    )
    return offer


def return_offer(
    session: Session,
    order: Order,
    *,
    now: datetime,
    actor: User | str | None,
    reason: str,
    expired: bool,
    ctx: DispatchContext,
    auto_redispatch: bool,
) -> Offer | None:
    """Decline (退单) or expiry: release the slot, exclude the provider, offer the next candidate.

    Returns the new offer when the order went straight to the next candidate.
    """
    offer = pending_offer(session, order)
    if offer is None or order.status != OrderStatus.OFFERED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: there is no offer to return", code="no_offer"
        )
    _respond(session, offer, OfferStatus.EXPIRED if expired else OfferStatus.DECLINED, now, reason)
    release_slot(session, offer.provider_id)
    returns = order.return_count + 1
    queue_reason = f"已退单/超时 {returns} 次" if returns >= ctx.max_returns else None
    provider = session.get_one(Provider, offer.provider_id)
    transition(
        session,
        order,
        Action.EXPIRE if expired else Action.DECLINE,
        at=now,
        actor=actor,
        note=f"{provider.name}：{reason}",
        data={"provider_id": provider.id, "returns": returns},
        changes={
            "provider_id": None,
            "worker_id": None,
            "return_count": returns,
            "supervisor_queue_reason": queue_reason,
        },
    )
    if queue_reason is not None or not auto_redispatch:
        return None
    return auto_dispatch(session, order, ctx=ctx, now=now)


def auto_dispatch(session: Session, order: Order, *, ctx: DispatchContext, now: datetime) -> Offer | None:
    """Offer to the best candidate, or put the order in the supervisor queue when there is none."""
    if order.supervisor_queue_reason is not None:
        return None
    try:
        with session.begin_nested():
            return dispatch_order(session, order, ctx=ctx, now=now, actor="system", mode=DispatchMode.AUTO)
    except (Conflict, BadRequest) as exc:
        reason = (
            "没有符合条件的服务方"
            if getattr(exc, "code", "") in ("no_candidate", "no_capacity")
            else exc.detail
        )
        order.supervisor_queue_reason = reason[:200]
        order.updated_at = now
        record_event(session, order, action="to_supervisor", at=now, note=reason)
        return None
