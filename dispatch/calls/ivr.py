"""What a caller's keys in the phone menu mean for orders.

The Twilio adapter (``telephony.twilio_voice``) speaks the protocol: it reads webhooks and answers
with TwiML. What a key means is decided here, through the same domain actions as the HTTP verbs
and SMS replies (``orders.lifecycle``): a digit 1–5 on a rating call rates the order; 1 after an
unsatisfied rating asks for rework, which reopens the order and offers it again by the one
auto-dispatch rule. Nothing here commits; each action runs in a savepoint, so a refused one
changes nothing and the call goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import AppError
from dispatch.orders import lifecycle
from dispatch.orders.offers import DispatchContext
from dispatch.timelimits.hours import WorkingHours, in_working_hours
from models import Category, Item, Order, OrderStatus, OutboxMessage, RatingOutcome

log = logging.getLogger(__name__)


def actor(caller: str) -> str:
    """Who acted, in the order's timeline: the caller's number."""
    return f"ivr:{caller}"


def operators_open(hours: WorkingHours, at: datetime, tz: ZoneInfo) -> bool:
    """Whether a caller can reach an operator now, or can only leave a voicemail."""
    return in_working_hours(hours, at, tz)


def menu(session: Session, keys: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """key -> (category code, Chinese name), for the menu's categories still offered."""
    names = dict(
        session.execute(
            select(Category.code, Category.name_zh).where(
                Category.code.in_(set(keys.values())), Category.active.is_(True)
            )
        ).all()
    )
    return {d: (c, names[c]) for d, c in sorted(keys.items()) if c in names}


def category_name(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    return session.scalar(select(Category.name_zh).where(Category.code == code))


def order_to_rate(session: Session, *, order_id: int | None, outbox_id: int | None) -> Order | None:
    """The completed, unrated order a rating call is about (named by the order or by the outbox
    row that placed the call); None when there is nothing (left) to rate."""
    if order_id is None and outbox_id is not None:
        order_id = session.scalar(select(OutboxMessage.order_id).where(OutboxMessage.id == outbox_id))
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None or order.status != OrderStatus.COMPLETED or order.rating_stars is not None:
        return None
    return order


def item_name(session: Session, order: Order) -> str:
    return session.get_one(Item, order.item_id).name_zh


def rate(session: Session, order: Order, stars: int, *, caller: str, now: datetime) -> bool:
    """The resident pressed ``stars`` on the rating call; False when the order was rated meanwhile
    (a retried request, an operator's callback)."""
    try:
        with session.begin_nested():
            lifecycle.rate(
                session,
                order,
                stars=stars,
                outcome=RatingOutcome.RATED,
                comment="",
                channel="phone",
                now=now,
                actor=actor(caller),
            )
    except AppError as exc:
        log.info("rating by phone for order %s not recorded: %s", order.number, exc.detail)
        return False
    return True


def rework(
    session: Session, order_id: int | None, *, caller: str, now: datetime, ctx: DispatchContext
) -> Order | None:
    """The resident pressed 1 for rework after an unsatisfied rating: the order is reopened and
    offered again. Returns the order, or None when there is no such order."""
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None:
        return None
    try:
        with session.begin_nested():
            lifecycle.resident_reopen(session, order, via="电话", now=now, actor=actor(caller), ctx=ctx)
    except AppError as exc:  # reopened meanwhile (a retried request, an operator)
        log.info("rework by phone for order %s not recorded: %s", order.number, exc.detail)
    return order
