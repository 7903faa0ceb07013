"""Calls list, generic event ingest, and the live event stream (server-sent events)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.calls import callbacks, inbox
from dispatch.calls.events import event_from_dict
from dispatch.calls.ingest import call_out
from dispatch.db import after_commit
from dispatch.deps import Ctx, CurrentUser, Db, require_roles
from dispatch.errors import BadRequest, Conflict, NotFound
from dispatch.inputs import AwareTime, Id
from dispatch.pagination import Page, paginate
from dispatch.residents.phones import try_normalise
from models import Call, CallDirection, CallOutcome, Disposition, InboxState, Role
from models.base import utcnow

calls_router = APIRouter(
    prefix="/api/v1/calls",
    tags=["telephony"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))],
)
inbox_router = APIRouter(
    prefix="/api/v1/telephony/inbox",
    tags=["telephony"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
)
ingest_router = APIRouter(
    prefix="/api/v1/telephony",
    tags=["telephony"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR))],
)


@calls_router.get("")
def list_calls(
    db: Db,
    ctx: Ctx,
    page: Page,
    from_: Annotated[
        AwareTime | None, Query(alias="from", description="started at or after (ISO 8601, with a time zone)")
    ] = None,
    to: Annotated[AwareTime | None, Query(description="started before (ISO 8601, with a time zone)")] = None,
    caller: Annotated[str | None, Query(max_length=32, description="the caller's number, any format")] = None,
    operator: Annotated[str | None, Query(max_length=20, description="operator extension")] = None,
    disposition: Disposition | None = None,
    direction: CallDirection | None = None,
    resident_id: Id | None = None,
) -> dict[str, Any]:
    """Newest first."""
    stmt = select(Call).options(selectinload(Call.orders)).order_by(Call.started_at.desc(), Call.id.desc())
    if from_ is not None:
        stmt = stmt.where(Call.started_at >= from_)
    if to is not None:
        stmt = stmt.where(Call.started_at < to)
    if caller:
        stmt = stmt.where(
            Call.caller == (try_normalise(caller, ctx.settings.locale.default_region) or caller)
        )
    if operator:
        stmt = stmt.where(Call.operator_ext == operator)
    if disposition is not None:
        stmt = stmt.where(Call.disposition == disposition)
    if direction is not None:
        stmt = stmt.where(Call.direction == direction)
    if resident_id is not None:
        stmt = stmt.where(Call.resident_id == resident_id)
    rows, total = paginate(db, stmt, page)
    region = ctx.settings.locale.default_region
    return {"items": [call_out(c, region=region) for c in rows], "total": total}


@calls_router.get("/{call_id}")
def get_call(call_id: Id, db: Db, ctx: Ctx) -> dict[str, Any]:
    call = db.get(Call, call_id, options=[selectinload(Call.orders)])
    if call is None:
        raise NotFound(f"no call {call_id}", message=f"未找到编号为 {call_id} 的通话")
    return call_out(call, region=ctx.settings.locale.default_region)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: CallOutcome = Field(description="answered (咨询已答复), wrong_number, nuisance, or duplicate")
    order_id: Id | None = Field(None, description="the open order a duplicate call is about")


@calls_router.post("/{call_id}/outcome")
def set_outcome(call_id: Id, body: OutcomeIn, db: Db, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    """How an answered call that made no order ended for the centre."""
    call = db.get(Call, call_id, options=[selectinload(Call.orders)])
    if call is None:
        raise NotFound(f"no call {call_id}", message=f"未找到编号为 {call_id} 的通话")
    callbacks.set_call_outcome(db, call, outcome=body.outcome, order_id=body.order_id, actor=user)
    db.refresh(call, ["orders"])
    return call_out(call, region=ctx.settings.locale.default_region)


@ingest_router.post("/events", status_code=202)
def ingest_event(db: Db, ctx: Ctx, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Feed one normalised call event (``dispatch.calls.events``) into the same path as Asterisk's:
    for PBXs without a built-in adapter, and for ``sanshe simulate-calls``. The 202 means the event
    is stored (the call event inbox, committed before the answer): a crash after it loses nothing.
    It is then handled in arrival order; retrying an event is harmless."""
    try:
        event = event_from_dict(body)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_event", message=f"通话事件格式不正确：{exc}") from None
    row = inbox.receive(db, body, event, now=utcnow())
    after_commit(db, lambda: ctx.live().ingest.accepted(event))
    return {"accepted": True, "type": body["type"], "inbox_id": row.id}


@inbox_router.get("")
def list_inbox(
    db: Db,
    page: Page,
    state: Annotated[InboxState, Query(description="failed: events left for an admin")] = InboxState.FAILED,
) -> dict[str, Any]:
    """Ingested call events by state, newest first: ``failed`` ones kept failing and were left."""
    rows, total = paginate(db, inbox.listing(state), page)
    return {"items": [inbox.row_out(r) for r in rows], "total": total}


@inbox_router.post("/{inbox_id}/retry")
def retry_inbox_event(inbox_id: int, db: Db, ctx: Ctx) -> dict[str, Any]:
    """Send a failed event round again (after fixing what made it fail)."""
    row = inbox.retry(db, inbox_id, now=utcnow())
    if row is None:
        raise NotFound(f"no inbox event {inbox_id}", message=f"未找到编号为 {inbox_id} 的通话事件")
    if row.state != InboxState.PENDING:
        raise Conflict(
            f"inbox event {inbox_id} is {row.state.value}, not failed",
            code="not_failed",
            message=f"通话事件 {inbox_id} 不是处理失败状态，无需重试",
        )
    after_commit(db, ctx.live().ingest.wake)
    return inbox.row_out(row)
