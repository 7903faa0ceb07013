"""ASGI middleware at the edge of every request: body size, text the databases refuse, response
headers, and the last answer to an unexpected error.

They are plain ASGI (not ``BaseHTTPMiddleware``): they stream, add no task per request, and can
answer before the application reads a byte. ``dispatch.app.create_app`` puts them in this order,
outermost first::

    SecurityHeaders → (Open311Edge) → KeepAlive500 → BodyLimit → TextGuard → the application

(``dispatch.open311.edge`` puts the answers under ``/open311/v2/``, these ones too, in the
Open311 spec's error format.)

- :class:`BodyLimit` answers 413 from ``Content-Length`` before reading, and stops reading a
  chunked body at the limit: a 50 MB body is never read, let alone parsed.
- :class:`TextGuard` refuses a NUL character (PostgreSQL cannot store one in text: psycopg raises
  ``DataError``) or a lone UTF-16 surrogate (not encodable: the driver raises before sending) in
  the path, the query, a JSON, form or text body, with a 400 that names the field.
- :class:`KeepAlive500` answers an unexpected error with the usual error body and returns
  normally: Starlette's own handler re-raises after answering, and uvicorn then drops the
  keep-alive connection.
- :class:`SecurityHeaders` adds ``X-Content-Type-Options: nosniff`` everywhere and
  ``Cache-Control: no-store`` to every API answer (personal data must not stay in caches).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.validation import where

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, detail: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error body, ``{"error", "detail", "message"}`` (``dispatch.openapi.ErrorOut``)."""
    return JSONResponse(
        {"error": code, "detail": detail, "message": message}, status_code=status, headers=headers
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{max(1, n // 1024)} KB"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit. An ``HTTPException``, so the
    application's handler answers it when the application was reading (``message``: Chinese)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {_size(limit)}")
        self.message = f"提交的内容超过 {_size(limit)} 上限，请减少内容后重试"


@dataclass(frozen=True)
class RouteLimit:
    """A body limit of its own for one route (``path`` as the router writes it)."""

    method: str
    path: str
    max_bytes: int
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", compile_path(self.path)[0])

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self._regex.match(path) is not None


def _too_large(limit: int) -> JSONResponse:
    exc = BodyTooLarge(limit)
    return error_response(413, "payload_too_large", exc.detail, exc.message, {"Connection": "close"})


class BodyLimit:
    """Refuse a request body over ``max_bytes`` (or its route's own limit) with a 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, routes: Sequence[RouteLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = tuple(routes)

    def limit_for(self, method: str, path: str) -> int:
        for route in self.routes:
            if route.matches(method, path):
                return route.max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break  # the server refuses a malformed length itself
                if declared > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
                break
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)


# --- text the databases cannot store ------------------------------------------------------------

_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded", "text/")
# Cheap first look at the raw bytes; only a hit is parsed to find the field.
_SUSPECT_JSON = re.compile(rb"\x00|\\u0000|\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "nul"
    if _SURROGATE.search(text):
        return "surrogate"
    return None


def _walk(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        why = _bad_text(value)
        if why:
            yield path, why
    elif isinstance(value, dict):
        for key, item in value.items():
            why = _bad_text(key)
            if why:
                yield (*path, key.replace("\x00", "\\0")), why
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*path, i))


def _refusal(source: str, path: tuple[str | int, ...], why: str) -> JSONResponse:
    name = ".".join(str(p) for p in path) or source
    label = where((source, *path)) or {"path": "请求地址", "body": "请求内容"}.get(source, name)
    if why == "nul":
        detail = f"{name}: contains a NUL character (\\u0000), which text may not contain"
        message = f"{label}：含有不允许的空字符（\\u0000），请删去后重试"
    else:
        detail = f"{name}: contains a lone UTF-16 surrogate, which is not valid Unicode text"
        message = f"{label}：含有无效的字符（不成对的 Unicode 代理项），请删去后重试"
    return error_response(400, "invalid_character", detail, message)


def _query_problem(query: bytes) -> JSONResponse | None:
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name:
            return _refusal("query", (), "nul")
        if "\x00" in value:
            return _refusal("query", (name,), "nul")
    return None


def _body_problem(content_type: str, body: bytes) -> JSONResponse | None:
    if content_type.startswith("application/json") or content_type.endswith("+json"):
        if not _SUSPECT_JSON.search(body):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None  # not JSON at all: the application says so (422)
        found = next(_walk(data), None)
        return _refusal("body", *found) if found else None
    if b"\x00" not in body and b"%00" not in body:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name:
                return _refusal("form", (), "nul")
            if "\x00" in value:
                return _refusal("form", (name,), "nul")
        return None
    if b"\x00" in body:
        return _refusal("body", (), "nul")
    return None


class TextGuard:
    """Refuse NUL characters and lone surrogates in the path, the query and text bodies (400).

    JSON, form and ``text/*`` bodies are read whole here (within :class:`BodyLimit`) and handed
    on unchanged; other bodies (multipart uploads, audio) stream through unread: their text
    fields meet the ``DataError`` handler, the last net.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = None
        if "\x00" in scope["path"]:
            problem = _refusal("path", (), "nul")
        problem = problem or _query_problem(scope.get("query_string", b""))
        if problem is not None:
            await problem(scope, receive, send)
            return
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
                break
        if not content_type.startswith(_CHECKED_BODIES) and not content_type.endswith("+json"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = _body_problem(content_type, body)
        if problem is not None:
            await problem(scope, receive, send)
            return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replayed


# --- the answer to an unexpected error -----------------------------------------------------------

INTERNAL_DETAIL = "an unexpected error occurred; it has been logged"


class KeepAlive500:
    """Answer an unexpected exception with a 500 in the usual shape, and keep the connection.

    Starlette's ``ServerErrorMiddleware`` sends its 500 and then re-raises, so that the server
    logs the error; uvicorn then closes the connection, and a client that shares one (a browser,
    a proxy's pool) loses requests in flight. Here the error is logged once and the request ends
    normally.
    """

    def __init__(self, app: ASGIApp, *, message: str) -> None:
        self.app = app
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"], exc_info=exc)
            if started:
                raise  # half a response already went out: nothing better to do than to close
            response = error_response(500, "internal_error", INTERNAL_DETAIL, self.message)
            await response(scope, receive, send)


# --- response headers ------------------------------------------------------------------------------

NO_STORE_PREFIXES = ("/api/", "/telephony/", "/health", "/metrics")


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on every answer;
    ``Cache-Control: no-store`` on API answers (kept when theirs already says no-store), and on
    any other that sets no caching of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(NO_STORE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    # An API answer may say more (private, no-store), never less.
                    if not (api and k.lower() == b"cache-control" and b"no-store" not in v.lower())
                ]
                names = {k.lower() for k, _ in headers}
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
