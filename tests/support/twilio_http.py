"""A fake Twilio REST API over real HTTP, for what only a real socket shows: a client timeout.

It keeps the messages and calls it accepted and lists them back the way Twilio's Messages and
Calls list resources do (newest first, ``To``/``From`` filters), so twilio's own Client, with its
own ``TwilioHttpClient`` and timeout, is what the tests drive. ``hold_next(n)``: the next *n*
creates are stored and then answered only when released (after the client has given up);
``lose_next(n)``: the next *n* creates are held unanswered and never stored.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.http.http_client import TwilioHttpClient

API = "https://api.twilio.com"


class FakeTwilioHttp:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.creates = 0  # create requests received, stored or not
        self._hold = 0
        self._lose = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                fake._create(self, {k: v[0] for k, v in form.items()})

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake._list(self, url.path, {k: v[0] for k, v in parse_qs(url.query).items()})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold_next(self, n: int = 1) -> None:
        self._hold += n

    def lose_next(self, n: int = 1) -> None:
        self._lose += n

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def client(self, timeout: float) -> TwilioHttpClient:
        """A TwilioHttpClient (real requests, real timeout) whose requests reach this fake."""
        return _Redirected(self.url, timeout=timeout)

    def _create(self, handler: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        calls = handler.path.endswith("/Calls.json")
        with self._lock:
            self.creates += 1
            lose = self._lose > 0
            hold = not lose and self._hold > 0
            self._lose -= lose
            self._hold -= hold
            record = {
                "sid": ("CA" if calls else "SM") + f"{next(self._sids):032x}",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "parent_call_sid": None,
                "status": "queued",
                "date_created": format_datetime(datetime.now(UTC), usegmt=True),
            }
            if not lose:
                (self.calls if calls else self.messages).append(record)
        if lose or hold:
            self._released.wait(60)  # the client gives up long before
        self._answer(handler, 201, record)

    def _list(self, handler: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
        calls = path.endswith("/Calls.json")
        with self._lock:
            rows = [
                r
                for r in reversed(self.calls if calls else self.messages)
                if query.get("To") in (None, r["to"]) and query.get("From") in (None, r["from"])
            ]
        size = int(query.get("PageSize", 50))
        key = "calls" if calls else "messages"
        self._answer(
            handler, 200, {key: rows[:size], "next_page_uri": None, "page": 0, "page_size": size, "uri": path}
        )

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client hung up (it timed out): as for Twilio, the answer is lost
            pass


class _Redirected(TwilioHttpClient):
    def __init__(self, base: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        return super().request(method, url.replace(API, self.base, 1), *args, **kwargs)
