"""Action endpoints: ``POST /api/v1/orders/{id}/<verb>`` (verbs, never a status field)."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import Forbidden, NotFound
from dispatch.matching import offers
from dispatch.matching.batching import BatchReport, run_batch
from dispatch.matching.offers import DispatchContext
from dispatch.matching.service import candidates
from dispatch.orders import repository
from dispatch.services import calendars, provider_index
from models import Order, Provider, Role, User

router = APIRouter(prefix="/api/v1", tags=["order actions"])

Staff = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]
Supervisors = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR))]
Responders = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.ORG_ADMIN, Role.WORKER))]


def dispatch_context(ctx: AppContext, session: Session) -> DispatchContext:
    return DispatchContext(
        index=provider_index(ctx).index(session),
        calendar=calendars(ctx).calendar(session),
        tz=ZoneInfo(ctx.settings.locale.timezone),
        max_returns=ctx.settings.dispatch.max_returns,
    )


def load_order(db: Session, user: User, order_id: int) -> Order:
    order = repository.get_visible(db, user, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


class CandidateOut(BaseModel):
    provider_id: int
    name: str
    distance_km: float
    score: float
    reasons: list[str]
    out_of_hours: bool


class RejectedOut(BaseModel):
    provider_id: int
    name: str
    distance_km: float
    reason: str


class CandidatesOut(BaseModel):
    candidates: list[CandidateOut]
    rejected: list[RejectedOut] = []


@router.get("/orders/{order_id}/candidates", response_model=CandidatesOut)
def order_candidates(
    order_id: int,
    db: Db,
    ctx: Ctx,
    user: Staff,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    explain: Annotated[bool, Query(description="also list nearby providers ruled out, with why")] = False,
) -> CandidatesOut:
    order = load_order(db, user, order_id)
    dctx = dispatch_context(ctx, db)
    ranked, rejected = candidates(
        db, order, index=dctx.index, now=ctx.clock.now(), tz=dctx.tz, with_rejected=explain
    )
    return CandidatesOut(
        candidates=[
            CandidateOut(
                provider_id=c.ranked.provider_id,
                name=c.name,
                distance_km=round(c.ranked.distance_km, 3),
                score=round(c.ranked.score, 4),
                reasons=list(c.ranked.reasons),
                out_of_hours=c.out_of_hours,
            )
            for c in ranked[:limit]
        ],
        rejected=[
            RejectedOut(
                provider_id=r.provider_id, name=r.name, distance_km=round(r.distance_km, 3), reason=r.reason
            )
            for r in rejected[:limit]
        ],
    )


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider_id: int | None = Field(None, ge=1, description="omit to offer to the best candidate")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=300)


class OfferOut(BaseModel):
    order_id: int
    order_status: str
    offer_id: int | None
    provider_id: int | None
    sign_by: Any = None
    supervisor_queue_reason: str | None = None


def _offer_out(order: Order, offer: Any) -> OfferOut:
    return OfferOut(
        order_id=order.id,
        order_status=order.status.value,
        offer_id=offer.id if offer else None,
        provider_id=offer.provider_id if offer else None,
        sign_by=offer.sign_by if offer else None,
        supervisor_queue_reason=order.supervisor_queue_reason,
    )


@router.post("/orders/{order_id}/dispatch", response_model=OfferOut)
def dispatch(order_id: int, db: Db, ctx: Ctx, user: Staff, body: DispatchIn | None = None) -> OfferOut:
    order = load_order(db, user, order_id)
    if order.supervisor_queue_reason and user.role == Role.OPERATOR:
        raise Forbidden(f"order {order.number} waits for a supervisor ({order.supervisor_queue_reason})")
    offer = offers.dispatch_order(
        db,
        order,
        ctx=dispatch_context(ctx, db),
        now=ctx.clock.now(),
        actor=user,
        provider_id=body.provider_id if body else None,
    )
    return _offer_out(order, offer)


def _check_responder(db: Session, user: User, order: Order) -> None:
    """Workers answer their own offers; org admins those of their organisation and its workers."""
    if user.role in (Role.ADMIN, Role.SUPERVISOR):
        return
    pending = offers.pending_offer(db, order)
    if pending is None:
        return  # the lifecycle check answers with the right 409
    provider = db.get_one(Provider, pending.provider_id)
    mine = user.provider_id is not None and (
        provider.id == user.provider_id
        or (user.role == Role.ORG_ADMIN and provider.organisation_id == user.provider_id)
    )
    if not mine:
        raise Forbidden("this offer was made to another provider")


@router.post("/orders/{order_id}/accept", response_model=OfferOut)
def accept(order_id: int, db: Db, ctx: Ctx, user: Responders) -> OfferOut:
    order = load_order(db, user, order_id)
    _check_responder(db, user, order)
    offer = offers.accept(db, order, now=ctx.clock.now(), actor=user)
    return _offer_out(order, offer)


@router.post("/orders/{order_id}/decline", response_model=OfferOut)
def decline(order_id: int, body: ReasonIn, db: Db, ctx: Ctx, user: Responders) -> OfferOut:
    order = load_order(db, user, order_id)
    _check_responder(db, user, order)
    next_offer = offers.return_offer(
        db,
        order,
        now=ctx.clock.now(),
        actor=user,
        reason=body.reason,
        expired=False,
        ctx=dispatch_context(ctx, db),
        auto_redispatch=ctx.settings.dispatch.auto_dispatch,
    )
    return _offer_out(order, next_offer)


class BatchOut(BaseModel):
    orders: int
    assigned: dict[str, int]
    unassigned: list[str]
    failed: dict[str, str]
    total_km: float
    greedy_km: float
    greedy_assigned: int


@router.post("/dispatch/batch", response_model=BatchOut)
def batch(db: Db, ctx: Ctx, user: Supervisors) -> BatchOut:
    """Offer every waiting order at once, minimising total distance (reports greedy for comparison)."""
    report: BatchReport = run_batch(db, ctx=dispatch_context(ctx, db), now=ctx.clock.now(), actor=user)
    return BatchOut(**report.__dict__)
