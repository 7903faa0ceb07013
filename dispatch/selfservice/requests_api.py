"""The residents' app, part two: a resident's own requests (``/api/v1/r/requests``).

A request goes through the call centre's intake (``orders.intake``: classification, location,
priority, deadlines, the duplicate flag, auto-dispatch), with the resident's number as the
caller's; the actions are the lifecycle's (``orders.lifecycle``), so the timeline, the outbox and
the live screens follow as for any other order, with the resident as the actor (``web:+86…`` /
``app:+86…``, masked on the call centre's screens). Another resident's order is a 404 on every
verb, the same answer as no order at all. Writes honour ``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.deps import Ctx, CurrentResident, Db, residents_app_on
from dispatch.errors import BadRequest, Conflict, NotFound
from dispatch.idempotency import replay_headers, run_once, run_verb_once
from dispatch.inputs import Id
from dispatch.orders import attachments, lifecycle
from dispatch.orders.intake import IntakeError, IntakeRequest, create_order
from dispatch.orders.offers import offer_if_auto
from dispatch.pagination import Page, paginate
from dispatch.residents.phones import normalise_phone
from dispatch.selfservice.accounts import SignedInResident
from dispatch.selfservice.schemas import (
    CancelIn,
    PhotoOut,
    RateIn,
    RequestIn,
    RequestList,
    RequestOut,
    RequestSummaryOut,
    ResidentChannel,
    ReworkIn,
)
from dispatch.selfservice.views import (
    CANCELLABLE,
    ResidentViews,
    cancel_data,
    own_order,
    own_orders,
    resident_actor,
)
from models import OPEN_STATUSES, Attachment, AttachmentKind, AttachmentStage, Channel, Order, RatingOutcome

router = APIRouter(
    prefix="/api/v1/r/requests",
    tags=["residents' app"],
    dependencies=[Depends(residents_app_on)],
    responses={404: {"description": "Not one of the resident's requests, or the residents' app is off"}},
)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retried request with the same key gets the first answer and acts only once",
    ),
]
# How far ahead a visit window may be asked for.
MAX_PREFERRED_AHEAD = timedelta(days=60)
VIA = {"web": "网上", "app": "App"}


def _not_found(order_id: int) -> NotFound:
    return NotFound(f"no request {order_id}", message="未找到这条诉求")


def _own(db: Session, resident: SignedInResident, order_id: int) -> Order:
    order = own_order(db, resident.resident_id, order_id)
    if order is None:
        raise _not_found(order_id)
    return order


def _view(db: Session, ctx: AppContext, order: Order) -> RequestOut:
    views = ResidentViews(db, tz=ctx.tz, now=ctx.clock.now()).load([order])
    return RequestOut(**views.detail(order))


def _answer(status: int, body: dict[str, Any], replayed: bool) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=replay_headers(replayed))


def _once(
    db: Session,
    ctx: AppContext,
    resident: SignedInResident,
    *,
    key: str | None,
    verb: str,
    order_id: int,
    body: BaseModel | None,
    work: Callable[[], BaseModel],
) -> JSONResponse:
    """A resident's action under its Idempotency-Key: a retry gets the first answer."""
    return _answer(
        *run_verb_once(
            db,
            scope=f"resident-actions:{resident.resident_id}",
            key=key,
            order_id=order_id,
            verb=verb,
            body=body.model_dump(mode="json") if body else None,
            now=ctx.clock.now(),
            work=lambda: work().model_dump(mode="json"),
        )
    )


@router.post(
    "",
    status_code=201,
    response_model=RequestOut,
    responses={400: {"description": "An address, time window or item the intake cannot use"}},
)
def file_request(
    body: RequestIn, db: Db, ctx: Ctx, resident: CurrentResident, idempotency_key: IdempotencyKey = None
) -> Any:
    """File a request: the same intake as the call centre's (priority, deadlines, duplicate flag,
    auto-dispatch), the resident's number as the caller's. The answer carries the item's safety
    notice; the app shows it before sending, from ``/catalogue`` or ``/suggest``."""
    now = ctx.clock.now()
    window = (body.preferred_from, body.preferred_to)
    if window[0] and window[1] and (window[1] <= now or window[0] > now + MAX_PREFERRED_AHEAD):
        raise BadRequest(
            "preferred_from/preferred_to: a window that has not ended, starting within 60 days",
            code="invalid_time_window",
            message=f"预约时间：请选择尚未过去、{MAX_PREFERRED_AHEAD.days} 天以内的时间",
        )
    req = IntakeRequest(
        phone=normalise_phone(resident.phone, ctx.settings.locale.default_region),
        description=body.description,
        channel=Channel(body.channel),
        address=body.address,
        lat=body.lat,
        lon=body.lon,
        coord_system=body.coord_system,
        item_code=body.item_code,
        preferred_from=body.preferred_from,
        preferred_to=body.preferred_to,
    )
    try:
        prepared = ctx.prepare_intake(req)
    except IntakeError as exc:
        raise BadRequest(str(exc), code=exc.code, message=exc.message) from None

    def work() -> tuple[int, dict[str, Any]]:
        try:
            result = create_order(
                db,
                req,
                actor=resident_actor(body.channel, resident.phone),
                now=now,
                services=ctx.intake_services(db),
                prepared=prepared,
            )
        except IntakeError as exc:
            raise BadRequest(str(exc), code=exc.code, message=exc.message) from None
        offer_if_auto(db, result.order, ctx=ctx.dispatch_context(db), now=now, excluded=())
        return 201, _view(db, ctx, result.order).model_dump(mode="json")

    status, payload, replayed = run_once(
        db,
        scope=f"resident-requests:{resident.resident_id}",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        now=now,
        work=work,
    )
    return _answer(status, payload, replayed)


@router.get("", response_model=RequestList)
def list_requests(db: Db, ctx: Ctx, resident: CurrentResident, page: Page) -> RequestList:
    """The resident's requests, newest first: every order linked to their record, whichever
    channel filed it."""
    rows, total = paginate(db, own_orders(resident.resident_id), page)
    views = ResidentViews(db, tz=ctx.tz, now=ctx.clock.now()).load(rows)
    return RequestList(items=[RequestSummaryOut(**views.summary(o)) for o in rows], total=total)


@router.get("/{order_id}", response_model=RequestOut)
def get_request(order_id: Id, db: Db, ctx: Ctx, resident: CurrentResident) -> RequestOut:
    return _view(db, ctx, _own(db, resident, order_id))


@router.post("/{order_id}/cancel", response_model=RequestOut)
def cancel(
    order_id: Id,
    db: Db,
    ctx: Ctx,
    resident: CurrentResident,
    body: CancelIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Cancel before the visit starts (before the worker checks in); 409 after."""
    said = body or CancelIn()

    def work() -> RequestOut:
        order = _own(db, resident, order_id)
        if order.status not in CANCELLABLE:
            raise Conflict(
                f"request {order.number} is {order.status.value}: it can be cancelled only before the visit starts",
                code="not_cancellable",
                message="服务人员已经上门或服务已结束，不能再取消；如需帮助，请拨打服务热线 "
                f"{ctx.settings.residents_app.hotline}",
            )
        reason = (said.reason or "").strip()
        lifecycle.cancel(
            db,
            order,
            reason=reason or f"居民{VIA[said.channel]}取消",
            now=ctx.clock.now(),
            actor=resident_actor(said.channel, resident.phone),
            data=cancel_data(reason),
        )
        return _view(db, ctx, order)

    return _once(
        db, ctx, resident, key=idempotency_key, verb="cancel", order_id=order_id, body=body, work=work
    )


@router.post("/{order_id}/rate", response_model=RequestOut)
def rate(
    order_id: Id,
    body: RateIn,
    db: Db,
    ctx: Ctx,
    resident: CurrentResident,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Rate 1–5 after completion (once since it was completed); 409 before or a second time."""

    def work() -> RequestOut:
        order = _own(db, resident, order_id)
        lifecycle.rate(
            db,
            order,
            stars=body.stars,
            outcome=RatingOutcome.RATED,
            comment=body.comment,
            channel=body.channel,
            now=ctx.clock.now(),
            actor=resident_actor(body.channel, resident.phone),
        )
        return _view(db, ctx, order)

    return _once(db, ctx, resident, key=idempotency_key, verb="rate", order_id=order_id, body=body, work=work)


@router.post("/{order_id}/rework", response_model=RequestOut)
def rework(
    order_id: Id,
    db: Db,
    ctx: Ctx,
    resident: CurrentResident,
    body: ReworkIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Ask for rework (重办) within 7 days of a 1–2 star rating: the rule of the SMS 重办."""
    said = body or ReworkIn()

    def work() -> RequestOut:
        order = _own(db, resident, order_id)
        lifecycle.resident_reopen(
            db,
            order,
            via=VIA[said.channel],
            now=ctx.clock.now(),
            actor=resident_actor(said.channel, resident.phone),
            ctx=ctx.dispatch_context(db),
            said=(said.reason or "").strip(),
        )
        return _view(db, ctx, order)

    return _once(
        db, ctx, resident, key=idempotency_key, verb="rework", order_id=order_id, body=body, work=work
    )


# --- photos -----------------------------------------------------------------------------------------


def _photo_out(row: Attachment) -> PhotoOut:
    return PhotoOut(
        id=row.id,
        content_type=row.content_type,
        bytes=row.bytes,
        created_at=row.created_at,
        url=f"/api/v1/r/requests/{row.order_id}/photos/{row.id}",
    )


@router.post(
    "/{order_id}/photos",
    status_code=201,
    response_model=PhotoOut,
    responses={
        409: {"description": "The request has its photos already ([residents_app] max_photos), or is over"},
        413: {"description": "The photo is over [uploads] max_photo_mb"},
        415: {"description": "Not a JPEG, PNG or WebP image (judged by its bytes)"},
    },
)
def upload_photo(
    order_id: Id,
    db: Db,
    ctx: Ctx,
    resident: CurrentResident,
    file: Annotated[UploadFile, File(description="one JPEG, PNG or WebP image")],
    channel: Annotated[ResidentChannel, Form(description="web or app")] = "web",
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """One photo of the resident's open request: 415 unless JPEG/PNG/WebP by its bytes, 413 over
    ``[uploads] max_photo_mb``, 409 past ``[residents_app] max_photos``; nothing is stored when
    refused."""
    order = _own(db, resident, order_id)
    if order.status not in OPEN_STATUSES:
        raise Conflict(
            f"request {order.number} is {order.status.value}: photos go with an open request",
            code="order_not_open",
            message="这条诉求已经结束，不能再添加照片",
        )
    max_bytes = int(ctx.settings.uploads.max_photo_mb * 1024 * 1024)
    data = file.file.read(max_bytes + 1)

    return _answer(
        *attachments.add_photo_once(
            db,
            order,
            data=data,
            stage=AttachmentStage.INTAKE,
            storage=attachments.Storage(Path(ctx.settings.uploads.dir)),
            max_bytes=max_bytes,
            actor=resident_actor(channel, resident.phone),
            now=ctx.clock.now(),
            scope=f"resident-photos:{resident.resident_id}",
            key=idempotency_key,
            out=lambda row: _photo_out(row).model_dump(mode="json"),
            limit=ctx.settings.residents_app.max_photos,
        )
    )


@router.get(
    "/{order_id}/photos/{photo_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}, "description": "the image"}
    },
)
def get_photo(order_id: Id, photo_id: Id, db: Db, ctx: Ctx, resident: CurrentResident) -> FileResponse:
    """One of the resident's own photos of their request (``Cache-Control: private, no-store``)."""
    order = _own(db, resident, order_id)
    row = db.scalar(
        select(Attachment).where(
            Attachment.id == photo_id,
            Attachment.order_id == order.id,
            Attachment.kind == AttachmentKind.PHOTO,
            Attachment.stage == AttachmentStage.INTAKE,
        )
    )
    path = attachments.Storage(Path(ctx.settings.uploads.dir)).path_of(row.path) if row is not None else None
    if path is None or not path.is_file():
        raise NotFound(f"no photo {photo_id} on request {order_id}", message="未找到这张照片")
    return FileResponse(
        path, media_type=row.content_type if row else None, headers=attachments.PRIVATE_IMAGE_HEADERS
    )
