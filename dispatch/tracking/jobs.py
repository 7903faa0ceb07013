"""Tracking-loop jobs. Each is a plain function of (session, now, …) that a test can call directly;
``scheduler.JOBS`` wires them to APScheduler. Each reads only what is due through an index
(``offer(status, sign_by)``, ``order(next_check_at)``), so its cost grows with due items, not with
open orders.

Every order keeps ``next_check_at``: the next moment something may be due for it (a reminder,
yellow or red supervision, the callback, the auto-close). The sweep handles what is due and sets
the next moment, or None when nothing more can happen without a person acting.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.errors import AppError
from dispatch.orders.intake import IntakeServices
from dispatch.orders.offers import DispatchContext, return_offer
from dispatch.orders.state import Action
from dispatch.orders.timeline import record_event
from dispatch.orders.transitions import transition
from dispatch.outbox import messages
from dispatch.ports import Recipient
from dispatch.timelimits.calendar import WorkCalendar
from dispatch.timelimits.deadlines import Limits, auto_close_at, ladder
from dispatch.timelimits.sla import effective_limits
from dispatch.visits.service import JobContext, make_due_visits
from models import (
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    Priority,
    Provider,
    ProviderStatus,
    Supervision,
)

log = logging.getLogger(__name__)
SUPERVISORS, OPERATORS = Recipient.role("supervisor"), Recipient.role("operator")
ADMINS = Recipient.role("admin")
BATCH = 5000  # per job and tick; the rest waits for the next tick
OPEN = (OrderStatus.RECEIVED, OrderStatus.OFFERED, OrderStatus.ACCEPTED, OrderStatus.IN_SERVICE)
# Star level: the average of ratings pulled towards 4★ with the weight of this many ratings, so a
# provider is not judged on its first one or two answers.
PRIOR_STARS, PRIOR_WEIGHT = 4.0, 5


def expire_offers(session: Session, *, now: datetime, ctx: DispatchContext) -> int:
    """Offers not signed for by their deadline expire; the order goes to the next candidate."""
    due = list(
        session.execute(
            select(Offer.id, Offer.order_id)
            .where(Offer.status == OfferStatus.PENDING, Offer.sign_by <= now)
            .order_by(Offer.sign_by)
            .limit(BATCH)
        )
    )
    expired = 0
    for _offer_id, order_id in due:
        order = session.get_one(Order, order_id)
        try:
            with session.begin_nested():
                return_offer(
                    session,
                    order,
                    now=now,
                    actor="system",
                    reason="超时未签收",
                    expired=True,
                    ctx=ctx,
                )
            expired += 1
        except AppError as exc:  # answered meanwhile by the provider: nothing to expire
            log.info("offer for order %s not expired: %s", order.number, exc.detail)
    return expired


def make_care_visits(
    session: Session, *, now: datetime, intake: IntakeServices, dispatch: DispatchContext, lead_days: int
) -> int:
    """Care visit plans: each visit whose period begins within ``lead_days`` becomes an order,
    due on a working day and offered to the plan's visitor (``visits.service.make_due_visits``)."""
    jc = JobContext(
        intake=intake, dispatch=dispatch, calendar=intake.calendar, tz=intake.tz, lead_days=lead_days
    )
    return make_due_visits(session, now=now, jc=jc)


def _notify_supervisors(
    session: Session, order: Order, level: str, note: str, now: datetime, stamp: str
) -> None:
    record_event(session, order, action="escalate", at=now, note=note, data={"level": level})
    # The supervision level itself keeps this from repeating: no look-up needed.
    text = f"{'红牌' if level == 'red' else '黄牌'}督办：工单{order.number}{'严重超时' if level == 'red' else '已超时'}"
    session.add(
        messages.notice(
            SUPERVISORS,
            text,
            kind=level,
            now=now,
            order_id=order.id,
            dedupe_key=f"{level}:{order.id}:{stamp}",
        )
    )


def _clock_start(session: Session, order: Order) -> datetime:
    """When the order's deadlines started running: its creation, or its last reopening (a reopened
    order gets fresh deadlines from then, and its ladder, red at twice the limit, runs from there)."""
    if not order.reopen_count:
        return order.created_at
    reopened = session.scalar(
        select(func.max(OrderEvent.at)).where(OrderEvent.order_id == order.id, OrderEvent.action == "reopen")
    )
    return reopened or order.created_at


def _escalate(
    session: Session,
    order: Order,
    now: datetime,
    limits: Limits,
    cal: WorkCalendar,
    remind_before: timedelta,
    tz: ZoneInfo,
) -> None:
    if order.complete_by is None:
        order.next_check_at = None
        return
    steps = ladder(
        _clock_start(session, order), order.complete_by, limits.clock, cal, remind_before=remind_before
    )
    stamp = order.complete_by.isoformat()
    due_local = order.complete_by.astimezone(tz).strftime("%m月%d日%H:%M")
    if now >= steps.red_at and order.supervision != Supervision.RED:
        order.supervision, order.overdue = Supervision.RED, True
        _notify_supervisors(session, order, "red", f"红牌：超过办结时限（{due_local}）过久", now, stamp)
    elif now >= steps.yellow_at and order.supervision == Supervision.NONE:
        order.supervision, order.overdue = Supervision.YELLOW, True
        _notify_supervisors(session, order, "yellow", f"黄牌：已超过办结时限（{due_local}）", now, stamp)
    elif steps.remind_at is not None and steps.remind_at <= now < steps.yellow_at:
        holder = session.get(Provider, order.worker_id or order.provider_id) if order.provider_id else None
        key = f"remind:{order.id}:{stamp}"
        if holder is not None and holder.phone:
            body = f"【提醒】工单{order.number}将于{due_local}到期，请及时办结。"
            message = messages.sms(
                holder.phone, body, kind="remind", now=now, order_id=order.id, dedupe_key=key
            )
        else:  # nobody holds it yet: the operators must find someone
            body = f"工单{order.number}将于{due_local}到期，尚未派出"
            message = messages.notice(
                OPERATORS, body, kind="remind", now=now, order_id=order.id, dedupe_key=key
            )
        if messages.add(session, message):
            record_event(session, order, action="remind", at=now, note=body)
    upcoming = [t for t in (steps.remind_at, steps.yellow_at, steps.red_at) if t is not None and t > now]
    order.next_check_at = min(upcoming) if upcoming else None


def _callback_or_close(session: Session, order: Order, now: datetime, cal: WorkCalendar) -> None:
    if order.completed_at is None:
        order.next_check_at = None
        return
    close_at = auto_close_at(order.completed_at, cal)
    if now >= close_at:
        transition(
            session,
            order,
            Action.CLOSE,
            at=now,
            actor="system",
            note="回访期满，未获评价，自动归档",
            changes={"closed_at": now, "next_check_at": None},
        )
        return
    if not order.caller_phone:
        # A patrol report names no resident: nobody to ask for a rating; it closes when the period ends.
        order.next_check_at = close_at
        return
    key = f"callback:{order.id}:{order.reopen_count}"
    body = f"请回访工单{order.number}的居民并记录评价（{order.caller_phone}）"
    request = messages.notice(OPERATORS, body, kind="callback", now=now, order_id=order.id, dedupe_key=key)
    if messages.add(session, request):
        session.add(
            messages.call(
                order.caller_phone,
                kind="call-callback",
                body="rating_callback",
                now=now,
                order_id=order.id,
                dedupe_key=f"call-{key}",
            )
        )
        record_event(session, order, action="callback_requested", at=now, note="已安排回访")
    order.next_check_at = close_at


def sweep_orders(
    session: Session, *, now: datetime, cal: WorkCalendar, remind_before: timedelta, tz: ZoneInfo
) -> int:
    """Reminders, yellow/red supervision, callback requests and auto-close for every due order.

    Each order is handled in a savepoint of its own: one that fails (inconsistent data, a bug) is
    rolled back alone, keeps its ``next_check_at`` so every later tick retries it, and is reported
    to the admins once (``_report_failure``), while the others go on."""
    due = list(
        session.scalars(
            select(Order).where(Order.next_check_at <= now).order_by(Order.next_check_at).limit(BATCH)
        )
    )
    limits: dict[tuple[int, Priority], Limits] = {}
    # No autoflush: flushing before every look-up would cost more than the work itself.
    with session.no_autoflush:
        for order in due:
            order_id, number = order.id, order.number
            try:
                with session.begin_nested():
                    _sweep_one(session, order, now, limits, cal, remind_before, tz)
            except AppError as exc:  # closing is a compare-and-set: a person may have rated it
                log.info("order %s skipped this tick: %s", number, exc.detail)
            except Exception as exc:
                _report_failure(session, order_id, number, exc, now)
    session.flush()
    return len(due)


def _sweep_one(
    session: Session,
    order: Order,
    now: datetime,
    limits: dict[tuple[int, Priority], Limits],
    cal: WorkCalendar,
    remind_before: timedelta,
    tz: ZoneInfo,
) -> None:
    if order.status in OPEN:
        key = (order.item_id, order.priority)
        if key not in limits:
            limits[key] = effective_limits(session, session.get_one(Item, order.item_id), order.priority)
        _escalate(session, order, now, limits[key], cal, remind_before, tz)
    elif order.status == OrderStatus.COMPLETED:
        _callback_or_close(session, order, now, cal)
    else:
        order.next_check_at = None


def _report_failure(session: Session, order_id: int, number: str, exc: Exception, now: datetime) -> None:
    """Tell the admins once per order and kind of failure (the dedupe key), and log it then; the
    ticks that retry it meanwhile stay quiet. Looked up first, so a known failure writes nothing."""
    key = f"sweep-failed:{order_id}:{type(exc).__name__}"
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
        log.debug("order %s still fails in the sweep: %s", number, exc)
        return
    text = f"工单{number}的时限检查出错，已跳过（其他工单照常处理），请核对其数据：{type(exc).__name__}"
    if messages.add(
        session,
        messages.notice(ADMINS, text, kind="sweep_failed", now=now, order_id=order_id, dedupe_key=key),
    ):
        log.error("order %s: the tracking sweep fails on it (retried every tick): %r", number, exc)


def refresh_star_levels(session: Session, *, now: datetime, floor: float, min_ratings: int) -> int:
    """Star level from the rating counters; suspend providers that stay below the floor."""
    changed = 0
    rated = session.scalars(select(Provider).where(Provider.rating_count > 0))
    for p in rated:
        level = round((p.rating_sum + PRIOR_STARS * PRIOR_WEIGHT) / (p.rating_count + PRIOR_WEIGHT), 2)
        if abs(level - p.star_level) >= 0.005:
            p.star_level = level
            changed += 1
        if (
            floor > 0
            and p.status == ProviderStatus.ACTIVE
            and p.rating_count >= min_ratings
            and level < floor
        ):
            p.status = ProviderStatus.SUSPENDED
            changed += 1
            # The organisation's admins, or the worker's organisation's: they arrange the recovery.
            session.add(
                messages.notice(
                    Recipient.org_admins(p.organisation_id or p.id),
                    f"{p.name} 的服务评价为 {level}★（{p.rating_count} 条评价），低于 {floor}★，已暂停派单，请联系督办恢复。",
                    kind="suspended",
                    now=now,
                    provider_id=p.id,
                )
            )
            log.warning(
                "provider %s (%s) suspended: %.2f★ over %d ratings", p.id, p.name, level, p.rating_count
            )
    session.flush()
    return changed
