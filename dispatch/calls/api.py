"""Calls list, generic event ingest, and the live event stream (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.auth.security import read_token
from dispatch.calls.events import event_from_dict
from dispatch.calls.ingest import CallIngest, call_out
from dispatch.context import AppContext
from dispatch.deps import Ctx, Db, get_context, oauth2_scheme, require_roles
from dispatch.errors import BadRequest, NotAuthenticated, NotFound
from dispatch.live.hub import EventHub, Message
from dispatch.pagination import Page, paginate
from dispatch.residents.phones import try_normalise
from models import Call, CallDirection, Disposition, Role, User

KEEPALIVE_SECONDS = 15.0

calls_router = APIRouter(
    prefix="/api/v1/calls",
    tags=["telephony"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))],
)
ingest_router = APIRouter(
    prefix="/api/v1/telephony",
    tags=["telephony"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR))],
)
events_router = APIRouter(tags=["telephony"])


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise BadRequest(f"{name}: give a time zone (e.g. 2026-11-01T00:00:00+08:00)", code="invalid_time")


@calls_router.get("")
def list_calls(
    db: Db,
    ctx: Ctx,
    page: Page,
    from_: Annotated[
        datetime | None, Query(alias="from", description="started at or after (ISO 8601)")
    ] = None,
    to: Annotated[datetime | None, Query(description="started before (ISO 8601)")] = None,
    caller: Annotated[str | None, Query(max_length=32, description="the caller's number, any format")] = None,
    operator: Annotated[str | None, Query(max_length=20, description="operator extension")] = None,
    disposition: Disposition | None = None,
    direction: CallDirection | None = None,
    resident_id: int | None = None,
) -> dict[str, Any]:
    """Newest first."""
    _aware("from", from_)
    _aware("to", to)
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
    return {"items": [call_out(c) for c in rows], "total": total}


@calls_router.get("/{call_id}")
def get_call(call_id: int, db: Db) -> dict[str, Any]:
    call = db.get(Call, call_id, options=[selectinload(Call.orders)])
    if call is None:
        raise NotFound(f"no call {call_id}")
    return call_out(call)


@ingest_router.post("/events", status_code=202)
def ingest_event(ctx: Ctx, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Feed one normalised call event (``dispatch.calls.events``) into the same path as Asterisk's:
    for PBXs without a built-in adapter, and for ``sanshe simulate-calls``. Stored and published
    in arrival order; retrying an event is harmless."""
    try:
        event = event_from_dict(body)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_event") from None
    ingest: CallIngest = ctx.services["call_ingest"]
    ingest(event)
    return {"accepted": True, "type": body["type"]}


def _authenticate(ctx: AppContext, token: str | None) -> tuple[int, str, str]:
    if not token:
        raise NotAuthenticated("sign in first: send an Authorization: Bearer token or ?access_token=")
    user_id = read_token(token, secret=ctx.settings.auth.jwt_secret)
    with ctx.sessions() as session:
        user = session.get(User, user_id) if user_id is not None else None
        if user is None or not user.active:
            raise NotAuthenticated("the access token is invalid or has expired")
        return user.id, user.role.value, user.username


def _frame(message: Message) -> bytes:
    data = json.dumps(message.data, ensure_ascii=False, separators=(",", ":"), default=str)
    return format_sse_event(data_str=data, event=message.event, id=str(message.id))


@events_router.get("/api/v1/events", response_class=StreamingResponse)
async def events(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_context)],
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    access_token: Annotated[
        str | None, Query(description="the bearer token, for EventSource clients that cannot send headers")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
    since: Annotated[
        str | None, Query(description="the last message id seen, like Last-Event-ID (for a manual reconnect)")
    ] = None,
) -> StreamingResponse:
    """Server-sent events for the signed-in user: ``screen_pop`` when their extension rings,
    ``call`` updates (operators: their calls; supervisors: all), ``notification`` from the outbox.
    Each message has an ``id``; reconnect with ``Last-Event-ID`` to get what was missed."""
    user_id, role, username = await run_in_threadpool(_authenticate, ctx, bearer or access_token)
    last = last_event_id or since
    resume = int(last) if last and last.isdigit() else None
    hub: EventHub = ctx.services["hub"]
    sub = hub.subscribe(user_id, role, last_event_id=resume)
    hello = {"user_id": user_id, "username": username, "role": role}

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 3000\n\n" + format_sse_event(
                data_str=json.dumps(hello, ensure_ascii=False), event="hello"
            )
            while True:
                try:
                    message = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    continue
                yield _frame(message)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
