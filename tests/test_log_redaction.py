"""No secret in a log line: the access log of a real ``sanshe serve`` run, the access log of the app
under a plain uvicorn, and the redaction itself."""

from __future__ import annotations

import logging
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from dispatch.redact import RedactSecrets, redact
from tests.support.serve import BIN, free_port, sanshe_env, served
from tests.support.waiting import wait_until

# The ``sanshe`` script imports whichever checkout the venv was installed from: make it serve the
# code under test.
pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1:5 - "GET /api/v1/events?ticket=Zm9vYmFy&since=12 HTTP/1.1" 200',
            '127.0.0.1:5 - "GET /api/v1/events?ticket=***&since=12 HTTP/1.1" 200',
        ),
        ("/a?access_token=eyJx&limit=5", "/a?access_token=***&limit=5"),
        (
            "/h?token=1&code=2&api_key=3&password=4&secret=5&client_secret=6",
            "/h?token=***&code=***&api_key=***&password=***&secret=***&client_secret=***",
        ),
        ("/h?TOKEN=1;Api_Key=2", "/h?TOKEN=***;Api_Key=***"),
        ("/h?tick%65t=abc&acc%65ss_token=def", "/h?tick%65t=***&acc%65ss_token=***"),  # names encoded
        ("/open311?service_code=ELD-06&q=token", "/open311?service_code=ELD-06&q=token"),  # not secrets
        ("/h?token=", "/h?token="),
        ("sent Authorization: Bearer abc.def-ghi", "sent Authorization: Bearer ***"),
        ('{"username": "wang", "password": "hunter22"}', '{"username": "wang", "password": "***"}'),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln in text", "token *** in text"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_redacts_arguments_without_breaking_placeholders() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/x?ticket=abc", "1.1", 200), None,
    )  # fmt: skip
    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == '1.2.3.4:5 - "GET /x?ticket=*** HTTP/1.1" 200'


def test_sanshe_serve_writes_no_secret_to_its_logs(tmp_path: Path) -> None:
    env = sanshe_env(SANSHE_DATABASE_URL=f"sqlite:///{tmp_path}/sanshe.db")
    for step in (["migrate"], ["user", "add", "boss", "--role", "admin", "--password", "long-enough-1"]):
        done = subprocess.run(
            [str(BIN / "sanshe"), *step], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    secrets: list[str] = []
    with served(env, tmp_path) as srv:
        base, log = srv.base, srv.log
        r = httpx.post(f"{base}/api/v1/auth/token", data={"username": "boss", "password": "long-enough-1"})
        token = r.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        tickets = []
        for _ in range(2):
            r = httpx.post(f"{base}/api/v1/events/ticket", headers=headers)
            assert r.status_code == 200, r.text
            tickets.append(r.json()["ticket"])
        secrets += [token, *tickets]
        with httpx.stream(
            "GET", f"{base}/api/v1/events", params={"ticket": tickets[0]}, timeout=30
        ) as stream:
            assert stream.status_code == 200
            next(stream.iter_lines())
        # The same parameter with its name percent-encoded is still a ticket to the app: and to the log.
        with httpx.stream("GET", f"{base}/api/v1/events?tick%65t={tickets[1]}", timeout=30) as stream:
            assert stream.status_code == 200
        assert httpx.get(f"{base}/api/v1/me", params={"access_token": token}).status_code == 401
        query = {
            "token": "tok-SECRET-1",
            "code": "code-SECRET-2",
            "api_key": "key-SECRET-3",
            "password": "pw-SECRET-4",
            "secret": "sec-SECRET-5",
            "service_code": "ELD-06",
        }
        secrets += [v for k, v in query.items() if k != "service_code"]
        assert httpx.get(f"{base}/health", params=query).status_code == 200
        r = httpx.post(
            f"{base}/api/v1/auth/token",
            params={"password": "pw-SECRET-6"},
            data={"username": "boss", "password": "pw-SECRET-7"},
        )
        assert r.status_code == 401
        secrets += ["pw-SECRET-6", "pw-SECRET-7"]
        # The access log is written: wait for the last request's line (it is on, and redacted).
        assert wait_until(lambda: "POST /api/v1/auth/token?password=***" in log.read_text(), timeout=60), (
            log.read_text()
        )
    text = log.read_text()
    assert "GET /api/v1/events?ticket=*** HTTP/1.1" in text
    assert "GET /api/v1/events?tick%65t=*** HTTP/1.1" in text
    assert "access_token=***" in text and "service_code=ELD-06" in text
    leaked = [s for s in secrets if s in text]
    assert not leaked, text


def test_the_app_redacts_a_plain_uvicorn_access_log(settings) -> None:
    """Served by something other than ``sanshe serve`` (uvicorn's own logging here),
    ``create_app`` alone keeps secrets out of the access log."""
    from dispatch.app import create_app

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="info")
    )
    keep = Keep()
    logging.getLogger("uvicorn.access").addHandler(keep)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, timeout=60)
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/events", params={"ticket": "plain-SECRET-1"})
        assert r.status_code == 401
        assert wait_until(lambda: any("/api/v1/events" in line for line in seen), timeout=30)
    finally:
        server.should_exit = True
        thread.join(30)
        logging.getLogger("uvicorn.access").removeHandler(keep)
    line = next(line for line in seen if "/api/v1/events" in line)
    assert "ticket=***" in line and "plain-SECRET-1" not in line


def test_sanshe_serve_handlers_redact_on_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sanshe serve`` hands uvicorn a logging configuration whose handlers redact by themselves:
    a record made without the app's record factory (by another library's factory, before the app
    was built) and handed straight to a handler still loses its secret."""
    import logging.config

    from dispatch import cli

    monkeypatch.delenv("SANSHE_CONFIG", raising=False)
    monkeypatch.setenv("SANSHE_DATABASE_URL", f"sqlite:///{tmp_path}/unused.db")
    passed: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: passed.update(kwargs))
    cli.main(["serve", "--no-tracking", "--no-simulator"])
    assert isinstance(passed.get("log_config"), dict), passed

    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        n: (list(lg.handlers), lg.level, lg.propagate, list(lg.filters))
        for n, lg in ((n, logging.getLogger(n)) for n in names)
    }
    capsys.readouterr()
    try:
        logging.config.dictConfig(passed["log_config"])  # what uvicorn does with it
        access = logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("1.2.3.4:5", "GET", "/api/v1/events?ticket=serve-SECRET-1", "1.1", 200), None,
        )  # fmt: skip
        error = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "bad request line %s",
            ("GET /api/v1/me?access_token=eyJa.eyJb.c2ln",), None,
        )  # fmt: skip
        # uvicorn.error propagates to uvicorn's handler
        for record, logger in ((access, "uvicorn.access"), (error, "uvicorn")):
            handlers = logging.getLogger(logger).handlers
            assert handlers
            for handler in handlers:
                handler.handle(record)  # handler filters only, not the logger's
    finally:
        for n, (handlers, level, propagate, filters) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.filters[:] = filters
    out, err = capsys.readouterr()
    written = out + err
    assert "ticket=***" in written and "access_token=***" in written, written
    assert "serve-SECRET-1" not in written and "eyJa" not in written, written
