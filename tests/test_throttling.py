"""Sign-in throttling: repeated failures per account and address, per address, and per account
from unknown addresses get 429 with a growing Retry-After, whatever the password; unknown and
known usernames are answered alike and both cost an argon2 check; every attempt is recorded.

The business clock is frozen (``create_app(clock=…)``), so waiting out a lock is a step of the
clock, never a sleep. The peer is a trusted proxy and ``X-Forwarded-For`` says which address each
attempt comes from.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dispatch.app import create_app
from dispatch.auth import signin
from dispatch.auth.addresses import client_address
from dispatch.auth.security import dummy_hash
from dispatch.auth.throttle import ThrottleRules, lock_seconds, wait_seconds
from dispatch.benchmarks.telephony import serve_in_thread
from dispatch.clock import FrozenClock
from models import LoginAttempt, Role, User
from tests.factories import PASSWORD, START, bearer, make_user
from tests.support.waiting import wait_until

PROXY = "10.9.9.9"
TOKEN = "/api/v1/auth/token"


def _settings(settings, **auth):
    limits = {
        "max_failures_per_account_address": 3,
        "max_failures_per_address": 100,
        "max_failures_per_account": 100,
        "lockout_base_seconds": 30.0,
        "lockout_max_seconds": 600.0,
        "failure_window_minutes": 15,
        **auth,
    }
    return settings.model_copy(
        update={
            "auth": settings.auth.model_copy(update=limits),
            "server": settings.server.model_copy(update={"trusted_proxies": [PROXY]}),
        }
    )


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def limits() -> dict[str, object]:
    """``[auth]`` limits a test changes (parametrize it)."""
    return {}


@pytest.fixture
def throttled_client(settings, frozen, limits) -> Iterator[TestClient]:
    """A client of an app with the test's ``limits`` (see ``_settings``), behind a trusted proxy."""
    app = create_app(_settings(settings, **limits), clock=frozen)
    with TestClient(app, client=(PROXY, 50000)) as c:
        yield c


def _user(session_factory, username: str = "wang", role: Role = Role.OPERATOR, **kw) -> User:
    with session_factory() as s:
        user = make_user(s, role=role, username=username, **kw)
        s.commit()
    return user


def attempt(client: TestClient, username: str, password: str, address: str = "203.0.113.5") -> httpx.Response:
    return client.post(
        TOKEN, data={"username": username, "password": password}, headers={"X-Forwarded-For": address}
    )


@pytest.fixture
def verified(monkeypatch) -> list[tuple[str, str]]:
    """Every argon2 check the sign-in makes: (hash, password), the real check still done."""
    calls: list[tuple[str, str]] = []
    real = signin.verify_password

    def recording(password_hash: str, password: str) -> bool:
        calls.append((password_hash, password))
        return real(password_hash, password)

    monkeypatch.setattr(signin, "verify_password", recording)
    return calls


def test_the_lock_doubles_with_each_failure_past_the_limit() -> None:
    rules = ThrottleRules(
        window=timedelta(minutes=15),
        per_account_address=5,
        per_address=20,
        per_account=50,
        known_address_for=timedelta(days=30),
        base_seconds=30,
        max_seconds=900,
    )
    assert [lock_seconds(n, 5, rules) for n in range(3, 12)] == [0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert lock_seconds(10_000, 5, rules) == 900
    # Under the limit nothing waits, even when the last failure was recorded by a parallel
    # attempt whose clock read came a moment later than this one's.
    now = START
    assert wait_seconds(4, now + timedelta(milliseconds=3), 5, now, rules) == 0
    assert wait_seconds(5, now + timedelta(milliseconds=3), 5, now, rules) > 30


def test_an_account_from_one_address_is_throttled_with_growing_backoff(
    throttled_client, session_factory, frozen, verified
) -> None:
    _user(session_factory)
    for _ in range(3):
        r = attempt(throttled_client, "wang", "wrong-password")
        assert r.status_code == 401 and r.json()["error"] == "invalid_credentials"
    # Locked: the right password gets the same 429, and is not even checked.
    checked = len(verified)
    r = attempt(throttled_client, "wang", PASSWORD)
    assert r.status_code == 429, r.text
    assert r.headers["Retry-After"] == "30"
    assert r.json()["error"] == "too_many_sign_ins" and "30 秒" in r.json()["message"]
    assert len(verified) == checked
    # Another address is not locked by this pair.
    assert attempt(throttled_client, "wang", PASSWORD, address="198.51.100.7").status_code == 200

    frozen.advance(seconds=29)
    assert attempt(throttled_client, "wang", PASSWORD).headers["Retry-After"] == "1"
    frozen.advance(seconds=2)
    assert attempt(throttled_client, "wang", "wrong-password").status_code == 401  # one more guess…
    assert attempt(throttled_client, "wang", PASSWORD).headers["Retry-After"] == "60"  # …doubles it
    frozen.advance(seconds=61)
    assert attempt(throttled_client, "wang", "wrong-password").status_code == 401
    assert attempt(throttled_client, "wang", PASSWORD).headers["Retry-After"] == "120"

    # Failures older than the window no longer count.
    frozen.advance(minutes=16)
    assert attempt(throttled_client, "wang", PASSWORD).status_code == 200
    # A success starts the pair's count afresh.
    for _ in range(2):
        assert attempt(throttled_client, "wang", "wrong-password").status_code == 401
    assert attempt(throttled_client, "wang", PASSWORD).status_code == 200


def test_a_known_lock_is_answered_from_memory_and_every_attempt_still_recorded(
    settings, session_factory, frozen, monkeypatch
) -> None:
    """Once the database has locked a pair, this process answers the pair's attempts from memory
    (no claim, no transaction): a flood of them costs the server almost nothing. Their records
    are written shortly after, and at shutdown, so the trail misses none."""
    _user(session_factory)
    claims: list[str] = []
    real_claim = signin._claim

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        claims.append(kwargs["username"])
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(signin, "_claim", counting)

    def throttled_records() -> int:
        with session_factory() as s:
            return s.scalar(
                select(func.count()).select_from(LoginAttempt).where(LoginAttempt.outcome == "throttled")
            )

    app = create_app(_settings(settings), clock=frozen)
    with TestClient(app, client=(PROXY, 50000)) as client:
        for _ in range(3):
            assert attempt(client, "wang", "wrong-password").status_code == 401
        first = attempt(client, "wang", PASSWORD)
        assert first.status_code == 429 and first.headers["Retry-After"] == "30"
        assert len(claims) == 4 and throttled_records() == 1  # the database decided this one
        for _ in range(20):
            r = attempt(client, "wang", PASSWORD)  # the right password: the same answer
            assert r.status_code == 429 and r.headers["Retry-After"] == "30"
        assert len(claims) == 4  # …answered from memory
        assert wait_until(lambda: throttled_records() == 21)  # …and recorded within a second or so
        # Another address, and the end of the lock, go to the database again.
        assert attempt(client, "wang", PASSWORD, address="198.51.100.7").status_code == 200
        frozen.advance(seconds=31)
        assert attempt(client, "wang", PASSWORD).status_code == 200
        assert len(claims) == 6
        # Attempts still kept in memory when the server stops are written as it stops.
        monkeypatch.setattr(signin, "FLUSH_SECONDS", 3600.0)  # no timely flush: only the one at stop
        for _ in range(3):
            attempt(client, "wang", "wrong-password")
        for _ in range(9):
            assert attempt(client, "wang", PASSWORD).status_code == 429
        assert throttled_records() == 21 + 1
    assert throttled_records() == 21 + 9


@pytest.mark.parametrize("limits", [{"throttled_answer_delay_seconds": 2.5}])
def test_a_throttled_answer_waits_without_holding_anything(
    throttled_client, session_factory, frozen, monkeypatch
) -> None:
    """A 429 is answered after [auth] throttled_answer_delay_seconds (at most its Retry-After), on
    both the database's path and the memory's; 401s and successes are not delayed."""
    _user(session_factory)
    waits: list[float] = []
    real_sleep = signin.anyio.sleep

    async def recording(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(signin.anyio, "sleep", recording)
    for _ in range(3):
        assert attempt(throttled_client, "wang", "wrong-password").status_code == 401
    assert waits == []
    assert attempt(throttled_client, "wang", PASSWORD).status_code == 429  # decided by the database
    assert attempt(throttled_client, "wang", PASSWORD).status_code == 429  # known from memory
    assert waits == [2.5, 2.5]
    frozen.advance(seconds=29)  # one second of the lock left: the answer waits no longer than that
    assert attempt(throttled_client, "wang", PASSWORD).headers["Retry-After"] == "1"
    assert waits[-1] == 1
    frozen.advance(seconds=2)
    assert attempt(throttled_client, "wang", PASSWORD).status_code == 200
    assert len(waits) == 3


@pytest.mark.parametrize("limits", [{"max_failures_per_account_address": 100, "max_failures_per_address": 4}])
def test_an_address_trying_many_accounts_is_throttled(throttled_client, session_factory, frozen) -> None:
    _user(session_factory)
    for name in ("a", "b", "c", "d"):
        assert attempt(throttled_client, name, "guess-1234", address="192.0.2.66").status_code == 401
    r = attempt(throttled_client, "wang", PASSWORD, address="192.0.2.66")
    assert r.status_code == 429 and r.headers["Retry-After"] == "30"
    assert attempt(throttled_client, "wang", PASSWORD, address="192.0.2.67").status_code == 200
    frozen.advance(seconds=31)
    assert attempt(throttled_client, "wang", PASSWORD, address="192.0.2.66").status_code == 200


@pytest.mark.parametrize("limits", [{"max_failures_per_account_address": 100, "max_failures_per_account": 4}])
def test_a_campaign_on_one_account_does_not_lock_its_owner_out_of_a_known_desk(
    throttled_client, session_factory, frozen
) -> None:
    _user(session_factory)
    desk = "10.1.0.20"
    assert attempt(throttled_client, "wang", PASSWORD, address=desk).status_code == 200
    for n in range(4):  # four addresses, one guess each
        assert attempt(throttled_client, "wang", "guess-1234", address=f"192.0.2.{n + 1}").status_code == 401
    # Every address the account has not signed in from is locked, the right password included…
    r = attempt(throttled_client, "wang", PASSWORD, address="192.0.2.99")
    assert r.status_code == 429 and r.headers["Retry-After"] == "30"
    assert attempt(throttled_client, "wang", PASSWORD, address="10.1.0.21").status_code == 429
    # …but not the desk it works from.
    assert attempt(throttled_client, "wang", PASSWORD, address=desk).status_code == 200
    frozen.advance(seconds=31)
    assert attempt(throttled_client, "wang", PASSWORD, address="10.1.0.21").status_code == 200


def test_unknown_and_known_usernames_are_answered_alike_and_both_cost_argon2(
    throttled_client, session_factory, verified
) -> None:
    user = _user(session_factory)
    _user(session_factory, username="gone", active=False)
    answers = {}
    for name in ("wang", "nobody", "gone"):
        del verified[:]
        r = attempt(throttled_client, name, "wrong-password", address=f"198.51.100.{len(answers) + 1}")
        answers[name] = (r.status_code, r.json(), r.headers.get("www-authenticate"))
        assert len(verified) == 1, name  # exactly one argon2 check, whoever it is
        expected = user.password_hash if name == "wang" else dummy_hash()
        assert verified[0] == (expected, "wrong-password")
    assert answers["wang"] == answers["nobody"] == answers["gone"]
    assert answers["wang"][0] == 401
    # Throttled alike too: the third failure locks a made-up name as it locks a real one.
    for name in ("wang", "nobody"):
        for _ in range(3):
            attempt(throttled_client, name, "wrong-password", address="198.51.100.50")
    locked = [attempt(throttled_client, n, "x", address="198.51.100.50") for n in ("wang", "nobody")]
    assert [(r.status_code, r.json(), r.headers["Retry-After"]) for r in locked] == [
        (429, locked[0].json(), "30")
    ] * 2


def test_parallel_guesses_are_counted_before_they_are_checked(settings, session_factory, frozen) -> None:
    """A burst of parallel guesses is throttled like the same guesses one after another: the
    claim is counted before the (slow) password check starts."""
    _user(session_factory)
    app = create_app(_settings(settings), clock=frozen)
    statuses: list[int] = []
    with serve_in_thread(app) as base:
        go = threading.Barrier(8)

        def guess(n: int) -> None:
            go.wait(timeout=60)
            r = httpx.post(
                f"{base}{TOKEN}", data={"username": "wang", "password": f"guess-{n:04d}"}, timeout=120
            )
            statuses.append(r.status_code)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
    assert sorted(statuses) == [401] * 3 + [429] * 5


def test_attempts_are_recorded_and_listed_for_admins_only(
    throttled_client, session_factory, settings
) -> None:
    user = _user(session_factory)
    admin = bearer(_user(session_factory, username="root", role=Role.ADMIN), settings)
    attempt(throttled_client, "wang", PASSWORD, address="203.0.113.1")
    for _ in range(3):
        attempt(throttled_client, "wang", "wrong-password", address="203.0.113.2")
    attempt(throttled_client, "wang", PASSWORD, address="203.0.113.2")  # throttled
    attempt(throttled_client, "ghost", "wrong-password", address="203.0.113.3")

    listed = throttled_client.get("/api/v1/auth/attempts", headers=admin)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 6
    assert [(a["username"], a["address"], a["outcome"], a["success"]) for a in body["items"]] == [
        ("ghost", "203.0.113.3", "unknown_user", False),
        ("wang", "203.0.113.2", "throttled", False),
        ("wang", "203.0.113.2", "wrong_password", False),
        ("wang", "203.0.113.2", "wrong_password", False),
        ("wang", "203.0.113.2", "wrong_password", False),
        ("wang", "203.0.113.1", "ok", True),
    ]
    assert body["items"][-1]["user_id"] == user.id and body["items"][0]["user_id"] is None

    def total(**params) -> int:
        return throttled_client.get("/api/v1/auth/attempts", params=params, headers=admin).json()["total"]

    assert total(username="wang") == 5
    assert total(success="false") == 5 and total(success="true") == 1
    assert total(address="203.0.113.2", limit=1) == 4
    at = body["items"][0]["at"]
    assert total(**{"from": at}) == 6 and total(to=at) == 0
    bad = throttled_client.get("/api/v1/auth/attempts", params={"from": "2026-01-01T00:00:00"}, headers=admin)
    assert bad.status_code == 422 and "时区" in bad.json()["message"]

    operator = bearer(_user(session_factory, username="op"), settings)
    assert throttled_client.get("/api/v1/auth/attempts", headers=operator).status_code == 403
    assert throttled_client.get("/api/v1/auth/attempts").status_code == 401


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", [], (), "203.0.113.5"),
        ("203.0.113.5", ["10.0.0.1"], (), "203.0.113.5"),  # no proxy trusted: the header is ignored
        ("203.0.113.5", ["10.0.0.1"], ("10.9.9.9",), "203.0.113.5"),  # not from the proxy: ignored
        ("10.9.9.9", ["198.51.100.4"], ("10.9.9.9",), "198.51.100.4"),
        # The client wrote the left part itself: only what the trusted proxies appended counts.
        ("10.9.9.9", ["6.6.6.6, 198.51.100.4"], ("10.9.9.9",), "198.51.100.4"),
        ("10.9.9.9", ["6.6.6.6, 198.51.100.4, 10.0.0.2"], ("10.0.0.0/8",), "198.51.100.4"),
        ("10.9.9.9", ["6.6.6.6", "198.51.100.4"], ("10.9.9.9",), "198.51.100.4"),  # two headers
        ("10.9.9.9", ["10.0.0.3"], ("10.0.0.0/8",), "10.0.0.3"),  # all trusted: the first one
        ("10.9.9.9", ["nonsense"], ("10.9.9.9",), "10.9.9.9"),
        ("10.9.9.9", ["[2001:db8::7]:443"], ("10.9.9.9",), "2001:db8::7"),
        ("10.9.9.9", [], ("10.9.9.9",), "10.9.9.9"),
    ],
)
def test_the_client_address(peer, forwarded, trusted, expected) -> None:
    assert client_address(peer, forwarded, trusted) == expected


def test_forwarded_for_from_an_untrusted_peer_is_not_believed(settings, session_factory, frozen) -> None:
    admin = bearer(_user(session_factory, username="root", role=Role.ADMIN), settings)
    app = create_app(_settings(settings), clock=frozen)
    with TestClient(app, client=("203.0.113.77", 40000)) as c:
        attempt(c, "wang", "wrong-password", address="1.2.3.4")
        items = c.get("/api/v1/auth/attempts", headers=admin).json()["items"]
    assert [a["address"] for a in items] == ["203.0.113.77"]


@pytest.mark.parametrize("limit", [1, 2])
def test_password_checks_wait_their_turn(settings, session_factory, frozen, monkeypatch, limit) -> None:
    """At most ``[auth] max_concurrent_password_checks`` argon2 checks run at once; the other
    sign-ins wait for their turn holding no thread and no database connection, then go through."""
    _user(session_factory)
    checking = most = 0
    count = threading.Lock()
    release = threading.Event()
    real = signin.verify_password

    def counted(password_hash: str, password: str) -> bool:
        nonlocal checking, most
        with count:
            checking += 1
            most = max(most, checking)
        try:
            release.wait(120)  # each check lasts until the test has seen the others queue
            return real(password_hash, password)
        finally:
            with count:
                checking -= 1

    monkeypatch.setattr(signin, "verify_password", counted)
    app = create_app(
        _settings(settings, max_concurrent_password_checks=limit, max_failures_per_account_address=100),
        clock=frozen,
    )
    sign_ins = limit + 3
    statuses: list[int] = []
    with serve_in_thread(app) as base:

        def sign_in(n: int) -> None:
            password = PASSWORD if n == 0 else f"guess-{n:04d}"
            r = httpx.post(f"{base}{TOKEN}", data={"username": "wang", "password": password}, timeout=180)
            statuses.append(r.status_code)

        threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(sign_ins)]
        for t in threads:
            t.start()
        ctx = app.state.ctx
        try:
            waiting = wait_until(
                lambda: (
                    checking > limit or ctx.password_limiter().statistics().tasks_waiting == sign_ins - limit
                ),
                timeout=120,
            )
            assert waiting and checking == limit, (checking, ctx.password_limiter().statistics())
            assert ctx.password_limiter().statistics().borrowed_tokens == limit  # threads: the checks only
            assert ctx.engine.pool.checkedout() == 0  # nobody waits holding a connection
        finally:
            release.set()
            for t in threads:
                t.join(180)
    assert most == limit
    assert sorted(statuses) == [200] + [401] * (sign_ins - 1)


def test_the_password_check_limit_defaults_to_the_cpus_but_one(settings) -> None:
    assert settings.auth.model_copy(update={"max_concurrent_password_checks": 3}).password_check_limit() == 3
    assert settings.auth.password_check_limit() == max(1, len(os.sched_getaffinity(0)) - 1)
