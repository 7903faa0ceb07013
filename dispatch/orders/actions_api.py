"""Action endpoints: ``POST /api/v1/orders/{id}/<verb>`` (verbs, never a status field).

Each endpoint checks the role at the door (``policy.ROLES``), loads the order the user may see,
asks ``policy.authorize`` about the user's relation to it, and calls the domain action; the state
machine answers for the order's status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.deps import Ctx, CurrentUser, Db, require_roles
from dispatch.errors import NotFound
from dispatch.geo.coords import to_wgs84
from dispatch.idempotency import replay_headers, run_verb_once
from dispatch.inputs import Id
from dispatch.matching.service import candidates
from dispatch.orders import attachments, lifecycle, offers, policy, repository
from dispatch.orders.batch import offer_planned, plan_batch, run_batch
from dispatch.orders.policy import Verb
from dispatch.orders.schemas import (
    ActionOut,
    BatchIn,
    BatchOut,
    BatchPlanOut,
    CandidateOut,
    CandidatesOut,
    CheckInIn,
    CompleteIn,
    DispatchIn,
    ExtendIn,
    InternalNoteIn,
    LeftOut,
    OfferOut,
    PlannedOut,
    RateIn,
    ReasonIn,
    RejectedOut,
    TimelineEntry,
    UrgeIn,
    WithdrawIn,
)
from dispatch.orders.timeline import actor_label, record_event
from models import DispatchMode, Offer, Order, User

router = APIRouter(prefix="/api/v1", tags=["order actions"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retried request with the same key gets the first answer and acts only once",
    ),
]


Supervisors = Annotated[User, Depends(require_roles(*policy.SUPERVISORS))]


def load_order(db: Session, user: User, order_id: int) -> Order:
    order = repository.get_visible(db, user, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}", message=f"未找到编号为 {order_id} 的工单（或您无权查看）")
    return order


def acting_on(db: Session, user: User, order_id: int, verb: Verb) -> Order:
    """The order, once the user is known to be allowed to use ``verb`` on it. The role is checked
    before the order is looked up: a role that may never do this learns nothing about the order."""
    policy.check_role(verb, user)
    order = load_order(db, user, order_id)
    policy.authorize(verb, order, user, repository.provider_scope(db, user))
    return order


@router.get("/orders/{order_id}/candidates", response_model=CandidatesOut)
def order_candidates(
    order_id: Id,
    db: Db,
    ctx: Ctx,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    explain: Annotated[bool, Query(description="also list nearby providers ruled out, with why")] = False,
) -> CandidatesOut:
    policy.check_role(Verb.DISPATCH, user)
    order = load_order(db, user, order_id)
    dctx = ctx.dispatch_context(db)
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


def _offer_out(order: Order, offer: Offer | None) -> OfferOut:
    return OfferOut(
        order_id=order.id,
        order_status=order.status.value,
        offer_id=offer.id if offer else None,
        provider_id=offer.provider_id if offer else None,
        sign_by=offer.sign_by if offer else None,
        supervisor_queue_reason=order.supervisor_queue_reason,
    )


@router.post("/orders/{order_id}/dispatch", response_model=OfferOut)
def dispatch(order_id: Id, db: Db, ctx: Ctx, user: CurrentUser, body: DispatchIn | None = None) -> OfferOut:
    order = acting_on(db, user, order_id, Verb.DISPATCH)
    offer = offers.dispatch_order(
        db,
        order,
        ctx=ctx.dispatch_context(db),
        now=ctx.clock.now(),
        actor=user,
        provider_id=body.provider_id if body else None,
    )
    return _offer_out(order, offer)


@router.post("/orders/{order_id}/accept", response_model=OfferOut)
def accept(order_id: Id, db: Db, ctx: Ctx, user: CurrentUser, idempotency_key: IdempotencyKey = None) -> Any:
    def work() -> OfferOut:
        order = acting_on(db, user, order_id, Verb.ACCEPT)
        offer = offers.accept(db, order, now=ctx.clock.now(), actor=user)
        return _offer_out(order, offer)

    return once(db, ctx, user, key=idempotency_key, verb="accept", order_id=order_id, body=None, work=work)


@router.post("/orders/{order_id}/decline", response_model=OfferOut)
def decline(
    order_id: Id, body: ReasonIn, db: Db, ctx: Ctx, user: CurrentUser, idempotency_key: IdempotencyKey = None
) -> Any:
    def work() -> OfferOut:
        order = acting_on(db, user, order_id, Verb.DECLINE)
        next_offer = offers.return_offer(
            db,
            order,
            now=ctx.clock.now(),
            actor=user,
            reason=body.reason,
            expired=False,
            ctx=ctx.dispatch_context(db),
        )
        return _offer_out(order, next_offer)

    return once(db, ctx, user, key=idempotency_key, verb="decline", order_id=order_id, body=body, work=work)


@router.post("/orders/{order_id}/withdraw", response_model=OfferOut)
def withdraw(order_id: Id, body: WithdrawIn, db: Db, ctx: Ctx, user: CurrentUser) -> OfferOut:
    """收回改派: take the pending offer back, and with ``provider_id`` offer it to that provider."""
    order = acting_on(db, user, order_id, Verb.WITHDRAW)
    offer = offers.withdraw(
        db,
        order,
        reason=body.reason,
        now=ctx.clock.now(),
        actor=user,
        ctx=ctx.dispatch_context(db),
        provider_id=body.provider_id,
    )
    return _offer_out(order, offer)


@router.post("/orders/{order_id}/notes", response_model=TimelineEntry, status_code=201)
def add_note(order_id: Id, body: InternalNoteIn, db: Db, ctx: Ctx, user: CurrentUser) -> TimelineEntry:
    """内部备注: a note for the call centre's eyes only (never shown to providers or residents)."""
    order = acting_on(db, user, order_id, Verb.NOTE)
    now = ctx.clock.now()
    record_event(db, order, action="note", at=now, actor=user, note=body.text, data={"internal": True})
    return TimelineEntry(
        at=now,
        action="note",
        from_status=None,
        to_status=None,
        actor=actor_label(user),
        note=body.text,
        data={"internal": True},
    )


def once(
    db: Session,
    ctx: AppContext,
    user: User,
    *,
    key: str | None,
    verb: str,
    order_id: int,
    body: BaseModel | None,
    work: Callable[[], BaseModel],
) -> JSONResponse:
    """A field worker's verb under its Idempotency-Key: the phone app queues actions taken offline
    and resends them when the connection returns, so a request that reached the server before the
    connection dropped must not act twice. The replay is checked before the order: by then the
    order has moved on, and the first answer is what the retry should hear."""
    status, payload, replayed = run_verb_once(
        db,
        scope=f"order-actions:user:{user.id}",
        key=key,
        order_id=order_id,
        verb=verb,
        body=body.model_dump(mode="json") if body else None,
        now=ctx.clock.now(),
        work=lambda: work().model_dump(mode="json"),
    )
    return JSONResponse(payload, status_code=status, headers=replay_headers(replayed))


@router.post("/dispatch/batch/plan", response_model=BatchPlanOut)
def batch_plan(db: Db, ctx: Ctx, user: Supervisors) -> BatchPlanOut:
    """Which waiting order would go to whom (fewest orders left, then fewest km), and who stays
    unassigned and why; offers nothing, so a supervisor can look before confirming."""
    plan = plan_batch(db, ctx=ctx.dispatch_context(db), now=ctx.clock.now())
    return BatchPlanOut(
        orders=plan.orders,
        plan=[PlannedOut(**p.__dict__) for p in plan.plan],
        unassigned=[LeftOut(**u.__dict__) for u in plan.unassigned],
        total_km=plan.total_km,
        greedy_km=plan.greedy_km,
        greedy_assigned=plan.greedy_assigned,
    )


@router.post("/dispatch/batch", response_model=BatchOut)
def batch(db: Db, ctx: Ctx, user: Supervisors, body: BatchIn | None = None) -> BatchOut:
    """Offer the confirmed plan's assignments (each checked again); without a body, plan and offer
    every waiting order at once (reports nearest-first for comparison)."""
    dctx, now = ctx.dispatch_context(db), ctx.clock.now()
    if body is None:
        return BatchOut(**run_batch(db, ctx=dctx, now=now, actor=user).__dict__)
    pairs = [(a.order_id, a.provider_id) for a in body.assignments]
    report = offer_planned(db, pairs, ctx=dctx, now=now, actor=user)
    made = db.scalars(
        select(Offer.distance_km).where(
            Offer.order_id.in_([o for o, _ in pairs]),
            Offer.offered_at == now,
            Offer.mode == DispatchMode.BATCH,
        )
    )
    return BatchOut(
        orders=report.orders,
        assigned=report.assigned,
        unassigned=[],
        failed=report.failed,
        total_km=round(sum(d or 0 for d in made), 3),
    )


# --- after sign-for: check-in, completion, rating, cancel, reopen, extend, urge -------------------


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
        checkout_at=order.checkout_at,
        checkout_distance_m=order.checkout_distance_m,
        checkout_far=order.checkout_far,
    )


def _at_the_door(
    db: Session,
    ctx: AppContext,
    user: User,
    order_id: int,
    body: CheckInIn,
    key: str | None,
    verb: Verb,
    act: Callable[..., None],
) -> JSONResponse:
    """到场签到 and 离开现场: the position given (in WGS-84), the distance to the order's address
    flagged beyond ``[dispatch] checkin_far_meters``; ``act`` is ``lifecycle.check_in`` or
    ``lifecycle.check_out``."""

    def work() -> ActionOut:
        order = acting_on(db, user, order_id, verb)
        lat, lon = to_wgs84(body.lat, body.lon, body.coord_system)
        act(
            db,
            order,
            lat=lat,
            lon=lon,
            now=ctx.clock.now(),
            actor=user,
            far_m=ctx.settings.dispatch.checkin_far_meters,
        )
        return _out(order)

    return once(db, ctx, user, key=key, verb=verb.value, order_id=order_id, body=body, work=work)


@router.post("/orders/{order_id}/check-in", response_model=ActionOut)
def check_in(
    order_id: Id, body: CheckInIn, db: Db, ctx: Ctx, user: CurrentUser, idempotency_key: IdempotencyKey = None
) -> Any:
    """到场签到: the position at the door (flagged when far from the order's address)."""
    return _at_the_door(db, ctx, user, order_id, body, idempotency_key, Verb.CHECK_IN, lifecycle.check_in)


@router.post("/orders/{order_id}/check-out", response_model=ActionOut)
def check_out(
    order_id: Id, body: CheckInIn, db: Db, ctx: Ctx, user: CurrentUser, idempotency_key: IdempotencyKey = None
) -> Any:
    """离开现场: once after the check-in, with the position (flagged when far, as the check-in)."""
    return _at_the_door(db, ctx, user, order_id, body, idempotency_key, Verb.CHECK_OUT, lifecycle.check_out)


@router.post(
    "/orders/{order_id}/complete",
    response_model=ActionOut,
    responses={
        413: {"description": "The signature image is over 512 KB"},
    },
)
def complete(
    order_id: Id,
    body: CompleteIn,
    db: Db,
    ctx: Ctx,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """办结 by the provider after the service, or 直接办结 on the call by the call centre.

    After the service: ``photo_ids`` (completion photos uploaded before) and ``signature`` (a PNG
    data URL, or ``unable`` with a reason) go on the timeline."""

    def work() -> ActionOut:
        order = acting_on(db, user, order_id, Verb.COMPLETE)
        signature = None
        if body.signature is not None:
            image = body.signature.image
            signature = lifecycle.Signature(
                png=attachments.decode_signature(image) if image is not None else None,
                unable_reason=(body.signature.reason or "").strip() if body.signature.unable else None,
            )
        lifecycle.complete(
            db,
            order,
            note=body.note,
            now=ctx.clock.now(),
            actor=user,
            cal=ctx.calendar(db),
            photo_ids=body.photo_ids,
            signature=signature,
            storage=attachments.Storage(Path(ctx.settings.uploads.dir)),
        )
        return _out(order)

    return once(db, ctx, user, key=idempotency_key, verb="complete", order_id=order_id, body=body, work=work)


@router.post("/orders/{order_id}/rate", response_model=ActionOut)
def rate(order_id: Id, body: RateIn, db: Db, ctx: Ctx, user: CurrentUser) -> ActionOut:
    """The resident's rating (1–5) or a callback outcome without one (unreachable / declined)."""
    order = acting_on(db, user, order_id, Verb.RATE)
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
        ctx=ctx.dispatch_context(db) if body.reopen else None,
    )
    return _out(order)


@router.post("/orders/{order_id}/cancel", response_model=ActionOut)
def cancel(order_id: Id, body: ReasonIn, db: Db, ctx: Ctx, user: CurrentUser) -> ActionOut:
    order = acting_on(db, user, order_id, Verb.CANCEL)
    lifecycle.cancel(db, order, reason=body.reason, now=ctx.clock.now(), actor=user)
    return _out(order)


@router.post("/orders/{order_id}/reopen", response_model=ActionOut)
def reopen(order_id: Id, body: ReasonIn, db: Db, ctx: Ctx, user: CurrentUser) -> ActionOut:
    order = acting_on(db, user, order_id, Verb.REOPEN)
    lifecycle.reopen_order(
        db, order, reason=body.reason, now=ctx.clock.now(), actor=user, ctx=ctx.dispatch_context(db)
    )
    return _out(order)


@router.post("/orders/{order_id}/extend", response_model=ActionOut)
def extend(order_id: Id, body: ExtendIn, db: Db, ctx: Ctx, user: CurrentUser) -> ActionOut:
    """延期, approved by the supervisor who grants it (10 working days in all at most)."""
    order = acting_on(db, user, order_id, Verb.EXTEND)
    lifecycle.extend(
        db,
        order,
        working_days=body.working_days,
        reason=body.reason,
        now=ctx.clock.now(),
        actor=user,
        cal=ctx.calendar(db),
    )
    return _out(order)


@router.post("/orders/{order_id}/urge", response_model=ActionOut)
def urge(order_id: Id, db: Db, ctx: Ctx, user: CurrentUser, body: UrgeIn | None = None) -> ActionOut:
    order = acting_on(db, user, order_id, Verb.URGE)
    lifecycle.urge(db, order, note=body.note if body else "", now=ctx.clock.now(), actor=user, tz=ctx.tz)
    return _out(order)
