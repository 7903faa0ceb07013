"""Lifecycle actions on an order after dispatch: check-in, completion, rating and callback
outcomes, cancellation, reopening, extension and urging.

These are the domain actions every channel calls: the HTTP verbs, SMS replies and the phone menu.
Status changes go through ``transitions.transition`` (table check, compare-and-set, event,
outbox); actions that change no status (extend, urge, a rating on a closed order) write their
event here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch.errors import BadRequest, Conflict
from dispatch.facts import touch
from dispatch.geo.coords import geodesic_km
from dispatch.orders import attachments
from dispatch.orders.offers import DispatchContext, offer_if_auto, pending_offer, release_slot
from dispatch.orders.state import CHECKOUTABLE, EXTENDABLE, LABELS_ZH, RATEABLE, URGEABLE, Action
from dispatch.orders.timeline import record_event
from dispatch.orders.transitions import set_fields, transition
from dispatch.outbox import messages
from dispatch.timelimits.calendar import WorkCalendar
from dispatch.timelimits.deadlines import MAX_EXTENSION_WORKING_DAYS, callback_due, order_deadlines
from dispatch.timelimits.sla import order_limits
from models import (
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Provider,
    Rating,
    RatingOutcome,
    Supervision,
    User,
)

SATISFACTION = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def _distance_m(order: Order, lat: float, lon: float) -> float | None:
    if order.lat is None or order.lon is None:
        return None
    return round(geodesic_km(lat, lon, order.lat, order.lon) * 1000, 1)


def check_in(
    session: Session, order: Order, *, lat: float, lon: float, now: datetime, actor: User, far_m: float
) -> None:
    distance_m = _distance_m(order, lat, lon)
    far = distance_m is not None and distance_m > far_m
    note = f"到达现场，距工单地址 {distance_m:.0f} 米" if distance_m is not None else "到达现场（工单无坐标）"
    transition(
        session,
        order,
        Action.CHECK_IN,
        at=now,
        actor=actor,
        note=note + ("，距离偏远，请核实" if far else ""),
        data={"lat": lat, "lon": lon, "distance_m": distance_m, "far": far},
        changes={
            "arrived_at": now,
            "checkin_lat": lat,
            "checkin_lon": lon,
            "checkin_distance_m": distance_m,
            "checkin_far": far,
        },
    )


def check_out(
    session: Session, order: Order, *, lat: float, lon: float, now: datetime, actor: User, far_m: float
) -> None:
    """离开现场: once, after the check-in (in service, or completed at the door); where and when
    the worker left, flagged like the check-in when far from the order's address. No status change."""
    if order.status not in CHECKOUTABLE or order.arrived_at is None:
        raise Conflict(
            f"order {order.number} is {order.status.value} and not checked in: nothing to check out of",
            code="not_checked_in",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，尚未到场签到，不能离场签退",
        )
    if order.checkout_at is not None:
        raise Conflict(
            f"order {order.number} was already checked out",
            code="already_checked_out",
            message=f"工单{order.number}已经离场签退过了",
        )
    distance_m = _distance_m(order, lat, lon)
    far = distance_m is not None and distance_m > far_m
    set_fields(
        session,
        order,
        checkout_at=now,
        checkout_lat=lat,
        checkout_lon=lon,
        checkout_distance_m=distance_m,
        checkout_far=far,
        updated_at=now,
    )
    note = f"离开现场，距工单地址 {distance_m:.0f} 米" if distance_m is not None else "离开现场（工单无坐标）"
    record_event(
        session,
        order,
        action="check_out",
        at=now,
        actor=actor,
        note=note + ("，距离偏远，请核实" if far else ""),
        data={"lat": lat, "lon": lon, "distance_m": distance_m, "far": far},
    )


@dataclass(frozen=True)
class Signature:
    """The resident's signature at completion: the PNG drawn on the screen, or why there is none."""

    png: bytes | None = None
    unable_reason: str | None = None


def complete(
    session: Session,
    order: Order,
    *,
    note: str,
    now: datetime,
    actor: User,
    cal: WorkCalendar,
    photo_ids: Sequence[int] = (),
    signature: Signature | None = None,
    storage: attachments.Storage | None = None,
) -> None:
    """办结: after the service, or directly on the call (直接办结) for a request never dispatched.

    After the service the worker may add the completion photos already uploaded (``photo_ids``)
    and the resident's signature (or why they could not sign): both go on the timeline."""
    direct = order.status == OrderStatus.RECEIVED
    if direct and signature is not None:
        raise BadRequest(
            "signature: a request completed directly on the call has no resident's signature",
            code="signature_not_expected",
            message="直接办结的工单无需居民签名",
        )
    photos = attachments.completion_photos(session, order, photo_ids)
    holder = order.provider_id
    due = callback_due(now, cal)
    item = session.get_one(Item, order.item_id)
    body = f"【社区服务】您的工单{order.number}（{item.name_zh}）已办结。请回复数字评价：5非常满意 4满意 3基本满意 2不满意 1非常不满意。"
    transition(
        session,
        order,
        Action.COMPLETE_DIRECT if direct else Action.COMPLETE,
        at=now,
        actor=actor,
        note=note,
        data={"on_time": order.complete_by is None or now <= order.complete_by}
        | ({"photo_ids": photos} if photos else {}),
        changes={
            "completed_at": now,
            "completion_note": note,
            "callback_due_at": due,
            "next_check_at": due,
            "overdue": order.overdue or (order.complete_by is not None and now > order.complete_by),
        },
        outbox=[
            messages.sms(
                order.caller_phone,
                body,
                kind="rating_request",
                now=now,
                dedupe_key=f"rate:{order.id}:{order.reopen_count}",
            )
        ]
        if order.caller_phone
        else [],
    )
    if not direct:
        release_slot(session, holder)
    if signature is not None:
        _record_signature(session, order, signature, now=now, actor=actor, storage=storage)


def _record_signature(
    session: Session,
    order: Order,
    signature: Signature,
    *,
    now: datetime,
    actor: User,
    storage: attachments.Storage | None,
) -> None:
    if signature.png is not None:
        if storage is None:
            raise ValueError("storing a signature needs the uploads storage")
        row = attachments.add_signature(
            session, order, data=signature.png, storage=storage, actor=actor, now=now
        )
        note, data = "居民已签名确认", {"attachment_id": row.id, "kind": "signature", "stage": "completion"}
    else:
        reason = signature.unable_reason or ""
        note, data = f"居民无法签名：{reason}", {"unable": True, "reason": reason}
    record_event(session, order, action="signature", at=now, actor=actor, note=note, data=data)


def rate(
    session: Session,
    order: Order,
    *,
    stars: int | None,
    outcome: RatingOutcome,
    comment: str,
    channel: str,
    now: datetime,
    actor: User | str,
    reopen: bool = False,
    ctx: DispatchContext | None = None,
) -> Rating:
    """A rating (1–5) or a callback outcome without one (unreachable, declined to rate).

    A rating or a refusal closes a completed order; "unreachable" leaves it for another try until
    the callback window closes it. ``reopen`` with 1–2 stars sends the order back for rework
    (``reopen_order``, which needs the dispatch context ``ctx``).
    """
    if order.status not in RATEABLE:
        raise Conflict(
            f"order {order.number} is {order.status.value}: only completed orders are rated",
            code="not_completed",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，尚未办结，不能评价",
        )
    if (stars is None) == (outcome == RatingOutcome.RATED):
        raise BadRequest(
            "stars: give 1–5 stars for a rating, none for unreachable/declined",
            code="invalid_rating",
            message="评价星级：评价请给 1–5 星；回访未接通或拒绝评价时不填星级",
        )
    # A reopen clears the order's stars (its ratings stay), so set stars mean: rated since done.
    if stars is not None and order.rating_stars is not None:
        raise Conflict(
            f"order {order.number} was already rated since it was completed",
            code="already_rated",
            message=f"工单{order.number}办结后已经评价过，不能重复评价",
        )
    provider_id = order.worker_id or order.provider_id
    rating = Rating(
        order_id=order.id,
        provider_id=provider_id,
        outcome=outcome,
        stars=stars,
        comment=comment,
        channel=channel,
        recorded_by_id=actor.id if isinstance(actor, User) else None,
        created_at=now,
    )
    session.add(rating)
    if stars is not None and provider_id is not None:
        session.execute(
            update(Provider)
            .where(Provider.id == provider_id)
            .values(rating_count=Provider.rating_count + 1, rating_sum=Provider.rating_sum + stars)
            .execution_options(synchronize_session=False)
        )
    label = SATISFACTION.get(
        stars or 0, {"unreachable": "回访未接通", "declined": "拒绝评价"}.get(outcome.value, "")
    )
    changes = {"rating_stars": stars} if stars is not None else {}
    if order.status == OrderStatus.COMPLETED and outcome != RatingOutcome.UNREACHABLE:
        transition(
            session,
            order,
            Action.CLOSE,
            at=now,
            actor=actor,
            note=f"{label} {comment}".strip(),
            data={"stars": stars},
            changes={**changes, "closed_at": now, "next_check_at": None},
        )
    else:
        record_event(
            session,
            order,
            action="rate",
            at=now,
            actor=actor,
            note=f"{label} {comment}".strip(),
            data={"stars": stars, "outcome": outcome.value},
        )
        for key, value in changes.items():
            setattr(order, key, value)
    if reopen:
        if stars is None or stars > 2:
            raise BadRequest(
                "reopen: only a rating of 1 or 2 stars reopens an order",
                code="invalid_reopen",
                message="申请重办：只有 1 星或 2 星（不满意）的评价才能申请重办",
            )
        if ctx is None:
            raise ValueError("reopening needs the dispatch context")
        reopen_order(
            session,
            order,
            reason=f"居民不满意（{stars}星）：{comment}".strip("："),
            now=now,
            actor=actor,
            ctx=ctx,
        )
    session.flush()
    return rating


def reopen_order(
    session: Session,
    order: Order,
    *,
    reason: str,
    now: datetime,
    actor: User | str,
    ctx: DispatchContext,
) -> None:
    """重办: back to received with fresh deadlines, and out again by the auto-dispatch rule
    (``offers.offer_if_auto``); otherwise the call centre dispatches it."""
    changes: dict[str, object] = {
        "reopen_count": order.reopen_count + 1,
        "provider_id": None,
        "worker_id": None,
        "supervision": Supervision.NONE,
        "overdue": False,
        "supervisor_queue_reason": None,
        "callback_due_at": None,
        "accepted_at": None,
        "arrived_at": None,
        # The redone visit checks in and out afresh.
        "checkout_at": None,
        "checkout_lat": None,
        "checkout_lon": None,
        "checkout_distance_m": None,
        "checkout_far": False,
        # The old rating stays in the ratings (and the KPIs); the redone order is rated afresh.
        "rating_stars": None,
    }
    deadlines = order_deadlines(now, order_limits(session, order), ctx.calendar)
    changes.update(sign_by=deadlines.sign_by, complete_by=deadlines.complete_by, next_check_at=now)
    transition(session, order, Action.REOPEN, at=now, actor=actor, note=reason, changes=changes)
    offer_if_auto(session, order, ctx=ctx, now=now)


def resident_rates(
    session: Session, order: Order, stars: int, *, channel: str, now: datetime, actor: str
) -> Rating:
    """The resident's own rating, given by a text reply or on the rating call (no comment)."""
    return rate(
        session,
        order,
        stars=stars,
        outcome=RatingOutcome.RATED,
        comment="",
        channel=channel,
        now=now,
        actor=actor,
    )


# How long after a 1–2 star rating the resident may still ask for rework themselves (by SMS or on
# the rating call); later, an operator or supervisor reopens it.
RESIDENT_REOPEN_WINDOW = timedelta(days=7)


def resident_may_reopen(session: Session, order: Order, now: datetime) -> bool:
    """Closed with a 1–2 star rating given at most the window ago."""
    if order.status != OrderStatus.CLOSED or order.rating_stars is None or order.rating_stars > 2:
        return False
    rated_at = session.scalar(
        select(func.max(Rating.created_at)).where(Rating.order_id == order.id, Rating.stars.is_not(None))
    )
    return rated_at is not None and now - rated_at <= RESIDENT_REOPEN_WINDOW


def resident_reopen(
    session: Session,
    order: Order,
    *,
    via: str,
    now: datetime,
    actor: str,
    ctx: DispatchContext,
    said: str = "",
) -> None:
    """重办 asked for by the resident after an unsatisfied rating (``via``: 短信, 电话, 网上, App;
    ``said``: what the resident wrote, if anything)."""
    if not resident_may_reopen(session, order, now):
        raise Conflict(
            f"order {order.number} cannot be reopened by the resident: only within "
            f"{RESIDENT_REOPEN_WINDOW.days} days of a 1–2 star rating",
            code="not_reopenable",
            message=f"工单{order.number}已不能由居民申请重办：只能在评价 1–2 星后的 "
            f"{RESIDENT_REOPEN_WINDOW.days} 天内申请",
        )
    reason = f"居民{via}要求重办（{order.rating_stars}星）" + (f"：{said}" if said else "")
    reopen_order(session, order, reason=reason, now=now, actor=actor, ctx=ctx)


def cancel(
    session: Session,
    order: Order,
    *,
    reason: str,
    now: datetime,
    actor: User | str,
    data: dict[str, object] | None = None,
) -> None:
    """撤销; ``data`` goes on the timeline entry (a resident's own cancellation says so)."""
    offer = pending_offer(session, order) if order.status == OrderStatus.OFFERED else None
    holder = order.provider_id if order.status in (OrderStatus.ACCEPTED, OrderStatus.IN_SERVICE) else None
    transition(
        session,
        order,
        Action.CANCEL,
        at=now,
        actor=actor,
        note=reason,
        data=data,
        changes={"cancelled_at": now, "next_check_at": None},
    )
    if offer is not None:
        session.execute(
            update(Offer)
            .where(Offer.id == offer.id, Offer.status == OfferStatus.PENDING)
            .values(status=OfferStatus.WITHDRAWN, responded_at=now, reason="工单已撤销")
            .execution_options(synchronize_session=False)
        )
        touch(session, order.id)
        release_slot(session, offer.provider_id)
    release_slot(session, holder)


def extend(
    session: Session,
    order: Order,
    *,
    working_days: int,
    reason: str,
    now: datetime,
    actor: User,
    cal: WorkCalendar,
) -> None:
    """延期 approved by a supervisor: up to 10 working days in all, added to the complete-by deadline."""
    if order.status not in EXTENDABLE:
        raise Conflict(
            f"order {order.number} is {order.status.value}: only open orders can be extended",
            code="not_open",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，只有未办结的工单才能延期",
        )
    total = order.extension_days + working_days
    if total > MAX_EXTENSION_WORKING_DAYS:
        raise BadRequest(
            f"working_days: extensions may total {MAX_EXTENSION_WORKING_DAYS} working days; "
            f"this order already has {order.extension_days}",
            code="extension_too_long",
            message=f"延期工作日数：延期累计不能超过 {MAX_EXTENSION_WORKING_DAYS} 个工作日，"
            f"此工单已延期 {order.extension_days} 个工作日",
        )
    old = order.complete_by
    new = cal.add_working_days(old, working_days) if old is not None else None
    order.extension_days = total
    order.complete_by = new
    order.next_check_at = now  # the sweep recomputes the ladder for the new deadline
    if order.supervision != Supervision.NONE and new is not None and new > now:
        order.supervision, order.overdue = Supervision.NONE, False
    order.updated_at = now
    record_event(
        session,
        order,
        action="extend",
        at=now,
        actor=actor,
        note=reason,
        data={"working_days": working_days, "complete_by": new.isoformat() if new else None},
    )
    session.flush()


def urge(session: Session, order: Order, *, note: str, now: datetime, actor: User, tz: ZoneInfo) -> None:
    """督办: remind the provider (SMS) and record who urged."""
    if order.status not in URGEABLE:
        raise Conflict(
            f"order {order.number} is {order.status.value}: only orders with a provider can be urged",
            code="nothing_to_urge",
            message=f"工单{order.number}当前为“{LABELS_ZH[order.status]}”，"
            "只有已派出（待签收、已签收、服务中）的工单才能督办",
        )
    # No provider on the order (the contract fuzz run reached one): nobody to text, the urge is
    # still recorded.
    holder = order.worker_id or order.provider_id
    provider = session.get(Provider, holder) if holder is not None else None
    due = order.complete_by.astimezone(tz).strftime("%m月%d日%H:%M") if order.complete_by else "尽快"
    body = f"【督办】工单{order.number}请加快办理，办结时限：{due}。{note}".strip()
    if provider is not None and provider.phone:
        messages.add(session, messages.sms(provider.phone, body, kind="urge", now=now, order_id=order.id))
    record_event(session, order, action="urge", at=now, actor=actor, note=note or "督办提醒")
    session.flush()
