"""The event stream without a token in the URL, and streams that end with their sign-in.

Real uvicorn, real HTTP: ``POST /api/v1/events/ticket`` gives a single-use ticket bound to the
account's token version; ``GET /api/v1/events?ticket=…`` opens the stream once; ``?access_token=``
opens nothing. An open stream re-checks its account (every second here) and says ``bye`` and
closes once the account is deactivated or its sign-in ended.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from dispatch.app import create_app
from dispatch.benchmarks.telephony import serve_in_thread
from dispatch.clock import FrozenClock
from models import Role, User
from tests.factories import START, bearer, make_user
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)
DEADLINE = 30.0  # generous: a loaded 2-core machine; a passing test returns as soon as it can


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def server(settings, frozen) -> Iterator[tuple[str, Any]]:
    """(base URL, app) of a real server whose streams re-check their account every second."""
    fast = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"stream_recheck_seconds": 1.0})}
    )
    app = create_app(fast, clock=frozen)
    with serve_in_thread(app) as base:
        yield base, app


def _user(session_factory, role: Role = Role.OPERATOR, **kw) -> User:
    with session_factory() as s:
        user = make_user(s, role=role, **kw)
        s.commit()
    return user


def ticket_for(base: str, headers: dict[str, str]) -> dict[str, Any]:
    r = httpx.post(f"{base}/api/v1/events/ticket", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


class Stream:
    """An SSE client in a thread: frames go to ``frames`` as (event, data), then None when the
    stream ends. A context manager: leaving it closes the connection."""

    def __init__(self, url: str, **params: str) -> None:
        self.frames: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        self._url, self._params = url, params
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        self._thread.join(DEADLINE)

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self._url, params=self._params) as response:
                assert response.status_code == 200, response.read()
                event, data = "message", ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif not line and data:
                        self.frames.put((event, json.loads(data)))
                        event, data = "message", ""
        except Exception:  # closed under it by __exit__, or refused: the frames say what came
            pass
        finally:
            self.frames.put(None)

    def next(self, timeout: float = DEADLINE) -> tuple[str, Any] | None:
        return self.frames.get(timeout=timeout)

    def until(self, event: str, timeout: float = DEADLINE) -> Any:
        while True:
            frame = self.next(timeout)
            assert frame is not None, f"the stream ended before a {event} frame"
            if frame[0] == event:
                return frame[1]


def test_a_ticket_opens_one_stream_once(server, session_factory, settings) -> None:
    base, _ = server
    user = _user(session_factory)
    issued = ticket_for(base, bearer(user, settings))
    assert issued["expires_in"] == 30 and len(issued["ticket"]) >= 40
    with httpx.stream("GET", f"{base}/api/v1/events", params={"ticket": issued["ticket"]}, timeout=30) as r:
        assert r.status_code == 200
        hello = next(line for line in r.iter_lines() if line.startswith("data:"))
        assert json.loads(hello[5:])["user_id"] == user.id
        again = httpx.get(f"{base}/api/v1/events", params={"ticket": issued["ticket"]}, timeout=30)
        assert again.status_code == 401 and again.json()["error"] == "not_authenticated"
    assert httpx.get(f"{base}/api/v1/events", params={"ticket": "made-up"}, timeout=30).status_code == 401
    assert httpx.post(f"{base}/api/v1/events/ticket", timeout=30).status_code == 401


def test_a_ticket_expires(server, session_factory, settings, frozen) -> None:
    base, _ = server
    issued = ticket_for(base, bearer(_user(session_factory), settings))
    frozen.advance(timedelta(seconds=31))
    assert (
        httpx.get(f"{base}/api/v1/events", params={"ticket": issued["ticket"]}, timeout=30).status_code == 401
    )


def test_a_ticket_dies_with_the_sign_in_it_came_from(server, session_factory, settings) -> None:
    base, _ = server
    user = _user(session_factory)
    admin = bearer(_user(session_factory, Role.ADMIN), settings)
    issued = ticket_for(base, bearer(user, settings))
    r = httpx.patch(f"{base}/api/v1/users/{user.id}", json={"password": "a-new-password"}, headers=admin)
    assert r.status_code == 200
    r = httpx.get(f"{base}/api/v1/events", params={"ticket": issued["ticket"]}, timeout=30)
    assert r.status_code == 401


def test_the_access_token_in_the_url_opens_nothing(server, session_factory, settings) -> None:
    base, _ = server
    token = bearer(_user(session_factory), settings)["Authorization"].removeprefix("Bearer ")
    r = httpx.get(f"{base}/api/v1/events", params={"access_token": token}, timeout=30)
    assert r.status_code == 401
    # The header still works for clients that can send it.
    with httpx.stream(
        "GET", f"{base}/api/v1/events", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as response:
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"active": False}, "inactive"),
        ({"password": "a-new-password"}, "revoked"),
        ({"role": "supervisor"}, "revoked"),
    ],
    ids=["deactivated", "password", "role"],
)
def test_an_open_stream_ends_within_the_recheck_interval(
    server, session_factory, settings, change, reason
) -> None:
    base, app = server
    user = _user(session_factory)
    admin = bearer(_user(session_factory, Role.ADMIN), settings)
    hub = app.state.ctx.live().hub
    ticket = ticket_for(base, bearer(user, settings))["ticket"]
    with Stream(f"{base}/api/v1/events", ticket=ticket) as stream:
        stream.until("hello")
        # Re-checks of an account that may go on change nothing: a message still arrives after several.
        threading.Event().wait(2.5)
        hub.publish([f"user:{user.id}"], "notification", {"body": "仍在线"})
        assert stream.until("notification")["body"] == "仍在线"

        r = httpx.patch(f"{base}/api/v1/users/{user.id}", json=change, headers=admin)
        assert r.status_code == 200, r.text
        bye = stream.until("bye")
        assert bye["reason"] == reason and bye["message"]
        assert stream.next() is None  # the server closed it
    assert wait_until(lambda: hub.subscribers == 0)  # and nothing more is queued for it
