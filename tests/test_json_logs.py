"""JSON log lines with a request id: the client's when sane, echoed, on every line of the request (a
500's traceback too), never a secret; and ``sanshe serve`` writing them for real."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dispatch.app import create_app
from dispatch.ops.logs import JsonFormatter, RequestIdFilter
from dispatch.redact import RedactSecrets
from tests.support.serve import sanshe_env, served
from tests.support.waiting import wait_until

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def backend() -> str:
    """SQLite only: logging does not depend on the database."""
    return "sqlite"


@pytest.fixture
def lines() -> Iterator[list[dict]]:
    """What the root logger writes through the JSON formatter, as ``sanshe serve`` sets it up."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    class Lines(list):
        def refresh(self) -> list[dict]:
            self[:] = [json.loads(line) for line in buffer.getvalue().splitlines()]
            return self

        @property
        def raw(self) -> str:
            return buffer.getvalue()

    parsed = Lines()
    try:
        yield parsed
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def json_app(settings):
    app = create_app(
        settings.model_copy(update={"server": settings.server.model_copy(update={"log_format": "json"})})
    )
    work = logging.getLogger("dispatch.testing")

    @app.get("/testing/work")
    def work_in_a_thread() -> dict[str, str]:  # a sync endpoint: runs in the thread pool
        work.warning("looked up api_key=key-SECRET-9 for the caller")
        return {"ok": "yes"}

    @app.get("/testing/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


def access(lines, path_prefix: str) -> list[dict]:
    return [
        line
        for line in lines.refresh()
        if line["logger"] == "sanshe.access" and line["path"].startswith(path_prefix)
    ]


def test_the_clients_request_id_is_echoed_and_on_every_line(json_app, lines) -> None:
    with TestClient(json_app) as client:
        r = client.get(
            "/testing/work", params={"token": "tok-SECRET-1"}, headers={"X-Request-ID": "desk-7.call_42"}
        )
        assert r.status_code == 200
        assert r.headers["X-Request-ID"] == "desk-7.call_42"
        r = client.get("/api/v1/orders/17", params={"ticket": "tick-SECRET-2"})
        assert r.status_code == 401
        other = r.headers["X-Request-ID"]
    (line,) = access(lines, "/testing/work")
    assert line["request_id"] == "desk-7.call_42"
    assert line["method"] == "GET" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["path"] == "/testing/work?token=***"
    assert line["message"].startswith("GET /testing/work?token=*** 200 ")
    assert set(line) >= {"time", "level", "logger", "message", "request_id"}
    # A line written by the endpoint, in a worker thread, carries the same id, redacted.
    (work,) = [x for x in lines if x["logger"] == "dispatch.testing"]
    assert work["request_id"] == "desk-7.call_42" and work["level"] == "WARNING"
    assert work["message"] == "looked up api_key=*** for the caller"
    (line,) = access(lines, "/api/v1/orders/17")
    assert line["request_id"] == other and GENERATED.fullmatch(other)
    assert line["path"] == "/api/v1/orders/17?ticket=***"
    for secret in ("tok-SECRET-1", "tick-SECRET-2", "key-SECRET-9"):
        assert secret not in lines.raw


@pytest.mark.parametrize(
    "sent", ["has space", "x" * 65, "semi;colon", "新的", "a\\b", "../etc", "<script>"], ids=repr
)
def test_an_insane_request_id_is_replaced(json_app, lines, sent: str) -> None:
    with TestClient(json_app) as client:
        r = client.get("/health", headers={"X-Request-ID": sent.encode()})  # raw UTF-8 bytes too
    assert r.status_code == 200
    given = r.headers["X-Request-ID"]
    assert given != sent and GENERATED.fullmatch(given)
    (line,) = access(lines, "/health")
    assert line["request_id"] == given


def test_a_sane_id_of_64_characters_is_kept(json_app, lines) -> None:
    sent = "A-z_0.9" * 9 + "x"
    assert len(sent) == 64
    with TestClient(json_app) as client:
        assert client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


def test_an_unhandled_error_keeps_its_request_id(json_app, lines) -> None:
    with TestClient(json_app, raise_server_exceptions=False) as client:
        r = client.get("/testing/boom", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500
    assert r.headers["X-Request-ID"] == "boom-1"
    assert r.json()["message"] == "服务器内部错误，已记录，请稍后再试"
    # Logged once, by the guard that answers the 500 and keeps the connection (dispatch.guards).
    (error,) = [x for x in lines.refresh() if x["logger"] == "dispatch.guards" and x["level"] == "ERROR"]
    assert error["request_id"] == "boom-1"
    assert "RuntimeError: boom" in error["exception"]
    (line,) = access(lines, "/testing/boom")
    assert line["status"] == 500 and line["request_id"] == "boom-1"


def test_text_logs_leave_the_access_lines_to_the_server(settings, lines) -> None:
    with TestClient(create_app(settings)) as client:
        r = client.get("/health", headers={"X-Request-ID": "t-1"})
    assert r.headers["X-Request-ID"] == "t-1"  # the id is answered in either format
    assert access(lines, "/health") == []


@pytest.mark.timeout(600)
def test_sanshe_serve_writes_json_lines(sqlite_url: str, tmp_path: Path) -> None:
    env = sanshe_env(SANSHE_DATABASE_URL=sqlite_url, SANSHE_SERVER__LOG_FORMAT="json")
    with served(env, tmp_path) as srv:
        base, log = srv.base, srv.log
        r = httpx.get(
            f"{base}/health", params={"password": "pw-SECRET-3"}, headers={"X-Request-ID": "serve-json-1"}
        )
        assert r.headers["X-Request-ID"] == "serve-json-1"
        # The metrics answer this process's own address (a real socket peer, 127.0.0.1).
        r = httpx.get(f"{base}/metrics")
        assert r.status_code == 200 and "sanshe_http_requests_total" in r.text
        assert wait_until(lambda: '"path": "/metrics"' in log.read_text(), timeout=60), log.read_text()
    text = log.read_text()
    assert "pw-SECRET-3" not in text
    parsed = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    (line,) = [x for x in parsed if x.get("request_id") == "serve-json-1"]
    assert line["path"] == "/health?password=***" and line["status"] == 200
    # The server's own lines are JSON too (the start, the shutdown).
    assert any(x["logger"].startswith("uvicorn") and "Uvicorn running" in x["message"] for x in parsed)
    assert "Uvicorn running" not in "\n".join(x for x in text.splitlines() if not x.startswith("{"))
