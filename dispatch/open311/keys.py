"""API keys of the applications that use Open311: issued, verified, limited, revoked, and every
use of one logged.

A key is 32 random bytes (``secrets``), shown once when issued; only its SHA-256 is stored. A
slow password hash would buy nothing here (nobody can guess 256 random bits) and would cost every
request. The rate limit counts the key's logged uses in the last minute, so it holds across
processes sharing the database; a burst of concurrent requests can pass it by the few that were
still in flight.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, desc, func, select, update
from sqlalchemy.orm import Session

from dispatch.errors import Forbidden, TooManyRequests
from models import Open311Key, Open311KeyUse, User

KEY_PREFIX = "s311_"
SHOWN_PREFIX = len(KEY_PREFIX) + 6
RATE_WINDOW = timedelta(minutes=1)
MAX_KEY_LENGTH = 100
# Where a request keeps the use of its key for the edge to log (``request.state``).
USE_STATE = "open311_use"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    key: Open311Key
    secret: str  # the key itself: shown once, never stored


def issue(
    session: Session, *, name: str, contact: str, rate_per_minute: int | None, by: User, now: datetime
) -> Issued:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = Open311Key(
        name=name,
        contact=contact,
        prefix=secret[:SHOWN_PREFIX],
        key_hash=hash_key(secret),
        rate_per_minute=rate_per_minute,
        created_at=now,
        created_by_id=by.id,
        uses=0,
    )
    session.add(key)
    session.flush()
    return Issued(key, secret)


def revoke(session: Session, key: Open311Key, *, by: User, now: datetime) -> None:
    """Revoke ``key`` (again: it stays revoked from the first time)."""
    if key.revoked_at is None:
        key.revoked_at = now
        key.revoked_by_id = by.id
        session.flush()


def listing() -> Select[tuple[Open311Key]]:
    return select(Open311Key).order_by(desc(Open311Key.id))


def uses_of(key_id: int) -> Select[tuple[Open311KeyUse]]:
    return select(Open311KeyUse).where(Open311KeyUse.key_id == key_id).order_by(desc(Open311KeyUse.id))


def identify(session: Session, secret: str | None) -> Open311Key:
    """The key ``secret`` is (revoked or not), or a 403 in the applications' words."""
    if not secret:
        raise Forbidden(
            "api_key: an API key is required",
            code="api_key_required",
            message="缺少 api_key：请使用管理员签发给贵单位应用的接口密钥",
        )
    key = None
    if len(secret) <= MAX_KEY_LENGTH:
        key = session.scalar(select(Open311Key).where(Open311Key.key_hash == hash_key(secret)))
    if key is None:
        raise Forbidden(
            "api_key: unknown API key", code="invalid_api_key", message="api_key 无效：请核对接口密钥"
        )
    return key


def ensure_live(key: Open311Key) -> None:
    if key.revoked_at is not None:
        raise Forbidden(
            "api_key: this API key was revoked",
            code="revoked_api_key",
            message="api_key 已被吊销：请联系平台管理员重新签发",
        )


def check_rate(session: Session, key: Open311Key, *, default_rate: int, now: datetime) -> None:
    """429 when the key made its limit of requests in the last minute (refused ones not counted),
    with the seconds until the oldest of them leaves the window."""
    limit = key.rate_per_minute or default_rate
    since = now - RATE_WINDOW
    counted = (
        Open311KeyUse.key_id == key.id,
        Open311KeyUse.at > since,
        Open311KeyUse.status != 429,
    )
    made = session.scalar(select(func.count()).where(*counted)) or 0
    if made < limit:
        return
    # The use whose leaving lets one more in (more than ``limit`` when a burst slipped through).
    freeing = session.scalar(
        select(Open311KeyUse.at).where(*counted).order_by(Open311KeyUse.at).offset(made - limit).limit(1)
    )
    wait = (freeing + RATE_WINDOW - now).total_seconds() if freeing is not None else 1
    raise TooManyRequests(
        f"this API key made {made} requests in the last minute (limit {limit})",
        code="rate_limited",
        retry_after=max(1, math.ceil(wait)),
        message=f"请求过于频繁：该接口密钥每分钟最多 {limit} 次，请稍后再试",
    )


def record_use(
    session: Session,
    *,
    key_id: int,
    operation: str,
    status: int,
    reference: str,
    client_address: str,
    now: datetime,
) -> None:
    session.add(
        Open311KeyUse(
            key_id=key_id,
            at=now,
            operation=operation,
            status=status,
            reference=reference[:100],
            client_address=client_address[:64],
        )
    )
    session.execute(
        update(Open311Key).where(Open311Key.id == key_id).values(uses=Open311Key.uses + 1, last_used_at=now)
    )
