"""Every HTTP request: a request id, a count and a latency by route template, an access line.

A plain ASGI wrapper placed outside Starlette's error middleware (``dispatch.app`` builds it in),
so an unhandled error's 500 also carries ``X-Request-ID`` and its log line the request id.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dispatch.ops.logs import REQUEST_ID, request_id_from
from dispatch.ops.metrics import UNMATCHED, observe_request

access_log = logging.getLogger("sanshe.access")

Scope = dict[str, Any]
Message = dict[str, Any]


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/orders/{order_id}``), never the raw path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class ObserveRequests:
    """``access_log``: write an access line per request (the JSON log format; with text logs
    uvicorn writes its own)."""

    def __init__(self, app: Any, *, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_header(scope, b"x-request-id"))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        streamed = False

        async def send_observed(message: Message) -> None:
            nonlocal status, streamed
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
                streamed = any(
                    k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers
                )
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            observe_request(method, route_template(scope), status, seconds, streamed=streamed)
            if self.access_log:
                self._log(scope, method, status, seconds)
        # Reset only after a normal end: an exception goes on to the server, whose log line about
        # it should still carry the id (each request runs in its own task and context anyway).
        REQUEST_ID.reset(token)

    @staticmethod
    def _log(scope: Scope, method: str, status: int, seconds: float) -> None:
        path = scope.get("path", "")
        query = scope.get("query_string", b"")
        if query:
            path = f"{path}?{query.decode('latin-1')}"
        client = scope.get("client")
        duration_ms = round(seconds * 1000, 1)
        access_log.info(
            "%s %s %d %.1fms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
            },
        )
