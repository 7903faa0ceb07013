"""Signing in with a password, so that neither the answer, its timing nor a flood tells anything.

The steps, with no database transaction open while argon2 works (on SQLite every write
transaction holds the process-wide write lock; a flood of sign-ins must not stall other users):

1. *Claim*, a short write transaction: count the recent failures (``throttle.retry_after``) and
   record the attempt, ``throttled`` (→ 429 with Retry-After) or ``pending``. Counting and
   recording happen under one lock (SQLite's writer lock; on PostgreSQL advisory locks on the
   username and the address), and a pending attempt counts as a failure until it is decided, so
   a burst of parallel guesses is throttled like the same guesses one after another.
2. *Look up* the account in a read-only session.
3. *Verify* the password, no transaction open. An unknown or inactive account is verified
   against a dummy hash (``security.dummy_hash``): the same work, the same 401. At most
   ``[auth] max_concurrent_password_checks`` verifications run at once in the process (the
   ``checks`` limiter): a flood of sign-ins takes that many cores, never all of them. A sign-in
   waiting for its turn waits on the event loop, holding no thread and no database connection.
4. *Record* the outcome, a short write transaction.

Each database step runs in a worker thread; :func:`sign_in` is the coroutine that strings them
together.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import anyio
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.auth import throttle
from dispatch.auth.lockouts import Lockouts
from dispatch.auth.security import dummy_hash, verify_password
from dispatch.auth.throttle import ThrottleRules
from dispatch.db import read_only, transaction
from dispatch.errors import NotAuthenticated, TooManyRequests
from models import LoginAttempt, Role, User

MAX_USERNAME = 50  # user.username, login_attempt.username
# Throttled attempts answered from memory are written this long after the first of them at most.
FLUSH_SECONDS = 1.0

log = logging.getLogger(__name__)
_flushes: set[asyncio.Task[None]] = set()  # running flush tasks, kept referenced until done


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    role: Role
    token_version: int


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def _serialise(session: Session, username: str, address: str) -> None:
    """One claim at a time per username and per address. SQLite needs nothing: the write
    transaction already holds the database's one writer lock. Always the username first, then
    the address, so two claims never wait for each other in a circle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in (f"sanshe-login-user:{username}", f"sanshe-login-address:{address}"):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(name)})


def _refused() -> NotAuthenticated:
    return NotAuthenticated(
        "wrong username or password", code="invalid_credentials", message="用户名或密码错误，请重新输入"
    )


def _throttled(seconds: float) -> TooManyRequests:
    wait = max(1, math.ceil(seconds))
    in_words = f"{wait} 秒" if wait < 120 else f"{math.ceil(wait / 60)} 分钟"
    return TooManyRequests(
        f"too many failed sign-ins: try again in {wait} seconds",
        code="too_many_sign_ins",
        message=f"登录失败次数过多，请 {in_words}后再试",
        retry_after=wait,
    )


@dataclass(frozen=True)
class _Account:
    id: int
    active: bool
    password_hash: str
    role: Role
    token_version: int


def _claim(
    sessions: sessionmaker[Session],
    *,
    username: str,
    address: str,
    now: datetime,
    rules: ThrottleRules,
    lockouts: Lockouts,
) -> int:
    """Step 1 (the module docstring): the pending attempt's id, or ``TooManyRequests``."""
    with transaction(sessions) as session:
        _serialise(session, username, address)
        wait = throttle.retry_after(session, username=username, address=address, now=now, rules=rules)
        attempt = LoginAttempt(
            at=now,
            username=username,
            address=address,
            success=False,
            outcome=throttle.THROTTLED if wait > 0 else throttle.PENDING,
        )
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    if wait > 0:
        lockouts.remember(username, address, now, wait)
        raise _throttled(wait)
    return attempt_id


async def _flush_soon(lockouts: Lockouts, sessions: sessionmaker[Session]) -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    try:
        await anyio.to_thread.run_sync(lockouts.flush, sessions)
    except Exception:
        log.exception("could not record %d throttled sign-ins; kept for the next try", lockouts.waiting)


def _throttled_from_memory(
    lockouts: Lockouts, sessions: sessionmaker[Session], *, username: str, address: str, now: datetime
) -> TooManyRequests | None:
    """The 429 for a lock this process already knows of, recorded later; None when there is none."""
    wait = lockouts.remaining(username, address, now)
    if wait <= 0:
        return None
    if lockouts.note(username, address, now):
        task = asyncio.get_running_loop().create_task(_flush_soon(lockouts, sessions))
        _flushes.add(task)
        task.add_done_callback(_flushes.discard)
    return _throttled(wait)


def _look_up(sessions: sessionmaker[Session], typed: str) -> _Account | None:
    if len(typed) > MAX_USERNAME:
        return None
    with read_only(sessions) as session:
        row = session.execute(
            select(User.id, User.active, User.password_hash, User.role, User.token_version).where(
                User.username == typed
            )
        ).one_or_none()
    return None if row is None else _Account(*row)


def _verify(account: _Account | None, password: str) -> str:
    """Step 3: the outcome. CPU only, no database."""
    if account is None or not account.active:
        verify_password(dummy_hash(), password)
        return throttle.UNKNOWN_USER if account is None else throttle.INACTIVE
    return throttle.OK if verify_password(account.password_hash, password) else throttle.WRONG_PASSWORD


def _record(sessions: sessionmaker[Session], attempt_id: int, outcome: str, account: _Account | None) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(LoginAttempt)
            .where(LoginAttempt.id == attempt_id)
            .values(
                outcome=outcome,
                success=outcome == throttle.OK,
                user_id=account.id if account is not None else None,
            )
        )


async def sign_in(
    sessions: sessionmaker[Session],
    *,
    username: str,
    password: str,
    address: str,
    now: datetime,
    rules: ThrottleRules,
    checks: anyio.CapacityLimiter,
    lockouts: Lockouts,
    throttled_delay: float = 0.0,
) -> SignedIn:
    """The account signed in; raises ``TooManyRequests`` (throttled) or ``NotAuthenticated``.

    ``checks`` bounds the password verifications running at once, ``lockouts`` remembers the
    locks already decided (one of each per process). A throttled attempt is answered after
    ``throttled_delay`` seconds (at most its Retry-After), so a client hammering a locked account
    waits between tries."""
    typed = username.strip()
    name = typed[:MAX_USERNAME]
    known = _throttled_from_memory(lockouts, sessions, username=name, address=address, now=now)
    if known is not None:
        await anyio.sleep(min(throttled_delay, known.retry_after))
        raise known
    claim = partial(_claim, sessions, username=name, address=address, now=now, rules=rules, lockouts=lockouts)
    try:
        attempt_id = await anyio.to_thread.run_sync(claim)
    except TooManyRequests as throttled:
        await anyio.sleep(min(throttled_delay, throttled.retry_after))
        raise
    account = await anyio.to_thread.run_sync(_look_up, sessions, typed)
    # The thread is taken only once the limiter lets this check run: until then it waits here.
    outcome = await anyio.to_thread.run_sync(_verify, account, password, limiter=checks)
    # Once checked, the outcome is recorded even if the request is cancelled meanwhile.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(_record, sessions, attempt_id, outcome, account)
    if outcome != throttle.OK:
        raise _refused()
    assert account is not None
    return SignedIn(user_id=account.id, role=account.role, token_version=account.token_version)
