"""Photos of an order: ``POST /api/v1/orders/{id}/photos`` (multipart, one file), the list and
each image. The checks and the storage are ``orders.attachments``; this module reads the upload
and answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import NotFound
from dispatch.idempotency import replay_headers
from dispatch.inputs import Id
from dispatch.orders import attachments, repository
from dispatch.orders.schemas import AttachmentList, AttachmentOut
from models import Attachment, AttachmentStage, Order, User

router = APIRouter(prefix="/api/v1/orders", tags=["photos"])

# Every role may file a home-visit request and add its intake photos; visit and completion photos
# are the holding provider's (``attachments.check_upload``).
Uploader = Reader = Annotated[User, Depends(require_roles(*ALL_ROLES))]
# Multipart framing around the file (boundaries, headers, the stage field): a little room.
MULTIPART_ROOM = 64 * 1024


def photo_route_limit(max_photo_mb: float) -> int:
    """The request body limit of the upload route: the largest photo and its multipart framing."""
    return int(max_photo_mb * 1024 * 1024) + MULTIPART_ROOM


def storage_of(ctx: AppContext) -> attachments.Storage:
    return attachments.Storage(Path(ctx.settings.uploads.dir))


def _not_found(order_id: int) -> NotFound:
    return NotFound(f"no order {order_id}", message=f"未找到编号为 {order_id} 的工单（或您无权查看）")


def _order_for(db: Session, user: User, order_id: int) -> Order:
    """The order if the user may see it, or filed it (a worker's home-visit request goes to
    whoever is dispatched, and its intake photos stay its filer's to add)."""
    order = repository.get_visible(db, user, order_id)
    if order is None:
        order = db.scalar(select(Order).where(Order.id == order_id, Order.created_by_id == user.id))
    if order is None:
        raise _not_found(order_id)
    return order


def _out(row: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=row.id,
        order_id=row.order_id,
        kind=row.kind.value,
        stage=row.stage.value,
        content_type=row.content_type,
        bytes=row.bytes,
        sha256=row.sha256,
        created_at=row.created_at,
        url=f"/api/v1/orders/{row.order_id}/photos/{row.id}",
    )


@router.post(
    "/{order_id}/photos",
    status_code=201,
    response_model=AttachmentOut,
    responses={
        409: {"description": "Six photos of this stage already, or the order is not in service"},
        413: {"description": "The photo is over [uploads] max_photo_mb"},
        415: {"description": "Not a JPEG, PNG or WebP image (judged by its bytes)"},
    },
)
def upload_photo(
    order_id: Id,
    db: Db,
    ctx: Ctx,
    user: Uploader,
    file: Annotated[UploadFile, File(description="one JPEG, PNG or WebP image")],
    stage: Annotated[
        AttachmentStage,
        Form(description="intake: filed on a home visit; visit: at the door; completion: the result"),
    ] = AttachmentStage.VISIT,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """One photo a request: 415 unless JPEG/PNG/WebP by its bytes, 413 over ``[uploads]
    max_photo_mb``, 409 past 6 of a stage; nothing is stored when refused. ``Idempotency-Key``
    makes a resend answer the first upload."""
    order = _order_for(db, user, order_id)
    scope = repository.provider_scope(db, user)
    attachments.check_upload(order, user, scope, stage)
    max_bytes = int(ctx.settings.uploads.max_photo_mb * 1024 * 1024)
    data = file.file.read(max_bytes + 1)
    now = ctx.clock.now()

    status, body, replayed = attachments.add_photo_once(
        db,
        order,
        data=data,
        stage=stage,
        storage=storage_of(ctx),
        max_bytes=max_bytes,
        actor=user,
        now=now,
        scope=f"photos:user:{user.id}",
        key=idempotency_key,
        out=lambda row: _out(row).model_dump(mode="json"),
    )
    return JSONResponse(body, status_code=status, headers=replay_headers(replayed))


@router.get("/{order_id}/photos", response_model=AttachmentList)
def list_photos(order_id: Id, db: Db, user: Reader) -> AttachmentList:
    """The order's photos and signature that the user may see, oldest first."""
    order = _order_for(db, user, order_id)
    stages = attachments.readable_stages(order, user, repository.provider_scope(db, user))
    if not stages:
        raise _not_found(order_id)
    rows = attachments.attachments_of(db, order, stages)
    return AttachmentList(items=[_out(r) for r in rows], total=len(rows))


@router.get(
    "/{order_id}/photos/{photo_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}, "description": "the image"}
    },
)
def get_photo(order_id: Id, photo_id: Id, db: Db, ctx: Ctx, user: Reader) -> FileResponse:
    """The image itself (``Cache-Control: private, no-store``: a shared phone keeps no copy)."""
    order = _order_for(db, user, order_id)
    stages = attachments.readable_stages(order, user, repository.provider_scope(db, user))
    row = db.get(Attachment, photo_id)
    if row is None or row.order_id != order.id or row.stage not in stages:
        raise NotFound(
            f"no photo {photo_id} on order {order_id}", message=f"此工单没有编号为 {photo_id} 的照片"
        )
    path = storage_of(ctx).path_of(row.path)
    if not path.is_file():
        raise NotFound(
            f"photo {photo_id} is recorded but its file is missing",
            message=f"编号为 {photo_id} 的照片文件已丢失，请联系管理员",
        )
    return FileResponse(path, media_type=row.content_type, headers=attachments.PRIVATE_IMAGE_HEADERS)
