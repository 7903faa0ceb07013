"""The live event stream, ``GET /api/v1/events``: server-sent events for the signed-in user.

A browser opens it with a single-use ticket (``POST /api/v1/events/ticket``, see
``dispatch.auth.tickets``), never with its access token in the URL; other clients may send their
bearer token in the ``Authorization`` header. An open stream re-checks its account every
``[auth] stream_recheck_seconds`` and ends with a ``bye`` event once the account is deactivated
or its sign-in has ended (a password, role or provider change).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.security import read_token
from dispatch.auth.tickets import issue_ticket, redeem_ticket
from dispatch.context import AppContext
from dispatch.db import read_only, transaction
from dispatch.deps import CurrentUser, Db, get_context, oauth2_scheme
from dispatch.errors import NotAuthenticated
from dispatch.live.bus import Message
from dispatch.orders.repository import provider_scope
from models import User

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
router = APIRouter(tags=["live events"])

# Why a stream ended, for the person at the screen.
BYE_MESSAGES = {
    "gone": "账号不存在，实时推送已断开，请重新登录",
    "inactive": "账号已停用，实时推送已断开",
    "revoked": "登录已失效（密码、角色或所属服务方已变更），请重新登录",
}


@dataclass(frozen=True)
class StreamUser:
    """Who the stream is for, as they were when it opened."""

    user_id: int
    role: str
    username: str
    providers: frozenset[int]
    token_version: int


class TicketOut(BaseModel):
    ticket: str
    expires_in: int


@router.post("/api/v1/events/ticket", response_model=TicketOut)
def stream_ticket(user: CurrentUser, db: Db, ctx: Annotated[AppContext, Depends(get_context)]) -> TicketOut:
    """A single-use ticket that opens ``GET /api/v1/events?ticket=…`` once, within ``expires_in``
    seconds, so that no access token is ever written in a URL."""
    seconds = ctx.settings.auth.stream_ticket_seconds
    ticket = issue_ticket(
        db, user_id=user.id, token_version=user.token_version, now=ctx.clock.now(), seconds=seconds
    )
    return TicketOut(ticket=ticket, expires_in=seconds)


def _refused() -> NotAuthenticated:
    return NotAuthenticated(
        "the access token or stream ticket is invalid, used, expired or was revoked",
        message="登录已失效或账号已变更，请重新登录",
    )


def _stream_user(session: Session, user_id: int, version: int) -> StreamUser:
    user = session.get(User, user_id)
    if user is None or not user.active or user.token_version != version:
        raise _refused()
    scope = provider_scope(session, user)
    return StreamUser(user.id, user.role.value, user.username, frozenset(scope or ()), version)


def _authenticate(ctx: AppContext, bearer: str | None, ticket: str | None) -> StreamUser:
    if bearer:
        claims = read_token(bearer, secret=ctx.settings.auth.jwt_secret)
        if claims is None:
            raise _refused()
        with read_only(ctx.sessions) as session:
            return _stream_user(session, claims.user_id, claims.version)
    if ticket:
        with transaction(ctx.sessions) as session:  # used up, whatever the account check says
            redeemed = redeem_ticket(session, ticket, now=ctx.clock.now())
        if redeemed is None:
            raise _refused()
        with read_only(ctx.sessions) as session:
            return _stream_user(session, redeemed.user_id, redeemed.token_version)
    raise NotAuthenticated(
        "sign in first: open the stream with ?ticket= (POST /api/v1/events/ticket) or send an "
        "Authorization: Bearer token",
        message="请先登录",
    )


def _ended(ctx: AppContext, who: StreamUser) -> str | None:
    """Why the stream must end now (``BYE_MESSAGES``' keys); None while the account may go on."""
    with read_only(ctx.sessions) as session:
        row = session.execute(
            select(User.active, User.token_version).where(User.id == who.user_id)
        ).one_or_none()
    if row is None:
        return "gone"
    if not row.active:
        return "inactive"
    if row.token_version != who.token_version:
        return "revoked"
    return None


def _frame(message: Message) -> bytes:
    data = json.dumps(message.data, ensure_ascii=False, separators=(",", ":"), default=str)
    return format_sse_event(data_str=data, event=message.event, id=str(message.id))


@router.get("/api/v1/events", response_class=StreamingResponse)
async def events(
    request: Request,
    ctx: Annotated[AppContext, Depends(get_context)],
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    ticket: Annotated[
        str | None,
        Query(max_length=200, description="a single-use ticket from POST /api/v1/events/ticket (browsers)"),
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
    since: Annotated[
        str | None, Query(description="the last message id seen, like Last-Event-ID (for a manual reconnect)")
    ] = None,
) -> StreamingResponse:
    """Server-sent events for the signed-in user: ``screen_pop`` when their extension rings,
    ``call`` updates (operators: their calls; supervisors: all), ``notification`` from the outbox,
    ``order`` on every committed change of an order (the call centre: all; providers: theirs).
    Each message has an ``id``; reconnect with ``Last-Event-ID`` (or ``since``) to get what was
    missed. ``bye`` ends the stream when the account is deactivated or its sign-in has ended."""
    who = await run_in_threadpool(_authenticate, ctx, bearer, ticket)
    last = last_event_id or since
    resume = int(last) if last and last.isdigit() else None
    hub = ctx.live().hub
    sub = hub.subscribe(who.user_id, who.role, last_event_id=resume, providers=who.providers)
    hello = {"user_id": who.user_id, "username": who.username, "role": who.role}
    recheck = ctx.settings.auth.stream_recheck_seconds

    async def stream() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            yield b"retry: 3000\n\n" + format_sse_event(
                data_str=json.dumps(hello, ensure_ascii=False), event="hello"
            )
            next_check = loop.time() + recheck
            next_keepalive = loop.time() + KEEPALIVE_SECONDS
            while True:
                now = loop.time()
                if now >= next_check:
                    try:
                        reason = await run_in_threadpool(_ended, ctx, who)
                    except Exception:  # cannot tell whether the account may go on: stop
                        log.exception("event stream of user %s: re-check failed; closing", who.user_id)
                        return
                    if reason is not None:
                        bye = {"reason": reason, "message": BYE_MESSAGES[reason]}
                        yield format_sse_event(data_str=json.dumps(bye, ensure_ascii=False), event="bye")
                        return
                    next_check = now + recheck
                if now >= next_keepalive:
                    if await request.is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    next_keepalive = now + KEEPALIVE_SECONDS
                wait = max(0.0, min(next_check, next_keepalive) - loop.time())
                try:
                    message = await asyncio.wait_for(sub.queue.get(), wait)
                except TimeoutError:
                    continue
                yield _frame(message)
                next_keepalive = loop.time() + KEEPALIVE_SECONDS
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
