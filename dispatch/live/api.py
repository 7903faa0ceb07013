"""The live event stream, ``GET /api/v1/events``: server-sent events for the signed-in user."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

from dispatch.auth.security import read_token
from dispatch.context import AppContext
from dispatch.db import read_only
from dispatch.deps import get_context, oauth2_scheme
from dispatch.errors import NotAuthenticated
from dispatch.live.bus import Message
from dispatch.orders.repository import provider_scope
from models import User

KEEPALIVE_SECONDS = 15.0
router = APIRouter(tags=["live events"])


def _authenticate(ctx: AppContext, token: str | None) -> tuple[int, str, str, frozenset[int]]:
    """The user's id, role, name and the providers they act for (None scope: the call centre)."""
    if not token:
        raise NotAuthenticated(
            "sign in first: send an Authorization: Bearer token or ?access_token=", message="请先登录"
        )
    user_id = read_token(token, secret=ctx.settings.auth.jwt_secret)
    with read_only(ctx.sessions) as session:
        user = session.get(User, user_id) if user_id is not None else None
        if user is None or not user.active:
            raise NotAuthenticated(
                "the access token is invalid or has expired", message="登录已失效或账号已停用，请重新登录"
            )
        scope = provider_scope(session, user)
        return user.id, user.role.value, user.username, frozenset(scope or ())


def _frame(message: Message) -> bytes:
    data = json.dumps(message.data, ensure_ascii=False, separators=(",", ":"), default=str)
    return format_sse_event(data_str=data, event=message.event, id=str(message.id))


@router.get("/api/v1/events", response_class=StreamingResponse)
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
    ``call`` updates (operators: their calls; supervisors: all), ``notification`` from the outbox,
    ``order`` on every committed change of an order (the call centre: all; providers: theirs).
    Each message has an ``id``; reconnect with ``Last-Event-ID`` to get what was missed."""
    user_id, role, username, providers = await run_in_threadpool(_authenticate, ctx, bearer or access_token)
    last = last_event_id or since
    resume = int(last) if last and last.isdigit() else None
    hub = ctx.live().hub
    sub = hub.subscribe(user_id, role, last_event_id=resume, providers=providers)
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
