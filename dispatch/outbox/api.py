"""The outbox for admins: messages whose outcome is unknown, to resend or drop in one click."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dispatch.deps import Ctx, CurrentUser, Db, require_roles
from dispatch.errors import Conflict, NotFound
from dispatch.outbox import review
from dispatch.pagination import Page, paginate
from models import OutboxMessage, OutboxStatus, Role

router = APIRouter(
    prefix="/api/v1/outbox", tags=["outbox"], dependencies=[Depends(require_roles(Role.ADMIN))]
)


@router.get("")
def list_outbox(
    db: Db,
    page: Page,
    status: Annotated[
        OutboxStatus, Query(description="uncertain: sent or not, nobody knows; an admin decides")
    ] = OutboxStatus.UNCERTAIN,
) -> dict[str, Any]:
    """Messages in one status, oldest first."""
    rows, total = paginate(db, review.listing(status), page)
    return {"items": [review.message_out(m) for m in rows], "total": total}


def _decide(db: Db, ctx: Ctx, user: CurrentUser, message_id: int, *, resend: bool) -> dict[str, Any]:
    if not review.decide(db, message_id, resend=resend, by=user.username, now=ctx.clock.now()):
        message = db.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound(f"no outbox message {message_id}", message=f"未找到编号为 {message_id} 的消息")
        raise Conflict(
            f"outbox message {message_id} is {message.status.value}, not uncertain",
            code="not_uncertain",
            message=f"消息 {message_id} 已不是“待确认”状态，请刷新后查看",
        )
    message = db.get_one(OutboxMessage, message_id, populate_existing=True)
    return review.message_out(message)


@router.post("/{message_id}/resend")
def resend(message_id: int, db: Db, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    """Send an uncertain message again (the recipient may get it twice); it goes out at the next
    run of the outbox."""
    return _decide(db, ctx, user, message_id, resend=True)


@router.post("/{message_id}/drop")
def drop(message_id: int, db: Db, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    """Do not send an uncertain message (it was received, or is no longer needed)."""
    return _decide(db, ctx, user, message_id, resend=False)
