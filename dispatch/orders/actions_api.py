"""Action endpoints: ``POST /api/v1/orders/{id}/<verb>`` (verbs, never a status field)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import Forbidden, NotFound
from dispatch.geo.coords import to_wgs84
from dispatch.matching.service import candidates
from dispatch.orders import lifecycle, offers, repository
from dispatch.orders.batch import BatchReport, run_batch
from dispatch.orders.offers import DispatchContext
from dispatch.services import calendars, provider_index
from models import Order, OrderStatus, Provider, RatingOutcome, Role, User

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


# --- after sign-for: check-in, completion, rating, cancel, reopen, extend, urge -------------------

AnyStaffOrProvider = Annotated[User, Depends(require_roles(*list(Role)))]
CallCentre = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]


def _check_assigned(db: Session, user: User, order: Order) -> None:
    """Workers act on orders assigned to them; org admins on their organisation's."""
    if user.role in (Role.ADMIN, Role.SUPERVISOR):
        return
    if user.role in (Role.WORKER, Role.ORG_ADMIN) and user.provider_id is not None:
        holders = {order.provider_id, order.worker_id} - {None}
        if user.provider_id in holders:
            return
        if user.role == Role.ORG_ADMIN:
            orgs = {db.get_one(Provider, h).organisation_id for h in holders}
            if user.provider_id in orgs:
                return
    raise Forbidden("this order is not assigned to you")


class CheckInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str = Field(min_length=1, max_length=2000)


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    stars: int | None = Field(None, ge=1, le=5)
    outcome: RatingOutcome = RatingOutcome.RATED
    comment: str = Field("", max_length=1000)
    channel: Literal["phone", "sms", "ivr", "web", "app", "visit"] = "phone"
    reopen: bool = Field(False, description="the resident asks for rework (1–2 stars only)")


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    working_days: int = Field(ge=1, le=10)
    reason: str = Field(min_length=1, max_length=300)


class UrgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str = Field("", max_length=300)


class ActionOut(BaseModel):
    order_id: int
    number: str
    status: str
    supervision: str
    complete_by: Any = None
    extension_days: int = 0
    reopen_count: int = 0
    rating_stars: int | None = None
    checkin_distance_m: float | None = None
    checkin_far: bool = False


def _out(order: Order) -> ActionOut:
    return ActionOut(
        order_id=order.id,
        number=order.number,
        status=order.status.value,
        supervision=order.supervision.value,
        complete_by=order.complete_by,
        extension_days=order.extension_days,
        reopen_count=order.reopen_count,
        rating_stars=order.rating_stars,
        checkin_distance_m=order.checkin_distance_m,
        checkin_far=order.checkin_far,
    )


@router.post("/orders/{order_id}/check-in", response_model=ActionOut)
def check_in(order_id: int, body: CheckInIn, db: Db, ctx: Ctx, user: AnyStaffOrProvider) -> ActionOut:
    order = load_order(db, user, order_id)
    _check_assigned(db, user, order)
    lat, lon = to_wgs84(body.lat, body.lon, body.coord_system)
    lifecycle.check_in(
        db,
        order,
        lat=lat,
        lon=lon,
        now=ctx.clock.now(),
        actor=user,
        far_m=ctx.settings.dispatch.checkin_far_meters,
    )
    return _out(order)


@router.post("/orders/{order_id}/complete", response_model=ActionOut)
def complete(order_id: int, body: NoteIn, db: Db, ctx: Ctx, user: AnyStaffOrProvider) -> ActionOut:
    """办结 by the provider after the service, or 直接办结 on the call by the call centre."""
    order = load_order(db, user, order_id)
    if order.status == OrderStatus.RECEIVED:
        if user.role not in (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR):
            raise Forbidden("only the call centre completes a request directly on the call")
    elif user.role == Role.OPERATOR:
        raise Forbidden("the provider completes an order it has signed for")
    else:
        _check_assigned(db, user, order)
    lifecycle.complete(
        db, order, note=body.note, now=ctx.clock.now(), actor=user, cal=calendars(ctx).calendar(db)
    )
    return _out(order)


@router.post("/orders/{order_id}/rate", response_model=ActionOut)
def rate(order_id: int, body: RateIn, db: Db, ctx: Ctx, user: CallCentre) -> ActionOut:
    """The resident's rating (1–5) or a callback outcome without one (unreachable / declined)."""
    order = load_order(db, user, order_id)
    lifecycle.rate(
        db,
        order,
        stars=body.stars,
        outcome=body.outcome,
        comment=body.comment,
        channel=body.channel,
        now=ctx.clock.now(),
        actor=user,
        reopen=body.reopen,
        cal=calendars(ctx).calendar(db),
    )
    if body.reopen:
        offer_reopened(db, ctx, order)
    return _out(order)


@router.post("/orders/{order_id}/cancel", response_model=ActionOut)
def cancel(order_id: int, body: ReasonIn, db: Db, ctx: Ctx, user: CallCentre) -> ActionOut:
    order = load_order(db, user, order_id)
    lifecycle.cancel(db, order, reason=body.reason, now=ctx.clock.now(), actor=user)
    return _out(order)


def offer_reopened(db: Session, ctx: AppContext, order: Order) -> None:
    """A reopened order goes straight back out when auto-dispatch is on and it has a place."""
    if ctx.settings.dispatch.auto_dispatch and order.lat is not None:
        offers.auto_dispatch(db, order, ctx=dispatch_context(ctx, db), now=ctx.clock.now())


@router.post("/orders/{order_id}/reopen", response_model=ActionOut)
def reopen(order_id: int, body: ReasonIn, db: Db, ctx: Ctx, user: Supervisors) -> ActionOut:
    order = load_order(db, user, order_id)
    lifecycle.reopen_order(
        db, order, reason=body.reason, now=ctx.clock.now(), actor=user, cal=calendars(ctx).calendar(db)
    )
    offer_reopened(db, ctx, order)
    return _out(order)


@router.post("/orders/{order_id}/extend", response_model=ActionOut)
def extend(order_id: int, body: ExtendIn, db: Db, ctx: Ctx, user: Supervisors) -> ActionOut:
    """延期, approved by the supervisor who grants it (10 working days in all at most)."""
    order = load_order(db, user, order_id)
    lifecycle.extend(
        db,
        order,
        working_days=body.working_days,
        reason=body.reason,
        now=ctx.clock.now(),
        actor=user,
        cal=calendars(ctx).calendar(db),
    )
    return _out(order)


@router.post("/orders/{order_id}/urge", response_model=ActionOut)
def urge(order_id: int, db: Db, ctx: Ctx, user: Supervisors, body: UrgeIn | None = None) -> ActionOut:
    order = load_order(db, user, order_id)
    lifecycle.urge(
        db,
        order,
        note=body.note if body else "",
        now=ctx.clock.now(),
        actor=user,
        tz=ZoneInfo(ctx.settings.locale.timezone),
    )
    return _out(order)
