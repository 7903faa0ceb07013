"""The requests applications filed that wait for the call centre (a token was answered): listed
for operators, made into orders at the place they find, or turned down; and what a token says."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.errors import BadRequest, Conflict, NotFound
from dispatch.open311.submit import PERSONAL, Request, intake_request, make_order, source_note
from dispatch.orders.intake import IntakeError, prepare
from models import Item, Open311Key, Open311Submission, Order, SubmissionStatus, User


def pending_listing(status: SubmissionStatus) -> Select[tuple[Open311Submission, str, Item]]:
    return (
        select(Open311Submission, Open311Key.name, Item)
        .join(Open311Key, Open311Key.id == Open311Submission.key_id)
        .join(Item, Item.id == Open311Submission.item_id)
        .where(Open311Submission.status == status)
        .order_by(Open311Submission.created_at, Open311Submission.id)
    )


def _claim(
    db: Session, submission_id: int, to: SubmissionStatus, user: User, now: datetime
) -> Open311Submission:
    """Move a waiting submission on, once (compare-and-set); 404 / 409 otherwise."""
    done = db.execute(
        update(Open311Submission)
        .where(Open311Submission.id == submission_id, Open311Submission.status == SubmissionStatus.PENDING)
        .values(status=to, resolved_at=now, resolved_by_id=user.id)
    )
    row = db.get(Open311Submission, submission_id, populate_existing=True)
    if row is None:
        raise NotFound(
            f"no Open311 submission {submission_id}", message=f"未找到编号为 {submission_id} 的开放接口请求"
        )
    if done.rowcount != 1:
        raise Conflict(
            f"Open311 submission {submission_id} is {row.status.value}, not pending",
            code="not_pending",
            message=f"开放接口请求 {submission_id} 已处理过，请刷新后查看",
        )
    return row


def accept_pending(
    db: Session,
    ctx: AppContext,
    submission_id: int,
    *,
    address: str | None,
    lat: float | None,
    lon: float | None,
    user: User,
    now: datetime,
) -> Order:
    """Make the order of a waiting request at the place the operator found (address or point)."""
    row = _claim(db, submission_id, SubmissionStatus.ORDERED, user, now)
    item = db.get_one(Item, row.item_id)
    key = db.get_one(Open311Key, row.key_id)
    kept = Request(**row.form)  # type: ignore[arg-type]
    request = Request(
        **{**kept.form(), "address": address or kept.address, "lat": lat, "lon": lon, "coord_system": "wgs84"}
    )
    intake = intake_request(item, request, source_note(item, request, key.name, checked=True))
    try:
        prepared = prepare(db, intake, ctx.intake_services(db))
    except IntakeError as exc:
        raise BadRequest(str(exc), code=exc.code, message=exc.message) from None
    if prepared.located is None:
        raise BadRequest(
            "the address still cannot be placed: give lat and lon",
            code="address_unresolved",
            message="地址仍无法定位：请核对地址，或在地图上取点填写经纬度",
        )
    order = make_order(db, ctx, intake, prepared, user, now)
    row.order_id = order.id
    row.form = {}  # the order holds it now: no second copy of the resident's data
    db.flush()
    return order


def reject_pending(
    db: Session, submission_id: int, *, reason: str, user: User, now: datetime
) -> Open311Submission:
    row = _claim(db, submission_id, SubmissionStatus.REJECTED, user, now)
    row.note = reason
    # What was asked stays, for the record; who asked does not.
    row.form = {k: v for k, v in row.form.items() if k not in PERSONAL}
    db.flush()
    return row


def token_answer(db: Session, token: str) -> dict[str, Any]:
    """``GET tokens/{token}``: the order's number once there is one, none while it waits."""
    row = db.scalar(select(Open311Submission).where(Open311Submission.token == token[:40]))
    if row is None:
        raise NotFound(f"no token {token!r}", message="没有这个 token")
    if row.status == SubmissionStatus.REJECTED:
        raise NotFound(
            f"the request of token {token!r} did not become an order",
            code="not_an_order",
            message="该请求经呼叫中心核实后未转为工单，详情请致电服务热线",
        )
    order = db.get(Order, row.order_id) if row.order_id is not None else None
    return {"service_request_id": order.number if order is not None else None, "token": row.token}
