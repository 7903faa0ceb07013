"""Open311 for staff: admins issue, list and revoke the applications' API keys and read every use
of one; the call centre turns the requests kept with a token into orders (or turns them down)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import NotFound
from dispatch.inputs import Id
from dispatch.open311 import keys
from dispatch.open311.pending import accept_pending, pending_listing, reject_pending
from dispatch.open311.schemas import (
    KeyCreate,
    KeyIssued,
    KeyList,
    KeyOut,
    KeyUseList,
    KeyUseOut,
    PendingAccept,
    PendingAccepted,
    PendingList,
    PendingOut,
)
from dispatch.orders.schemas import ReasonIn
from dispatch.pagination import Page, paginate
from dispatch.residents.privacy import mask_name, mask_phone
from models import Item, Open311Key, Open311Submission, Role, SubmissionStatus, User

Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
CallCentre = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]

router = APIRouter(prefix="/api/v1/open311", tags=["open311"])


def _key_out(key: Open311Key) -> KeyOut:
    return KeyOut.model_validate(key, from_attributes=True)


def _key(db: Db, key_id: int) -> Open311Key:
    key = db.get(Open311Key, key_id)
    if key is None:
        raise NotFound(f"no Open311 key {key_id}", message=f"未找到编号为 {key_id} 的接口密钥")
    return key


@router.post("/keys", status_code=201, response_model=KeyIssued)
def issue_key(body: KeyCreate, db: Db, ctx: Ctx, user: Admin) -> KeyIssued:
    """Issue a key to a named application. The answer is the only time the key is shown."""
    issued = keys.issue(
        db,
        name=body.name,
        contact=body.contact,
        rate_per_minute=body.rate_per_minute,
        by=user,
        now=ctx.clock.now(),
    )
    return KeyIssued(**_key_out(issued.key).model_dump(), key=issued.secret)


@router.get("/keys", response_model=KeyList)
def list_keys(db: Db, page: Page, user: Admin) -> KeyList:
    """Every key, newest first, revoked ones too (never the key itself: its prefix)."""
    rows, total = paginate(db, keys.listing(), page)
    return KeyList(items=[_key_out(k) for k in rows], total=total)


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_key(key_id: Id, db: Db, ctx: Ctx, user: Admin) -> KeyOut:
    """Revoke a key: every request with it is refused (403) from now on. Revoking again changes nothing."""
    key = _key(db, key_id)
    keys.revoke(db, key, by=user, now=ctx.clock.now())
    return _key_out(key)


@router.get("/keys/{key_id}/uses", response_model=KeyUseList)
def key_uses(key_id: Id, db: Db, page: Page, user: Admin) -> KeyUseList:
    """Every request made with the key, newest first: what, when, from where, how it ended."""
    _key(db, key_id)
    rows, total = paginate(db, keys.uses_of(key_id), page)
    return KeyUseList(items=[KeyUseOut.model_validate(u, from_attributes=True) for u in rows], total=total)


def _pending_out(row: Open311Submission, application: str, item: Item, region: str) -> PendingOut:
    form = row.form or {}
    name = form.get("resident_name")
    return PendingOut(
        id=row.id,
        token=row.token or "",
        application=application,
        created_at=row.created_at,
        status=row.status.value,
        reason=row.reason,
        service_code=item.code,
        service_name=item.name_zh,
        description=str(form.get("description", "")),
        address=form.get("address"),  # type: ignore[arg-type]
        phone=mask_phone(str(form["phone"]), region) if form.get("phone") else "",
        resident_name=mask_name(str(name)) if name else None,
        order_id=row.order_id,
        note=row.note,
    )


@router.get("/pending", response_model=PendingList)
def list_pending(
    db: Db,
    ctx: Ctx,
    page: Page,
    user: CallCentre,
    status: Annotated[
        SubmissionStatus, Query(description="pending: waiting for the call centre (oldest first)")
    ] = SubmissionStatus.PENDING,
) -> PendingList:
    """Requests applications filed that could not become orders at once (the place was not found)."""
    stmt = pending_listing(status)
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.execute(stmt.limit(page.limit).offset(page.offset)).all()
    region = ctx.settings.locale.default_region
    return PendingList(items=[_pending_out(r, name, item, region) for r, name, item in rows], total=total)


@router.post("/pending/{submission_id}/accept", response_model=PendingAccepted)
def accept(submission_id: Id, body: PendingAccept, db: Db, ctx: Ctx, user: CallCentre) -> PendingAccepted:
    """Make the order at the place found (the same intake as every order); the application's
    token answers its number from now on."""
    order = accept_pending(
        db,
        ctx,
        submission_id,
        address=body.address,
        lat=body.lat,
        lon=body.lon,
        user=user,
        now=ctx.clock.now(),
    )
    return PendingAccepted(order_id=order.id, number=order.number)


@router.post("/pending/{submission_id}/reject", response_model=PendingOut)
def reject(submission_id: Id, body: ReasonIn, db: Db, ctx: Ctx, user: CallCentre) -> PendingOut:
    """Turn a waiting request down (a test, a joke, not ours); its token answers 404 from now on."""
    row = reject_pending(db, submission_id, reason=body.reason, user=user, now=ctx.clock.now())
    key, item = db.get_one(Open311Key, row.key_id), db.get_one(Item, row.item_id)
    return _pending_out(row, key.name, item, ctx.settings.locale.default_region)
