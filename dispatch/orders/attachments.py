"""Photos and signatures on an order: checked, stored on disk, listed in the timeline.

A photo is accepted only as JPEG, PNG or WebP, judged by its first bytes (never by the content
type the client claims), up to ``[uploads] max_photo_mb`` and six per order and stage. Every check
runs before anything is written, so a refusal stores nothing. A file is written to a temporary
name in its order's directory and renamed into place (a reader never sees half a file), under a
random name; the row points at it by a path relative to ``[uploads] dir``. Should the request's
transaction roll back after the file was written, the file is removed with it.

Who may see them: the call centre, the provider holding the order (and after its work on the
order is done), and whoever filed a home-visit request (a worker, an organisation admin, the call
centre) its intake photos
(:func:`readable_stages`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from dispatch.errors import AppError, BadRequest, Conflict, Forbidden
from dispatch.idempotency import run_once
from dispatch.orders.timeline import record_event
from dispatch.residents.privacy import HELD, PROVIDERS, STAFF
from models import (
    OPEN_STATUSES,
    Attachment,
    AttachmentKind,
    AttachmentStage,
    Channel,
    Order,
    OrderStatus,
    User,
)

MAX_PER_STAGE = 6
MAX_SIGNATURE_BYTES = 512 * 1024
STAGE_LABELS_ZH = {
    AttachmentStage.INTAKE: "登记",
    AttachmentStage.VISIT: "服务现场",
    AttachmentStage.COMPLETION: "办结",
}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# The provider's work on an order is over but its photos stay theirs to see.
_DONE = frozenset({OrderStatus.COMPLETED, OrderStatus.CLOSED})


class UnsupportedImage(AppError):
    status_code = 415
    code = "unsupported_image_type"


class ImageTooLarge(AppError):
    status_code = 413
    code = "image_too_large"


def sniff_image(data: bytes) -> str | None:
    """The image type the bytes themselves say (JPEG, PNG, WebP), or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class Storage:
    """Files under one root directory, one sub-directory per order."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, relative: str) -> Path:
        return self.root / relative

    def save(self, order_id: int, data: bytes, extension: str) -> str:
        """Write ``data`` atomically under a random name; its path relative to the root."""
        folder = self.root / str(order_id)
        folder.mkdir(parents=True, exist_ok=True)
        relative = f"{order_id}/{secrets.token_hex(16)}.{extension}"
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.root / relative)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return relative

    def remove(self, relative: str) -> None:
        with contextlib.suppress(OSError):
            (self.root / relative).unlink()


_NEW_FILES = "sanshe_new_files"


def _forget_on_rollback(session: Session, storage: Storage, relative: str) -> None:
    """Remove the file if the transaction that records it rolls back; keep it once committed."""
    if _NEW_FILES not in session.info:
        session.info[_NEW_FILES] = []

        def committed(s: Session) -> None:
            s.info.get(_NEW_FILES, []).clear()

        def rolled_back(s: Session) -> None:
            written = s.info.get(_NEW_FILES, [])
            for store, name in written:
                store.remove(name)
            written.clear()

        event.listen(session, "after_commit", committed)
        event.listen(session, "after_rollback", rolled_back)
    session.info[_NEW_FILES].append((storage, relative))


# --- who may do what -------------------------------------------------------------------------------


def _holds(order: Order, scope: Collection[int] | None) -> bool:
    return scope is not None and any(
        p is not None and p in scope for p in (order.provider_id, order.worker_id)
    )


def readable_stages(order: Order, user: User, scope: Collection[int] | None) -> frozenset[AttachmentStage]:
    """The stages of this order's attachments ``user`` may see (empty: none)."""
    if user.role in STAFF:
        return frozenset(AttachmentStage)
    if user.role in PROVIDERS and _holds(order, scope) and order.status in HELD | _DONE:
        return frozenset(AttachmentStage)
    if order.created_by_id == user.id and order.channel == Channel.VISIT:
        return frozenset({AttachmentStage.INTAKE})
    return frozenset()


def check_upload(order: Order, user: User, scope: Collection[int] | None, stage: AttachmentStage) -> None:
    """Forbidden unless ``user`` may add a ``stage`` photo to ``order`` now."""
    if stage == AttachmentStage.INTAKE:
        if order.created_by_id != user.id or order.channel != Channel.VISIT:
            raise Forbidden(
                "intake photos are added by whoever filed the home-visit request",
                message="登记照片只能由登记这条上门诉求的人员上传",
            )
        if order.status not in OPEN_STATUSES:
            raise Conflict(
                f"order {order.number} is {order.status.value}: intake photos go with an open order",
                code="order_not_open",
                message=f"工单{order.number}已结束，不能再补充登记照片",
            )
        return
    if user.role not in PROVIDERS or not _holds(order, scope):
        raise Forbidden(
            "photos of the visit are added by the provider holding the order",
            message="服务现场和办结照片只能由签收此工单的服务方上传",
        )
    if order.status not in HELD:
        raise Conflict(
            f"order {order.number} is {order.status.value}: photos are added while it is accepted or in service",
            code="not_in_service",
            message=f"工单{order.number}当前不在服务中（已签收或服务中才能上传照片）",
        )


# --- photos ------------------------------------------------------------------------------------------


def check_photo(data: bytes, *, max_bytes: int) -> str:
    """The photo's content type, or the refusal (415, 413) — before anything is written."""
    if len(data) > max_bytes:
        mb = max_bytes / 1024 / 1024
        raise ImageTooLarge(
            f"the photo is over {mb:g} MB",
            message=f"照片超过 {mb:g} MB，请压缩后重新上传",
        )
    content_type = sniff_image(data)
    if content_type is None:
        raise UnsupportedImage(
            "only JPEG, PNG or WebP photos are accepted",
            message="只能上传 JPEG、PNG 或 WebP 格式的照片",
        )
    return content_type


def _count(session: Session, order_id: int, kind: AttachmentKind, stage: AttachmentStage) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.order_id == order_id, Attachment.kind == kind, Attachment.stage == stage)
        )
        or 0
    )


def _lock(session: Session, order: Order) -> None:
    """Count and add under the order's row lock: two uploads racing for the sixth place do not
    both get it (PostgreSQL; SQLite has one writer)."""
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())


def _store(
    session: Session,
    order: Order,
    *,
    data: bytes,
    content_type: str,
    kind: AttachmentKind,
    stage: AttachmentStage,
    storage: Storage,
    actor: User | str,
    now: datetime,
) -> Attachment:
    relative = storage.save(order.id, data, EXTENSIONS[content_type])
    _forget_on_rollback(session, storage, relative)
    row = Attachment(
        order_id=order.id,
        kind=kind,
        stage=stage,
        content_type=content_type,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        path=relative,
        uploaded_by_id=actor.id if isinstance(actor, User) else None,  # str: a resident ("web:+86…")
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def add_photo(
    session: Session,
    order: Order,
    *,
    data: bytes,
    stage: AttachmentStage,
    storage: Storage,
    max_bytes: int,
    actor: User | str,
    now: datetime,
    limit: int = MAX_PER_STAGE,
) -> Attachment:
    """``limit``: photos of this stage the order may have (a resident's request: ``[residents_app]
    max_photos``)."""
    content_type = check_photo(data, max_bytes=max_bytes)
    _lock(session, order)
    if _count(session, order.id, AttachmentKind.PHOTO, stage) >= limit:
        raise Conflict(
            f"order {order.number} already has {limit} {stage.value} photos",
            code="too_many_photos",
            message=f"工单{order.number}的{STAGE_LABELS_ZH[stage]}照片已有 {limit} 张，不能再上传",
        )
    row = _store(
        session,
        order,
        data=data,
        content_type=content_type,
        kind=AttachmentKind.PHOTO,
        stage=stage,
        storage=storage,
        actor=actor,
        now=now,
    )
    record_event(
        session,
        order,
        action="photo",
        at=now,
        actor=actor,
        note=f"上传{STAGE_LABELS_ZH[stage]}照片",
        data={"attachment_id": row.id, "stage": stage.value, "kind": AttachmentKind.PHOTO.value},
    )
    return row


def add_photo_once(
    session: Session,
    order: Order,
    *,
    data: bytes,
    stage: AttachmentStage,
    storage: Storage,
    max_bytes: int,
    actor: User | str,
    now: datetime,
    scope: str,
    key: str | None,
    out: Callable[[Attachment], dict[str, Any]],
    limit: int = MAX_PER_STAGE,
) -> tuple[int, dict[str, Any], bool]:
    """:func:`add_photo` under an Idempotency-Key (``scope``: whose keys): a resend of the same
    photo answers the first upload's ``out(row)`` and stores nothing twice. (status, body, replayed)."""

    def work() -> tuple[int, dict[str, Any]]:
        row = add_photo(
            session,
            order,
            data=data,
            stage=stage,
            storage=storage,
            max_bytes=max_bytes,
            actor=actor,
            now=now,
            limit=limit,
        )
        return 201, out(row)

    digest = hashlib.sha256(data).hexdigest()
    payload = {"order_id": order.id, "stage": stage.value, "sha256": digest}
    return run_once(session, scope=scope, key=key, payload=payload, now=now, work=work)


# How a stored image is served: never kept by a shared phone's browser, never sniffed.
PRIVATE_IMAGE_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def attachments_of(
    session: Session, order: Order, stages: Collection[AttachmentStage]
) -> Sequence[Attachment]:
    if not stages:
        return []
    return session.scalars(
        select(Attachment)
        .where(Attachment.order_id == order.id, Attachment.stage.in_(list(stages)))
        .order_by(Attachment.id)
    ).all()


# --- at completion -----------------------------------------------------------------------------------


def completion_photos(session: Session, order: Order, ids: Sequence[int]) -> list[int]:
    """The ids, once each is a completion photo of this order (400 otherwise)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = set(
        session.scalars(
            select(Attachment.id).where(
                Attachment.id.in_(wanted),
                Attachment.order_id == order.id,
                Attachment.kind == AttachmentKind.PHOTO,
                Attachment.stage == AttachmentStage.COMPLETION,
            )
        )
    )
    missing = [i for i in wanted if i not in found]
    if missing:
        listed = ", ".join(str(i) for i in missing)
        raise BadRequest(
            f"photo_ids: {listed} are not completion photos of order {order.number}",
            code="unknown_photo",
            message=f"办结照片：编号 {listed} 不是此工单的办结照片，请重新上传",
        )
    return wanted


_PNG_DATA_URL = "data:image/png;base64,"


def decode_signature(data_url: str) -> bytes:
    """The PNG a ``data:image/png;base64,…`` URL holds (400 for anything else, 413 when too big)."""
    if not data_url.startswith(_PNG_DATA_URL):
        raise BadRequest(
            "signature.image: give a data:image/png;base64,… URL",
            code="invalid_signature",
            message="签名：请以 PNG 图片提交（data:image/png;base64,…）",
        )
    encoded = data_url[len(_PNG_DATA_URL) :]
    if len(encoded) > (MAX_SIGNATURE_BYTES * 4) // 3 + 4:
        raise ImageTooLarge(
            f"signature.image: over {MAX_SIGNATURE_BYTES // 1024} KB",
            message=f"签名图片超过 {MAX_SIGNATURE_BYTES // 1024} KB，请重新签名",
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            "signature.image: not valid base64",
            code="invalid_signature",
            message="签名图片数据已损坏，请重新签名",
        ) from None
    if len(data) > MAX_SIGNATURE_BYTES:
        raise ImageTooLarge(
            f"signature.image: over {MAX_SIGNATURE_BYTES // 1024} KB",
            message=f"签名图片超过 {MAX_SIGNATURE_BYTES // 1024} KB，请重新签名",
        )
    if sniff_image(data) != "image/png":
        raise BadRequest(
            "signature.image: the data is not a PNG image",
            code="invalid_signature",
            message="签名：只接受 PNG 图片",
        )
    return data


def add_signature(
    session: Session, order: Order, *, data: bytes, storage: Storage, actor: User, now: datetime
) -> Attachment:
    return _store(
        session,
        order,
        data=data,
        content_type="image/png",
        kind=AttachmentKind.SIGNATURE,
        stage=AttachmentStage.COMPLETION,
        storage=storage,
        actor=actor,
        now=now,
    )
