"""Tracking-loop jobs. Each is a plain function of (session, now, …) that a test can call directly;
the scheduler registry wires them to APScheduler. Each reads only what is due (indexed queries),
so its cost grows with due items, not with open orders.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import AppError
from dispatch.matching.offers import DispatchContext, return_offer
from models import Offer, OfferStatus, Order

log = logging.getLogger(__name__)
BATCH = 500


def expire_offers(session: Session, *, now: datetime, ctx: DispatchContext, auto_redispatch: bool) -> int:
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
                    auto_redispatch=auto_redispatch,
                )
            expired += 1
        except AppError as exc:  # answered meanwhile by the provider: nothing to expire
            log.info("offer for order %s not expired: %s", order.number, exc.detail)
    return expired
