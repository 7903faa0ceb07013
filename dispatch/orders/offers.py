"""Offers: dispatch (auto or manual), sign-for, return, expiry, and the capacity slot they hold.

A provider's ``open_count`` counts its outstanding offers and its accepted/in-service orders.
Taking a slot is one conditional UPDATE (``open_count < capacity``), so two offers racing for the
last slot cannot both succeed on either database: PostgreSQL's row lock makes the second wait and
re-check, SQLite's single writer serialises them. The loser gets a 409.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dispatch.errors import BadRequest, Conflict, NotFound
from dispatch.facts import touch
from dispatch.geo.coords import geodesic_km
from dispatch.matching.index import ProviderIndex
from dispatch.matching.service import candidates, excluded_providers
from dispatch.orders import changes as order_changes
from dispatch.orders.state import LABELS_ZH, Action
from dispatch.orders.timeline import record_event
from dispatch.orders.transitions import set_fields, transition
from dispatch.outbox import messages
from dispatch.timelimits.calendar import WorkCalendar
from dispatch.timelimits.deadlines import offer_sign_by
from dispatch.timelimits.sla import order_limits
from models import (
    DispatchMode,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Provider,
    ProviderKind,
    ProviderStatus,
    User,
)


@dataclass(frozen=True, slots=True)
class DispatchContext:
    index: ProviderIndex
    calendar: WorkCalendar
    tz: ZoneInfo
    max_returns: int = 3
    # ``[dispatch] auto_dispatch``: whether orders go out by themselves (see ``offer_if_auto``).
    auto_dispatch: bool = False


_provider = Provider.__table__
# Built once: every dispatch runs it, and building an UPDATE costs more than executing it.
_TAKE_SLOT = (
    update(_provider)
    .where(
        _provider.c.id == bindparam("provider_id"),
        _provider.c.status == ProviderStatus.ACTIVE,
        _provider.c.open_count < _provider.c.capacity,
    )
    .values(open_count=_provider.c.open_count + 1, last_offered_at=bindparam("now"))
    .returning(_provider.c.name, _provider.c.phone, _provider.c.kind)
)


@dataclass(frozen=True, slots=True)
class Slot:
    """The provider an offer went to, as it was when its slot was taken."""

    name: str
    phone: str
    kind: ProviderKind


def take_slot(session: Session, provider_id: int, now: datetime) -> Slot | None:
    row = session.execute(_TAKE_SLOT, {"provider_id": provider_id, "now": now}).first()
    if row is None:
        return None
    # A Provider loaded earlier in this session no longer shows the database's count.
    loaded = session.identity_map.get(identity_key(Provider, provider_id))
    if loaded is not None:
        session.expire(loaded, ["open_count", "last_offered_at", "updated_at"])
    return Slot(row.name, row.phone, ProviderKind(row.kind))


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


def offer_sms(order: Order, item: Item, sign_by: datetime, tz: ZoneInfo) -> str:
    local = sign_by.astimezone(tz)
    return (
        f"【社区服务】新工单{order.number}：{item.name_zh}，地址：{order.address or '见工单'}。"
        f"请于{local:%m月%d日%H:%M}前签收，回复“接{order.number[-4:]}”签收，“退{order.number[-4:]} 原因”退单。"
    )


@dataclass(frozen=True, slots=True)
class _Choice:
    provider_id: int
    distance_km: float
    score: float | None
    reasons: list[str]
    out_of_hours: bool
    mode: DispatchMode


def _choose(
    session: Session,
    order: Order,
    *,
    ctx: DispatchContext,
    now: datetime,
    provider_id: int | None,
    mode: DispatchMode | None,
    excluded: Collection[int] | None,
) -> _Choice:
    """Who gets the offer and why; reads only, so a refusal here has changed nothing."""
    if order.status != OrderStatus.RECEIVED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: only received orders can be dispatched",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，只有“已受理”的工单才能派单",
        )
    if order.lat is None or order.lon is None:
        raise BadRequest(
            f"order {order.number} has no location: set its address or coordinates first",
            code="no_location",
            message=f"工单{order.number}还没有位置，无法派单：请先填写地址或坐标",
        )
    ranked, _ = candidates(session, order, index=ctx.index, now=now, tz=ctx.tz, excluded=excluded)
    if provider_id is None:
        if not ranked:
            raise Conflict(
                "no eligible provider for this order: it waits for a supervisor",
                code="no_candidate",
                message="没有符合条件的服务方（服务事项、服务范围、接单容量或工作时间不符），请转督办人工处理",
            )
        best = ranked[0]
        return _Choice(
            best.ranked.provider_id,
            best.ranked.distance_km,
            best.ranked.score,
            list(best.ranked.reasons),
            best.out_of_hours,
            mode or DispatchMode.AUTO,
        )
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"no provider {provider_id}", message=f"未找到编号为 {provider_id} 的服务方")
    if provider_id in excluded_providers(session, order.id):
        raise Conflict(
            f"{provider.name} already returned this order or let it expire",
            code="provider_excluded",
            message=f"{provider.name}已退过此工单或超时未签收，不能再派给该服务方，请选择其他服务方",
        )
    if provider.status != ProviderStatus.ACTIVE:
        raise Conflict(
            f"{provider.name} is suspended",
            code="provider_suspended",
            message=f"{provider.name}已暂停接单，请选择其他服务方",
        )
    match = next((c for c in ranked if c.ranked.provider_id == provider_id), None)
    if match is not None:
        return _Choice(
            provider_id,
            match.ranked.distance_km,
            match.ranked.score,
            list(match.ranked.reasons),
            match.out_of_hours,
            mode or DispatchMode.MANUAL,
        )
    distance = geodesic_km(order.lat, order.lon, provider.lat, provider.lon)
    return _Choice(
        provider_id, distance, None, [f"{distance:.1f} km", "人工指派"], False, mode or DispatchMode.MANUAL
    )


def _offer(
    session: Session,
    order: Order,
    choice: _Choice,
    *,
    ctx: DispatchContext,
    now: datetime,
    actor: User | str | None,
) -> Offer:
    """Take the provider's slot, then write the offer, the status change and the SMS."""
    provider_id, reasons = choice.provider_id, choice.reasons
    slot = take_slot(session, provider_id, now)
    if slot is None:
        provider = session.get_one(Provider, provider_id)
        session.refresh(provider)
        raise Conflict(
            f"{provider.name} has no free capacity ({provider.open_count}/{provider.capacity} open)",
            code="no_capacity",
            message=f"{provider.name}已满负荷（{provider.open_count}/{provider.capacity} 在办），请选择其他服务方",
        )
    sign_by = offer_sign_by(now, order_limits(session, order), ctx.calendar)
    distance = round(choice.distance_km, 3)
    outbox = []
    if slot.phone:
        item = session.get_one(Item, order.item_id)
        body = offer_sms(order, item, sign_by, ctx.tz)
        outbox.append(messages.sms(slot.phone, body, kind="offer", now=now, provider_id=provider_id))
    transition(
        session,
        order,
        Action.OFFER,
        at=now,
        actor=actor,
        note=f"派给 {slot.name}（{'，'.join(reasons)}）",
        data={
            "provider_id": provider_id,
            "mode": choice.mode.value,
            "distance_km": distance,
            "score": choice.score,
        },
        changes={
            "provider_id": provider_id,
            "worker_id": provider_id if slot.kind == ProviderKind.WORKER else None,
            "supervisor_queue_reason": None,
        },
        outbox=outbox,
    )
    offer = Offer(
        order_id=order.id,
        provider_id=provider_id,
        mode=choice.mode,
        offered_at=now,
        sign_by=sign_by,
        distance_km=distance,
        score=choice.score,
        reasons=reasons,
        out_of_hours=choice.out_of_hours,
        offered_by_id=actor.id if isinstance(actor, User) else None,
    )
    session.add(offer)
    session.flush()  # the offer and its SMS in one go; callers read the offer's id
    item = session.get_one(Item, order.item_id)
    order_changes.note_offer(session, order, offer, item_code=item.code, item_name=item.name_zh)
    return offer


def dispatch_order(
    session: Session,
    order: Order,
    *,
    ctx: DispatchContext,
    now: datetime,
    actor: User | str | None,
    provider_id: int | None = None,
    mode: DispatchMode | None = None,
) -> Offer | None:
    """Offer the order to ``provider_id`` (manual) or to the best candidate.

    Asked for the best candidate when there is none, the order goes to the supervisor queue and
    None is returned: every received order nobody can take waits in a queue someone watches. A
    provider named by the caller who cannot take it is a refusal (409) that changes nothing.
    """
    try:
        choice = _choose(session, order, ctx=ctx, now=now, provider_id=provider_id, mode=mode, excluded=None)
    except Conflict as exc:
        if provider_id is not None or exc.code != "no_candidate":
            raise
        _to_supervisor(session, order, NO_CANDIDATE, now, actor)
        return None
    return _offer(session, order, choice, ctx=ctx, now=now, actor=actor)


_OFFER_LABELS_ZH = {
    OfferStatus.ACCEPTED: "已签收",
    OfferStatus.DECLINED: "已退单",
    OfferStatus.EXPIRED: "已超时",
    OfferStatus.WITHDRAWN: "已撤回",
}


NO_CANDIDATE = "没有符合条件的服务方"


def _to_supervisor(
    session: Session, order: Order, reason: str, now: datetime, actor: User | str | None
) -> None:
    set_fields(session, order, supervisor_queue_reason=reason[:200], updated_at=now)
    record_event(session, order, action="to_supervisor", at=now, actor=actor, note=reason)


def _respond(session: Session, offer: Offer, status: OfferStatus, now: datetime, reason: str = "") -> None:
    result = session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.status == OfferStatus.PENDING)
        .values(status=status, responded_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    )
    touch(session, offer.order_id)
    session.refresh(offer)
    if result.rowcount != 1:
        raise Conflict(
            f"this offer was already {offer.status.value}",
            code="offer_closed",
            message=f"此派单已处理（{_OFFER_LABELS_ZH.get(offer.status, offer.status.value)}），请刷新后查看",
        )


def accept(session: Session, order: Order, *, now: datetime, actor: User | str | None) -> Offer:
    offer = pending_offer(session, order)
    if offer is None or order.status != OrderStatus.OFFERED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: there is no offer to sign for",
            code="no_offer",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，没有待签收的派单",
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
) -> Offer | None:
    """Decline (退单) or expiry: release the slot, exclude the provider, offer the next candidate
    (``offer_if_auto``).

    Returns the new offer when the order went straight to the next candidate.
    """
    offer = pending_offer(session, order)
    if offer is None or order.status != OrderStatus.OFFERED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: there is no offer to return",
            code="no_offer",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，没有可退回的派单",
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
    if queue_reason is not None:
        return None
    return offer_if_auto(session, order, ctx=ctx, now=now)


def withdraw(
    session: Session,
    order: Order,
    *,
    reason: str,
    now: datetime,
    actor: User,
    ctx: DispatchContext,
    provider_id: int | None = None,
) -> Offer | None:
    """收回: a supervisor takes the pending offer back (the provider is told by SMS and its slot
    freed; it is not a return, so the provider is not excluded), and with ``provider_id`` offers
    the order to that provider at once. Returns the new offer, if any."""
    offer = pending_offer(session, order)
    if offer is None or order.status != OrderStatus.OFFERED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: there is no offer to take back",
            code="no_offer",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，没有可收回的派单",
        )
    _respond(session, offer, OfferStatus.WITHDRAWN, now, reason)
    release_slot(session, offer.provider_id)
    provider = session.get_one(Provider, offer.provider_id)
    outbox = []
    if provider.phone:
        body = f"【改派】工单{order.number}已由督办收回，无需再签收。原因：{reason}"
        outbox.append(messages.sms(provider.phone, body, kind="withdrawn", now=now, provider_id=provider.id))
    transition(
        session,
        order,
        Action.WITHDRAW,
        at=now,
        actor=actor,
        note=f"收回 {provider.name} 的派单：{reason}",
        data={"provider_id": provider.id},
        changes={"provider_id": None, "worker_id": None},
        outbox=outbox,
    )
    if provider_id is None:
        return None
    return dispatch_order(session, order, ctx=ctx, now=now, actor=actor, provider_id=provider_id)


def offer_if_auto(
    session: Session,
    order: Order,
    *,
    ctx: DispatchContext,
    now: datetime,
    excluded: Collection[int] | None = None,
) -> Offer | None:
    """The one auto-dispatch rule, for a new order, a returned or expired offer and a reopened order.

    With ``[dispatch] auto_dispatch`` on, an order for a home visit that has a place goes straight
    to the best candidate, or into the supervisor queue when nobody can take it. A consultation
    waits for the call centre, which answers most of them on the call; an order without a place
    waits for someone to find it one; an order a supervisor has taken over waits for them.

    ``excluded``: the providers that returned the order, when the caller knows them (an order
    taken in this transaction has none); looked up otherwise.
    """
    if not ctx.auto_dispatch or order.lat is None or order.lon is None:
        return None
    if order.supervisor_queue_reason is not None or not session.get_one(Item, order.item_id).home_visit:
        return None
    try:
        choice = _choose(
            session, order, ctx=ctx, now=now, provider_id=None, mode=DispatchMode.AUTO, excluded=excluded
        )
        # Only the writes need the savepoint: should the status change fail after the slot was
        # taken, the slot is given back with it.
        with session.begin_nested():
            return _offer(session, order, choice, ctx=ctx, now=now, actor="system")
    except (Conflict, BadRequest) as exc:
        reason = NO_CANDIDATE if exc.code in ("no_candidate", "no_capacity") else exc.message
        _to_supervisor(session, order, reason, now, "system")
        return None
