"""Order queries, including who may see which orders."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime

from sqlalchemy import Select, case, or_, select
from sqlalchemy.orm import Session

from models import (
    OPEN_STATUSES,
    Category,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Provider,
    Role,
    Supervision,
    User,
)

# A whole order number, ``YYYYMMDD-NNNN``, the dash optional (what a search box or an SMS holds).
NUMBER = re.compile(r"(\d{8})-?(\d{4,6})")
# What the orders list accepts as ``number``: a whole number, or the last digits of one.
NUMBER_QUERY = r"^(\d{8}-?)?\d{1,6}$"


def provider_scope(session: Session, user: User) -> list[int] | None:
    """Provider ids whose orders the user may see; None means every order (staff)."""
    if user.role in (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR):
        return None
    if user.provider_id is None:
        return []
    if user.role == Role.ORG_ADMIN:
        workers = session.scalars(select(Provider.id).where(Provider.organisation_id == user.provider_id))
        return [user.provider_id, *workers]
    return [user.provider_id]


def visible(stmt: Select, session: Session, user: User) -> Select:
    scope = provider_scope(session, user)
    if scope is None:
        return stmt
    offered = select(Offer.order_id).where(Offer.provider_id.in_(scope), Offer.status == OfferStatus.PENDING)
    return stmt.where(or_(Order.provider_id.in_(scope), Order.worker_id.in_(scope), Order.id.in_(offered)))


class Queue(enum.StrEnum):
    SUPERVISOR = "supervisor"  # received, nobody can take it: a supervisor decides
    DISPATCH = "dispatch"  # received, waiting for the call centre to dispatch or answer it
    CALLBACK = "callback"  # completed, waiting for the rating callback (回访)


def list_stmt(
    session: Session,
    user: User,
    *,
    status: OrderStatus | None = None,
    item_code: str | None = None,
    category_code: str | None = None,
    community_id: int | None = None,
    provider_id: int | None = None,
    resident_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    queue: Queue | None = None,
    overdue: bool | None = None,
    supervision: Supervision | None = None,
    open_: bool | None = None,
    number: str | None = None,
    today: date | None = None,
) -> Select:
    """The orders ``user`` may see, newest first, narrowed by the filters given.

    ``number``: a whole order number (with or without its dash) or its last digits, as workers
    and residents quote it; the whole-number match comes first, then ``today``'s, then the rest.
    The callback queue lists the soonest due first.
    """
    stmt = select(Order)
    if queue == Queue.CALLBACK:
        stmt = stmt.order_by(Order.callback_due_at.asc(), Order.id)
    elif number and not NUMBER.fullmatch(number) and today is not None:
        todays = Order.number.startswith(today.strftime("%Y%m%d") + "-")
        stmt = stmt.order_by(case((todays, 0), else_=1), Order.created_at.desc(), Order.id.desc())
    else:
        stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc())
    stmt = visible(stmt, session, user)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    if item_code:
        stmt = stmt.where(Order.item_id.in_(select(Item.id).where(Item.code == item_code)))
    if category_code:
        stmt = stmt.where(Order.category_id.in_(select(Category.id).where(Category.code == category_code)))
    if community_id is not None:
        stmt = stmt.where(Order.community_id == community_id)
    if provider_id is not None:
        stmt = stmt.where(or_(Order.provider_id == provider_id, Order.worker_id == provider_id))
    if resident_id is not None:
        stmt = stmt.where(Order.resident_id == resident_id)
    if created_from is not None:
        stmt = stmt.where(Order.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Order.created_at < created_to)
    if queue == Queue.SUPERVISOR:
        stmt = stmt.where(Order.supervisor_queue_reason.is_not(None), Order.status == OrderStatus.RECEIVED)
    elif queue == Queue.DISPATCH:
        stmt = stmt.where(Order.supervisor_queue_reason.is_(None), Order.status == OrderStatus.RECEIVED)
    elif queue == Queue.CALLBACK:
        stmt = stmt.where(Order.status == OrderStatus.COMPLETED)
    if overdue is not None:
        stmt = stmt.where(Order.overdue.is_(overdue))
    if supervision is not None:
        stmt = stmt.where(Order.supervision == supervision)
    if open_ is not None:
        stmt = stmt.where(Order.status.in_(OPEN_STATUSES) if open_ else Order.status.not_in(OPEN_STATUSES))
    if number:
        whole = NUMBER.fullmatch(number)
        if whole:
            stmt = stmt.where(Order.number == f"{whole[1]}-{whole[2]}")
        else:
            stmt = stmt.where(Order.number.endswith(number, autoescape=True))
    return stmt


def get_visible(session: Session, user: User, order_id: int) -> Order | None:
    return session.scalar(visible(select(Order).where(Order.id == order_id), session, user))
