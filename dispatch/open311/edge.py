"""The edge of every ``/open311/v2/`` request: errors in the spec's format, and the key's use logged.

Every error there, whoever answered it (a route, the app's error handlers for an unknown path, a
wrong method or a 422, the body limit's 413, the text guard's 400, the last net's 500), leaves the
app as ``{"error", "detail", "message"}``; here it becomes the spec's ``[{"code", "description"}]``
or ``<errors><error>…`` in the format the path asks for (``.xml``; JSON otherwise), its Chinese
``message`` as the description and its headers (Retry-After, Allow) kept.

A request that named an API key (``keys.USE_STATE``, set by the route) is logged with the status
it ended with, in a short transaction of its own before the answer goes out: a refused request is
logged too (its own transaction was rolled back), and a client's next request already counts it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.db import transaction
from dispatch.open311 import keys, render

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"


def _spec_error(body: bytes, status: int, fmt: render.Format) -> tuple[bytes, str] | None:
    """The spec's answer for the app's error body, or None for anything else."""
    try:
        said = json.loads(body)
    except ValueError:
        return None
    if not isinstance(said, dict) or "error" not in said:
        return None
    return render.errors(fmt, status, str(said.get("message") or said.get("detail") or ""))


class Open311Edge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, held)
        if start is None:
            return
        status = int(start["status"])
        headers = list(start.get("headers", []))
        body = b"".join(chunks)
        types = [v for k, v in headers if k.lower() == b"content-type"]
        if status >= 400 and types and types[0].startswith(b"application/json"):
            converted = _spec_error(body, status, render.format_of(path))
            if converted is not None:
                body, media_type = converted
                headers = [
                    (k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")
                ]
                headers += [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
        use = scope.get("state", {}).get(keys.USE_STATE)
        if use is not None:
            await anyio.to_thread.run_sync(_log_use, scope["app"], use, status)
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _log_use(app: Any, use: dict[str, Any], status: int) -> None:
    ctx = app.state.ctx
    try:
        with transaction(ctx.sessions) as session:
            keys.record_use(session, status=status, now=ctx.clock.now(), **use)
    except Exception:  # the answer still goes out; the failure is in the server's log
        log.exception("could not log the use of Open311 key %s", use.get("key_id"))
