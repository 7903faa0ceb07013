"""Idempotency-Key: a retried request gets the first answer and creates nothing twice.

The key row is inserted *before* the work, inside a savepoint. A concurrent retry with the same
key blocks on the primary key (PostgreSQL) or on the write lock (SQLite) until the first request
commits, then finds the stored answer instead of doing the work again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.errors import BadRequest, Conflict
from models import IdempotencyKey

MAX_KEY_LENGTH = 200


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def run_once(
    session: Session,
    *,
    scope: str,
    key: str | None,
    payload: Any,
    now: datetime,
    work: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """(status, body, replayed). Without a key the work simply runs."""
    if key is None:
        status, body = work()
        return status, body, False
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            f"Idempotency-Key must have 1 to {MAX_KEY_LENGTH} characters",
            code="invalid_idempotency_key",
            message=f"幂等键（Idempotency-Key）须为 1 到 {MAX_KEY_LENGTH} 个字符",
        )
    digest = request_hash(payload)
    existing = _stored(session, scope, key)
    if existing is None:
        row = IdempotencyKey(
            scope=scope, key=key, request_hash=digest, status_code=0, response={}, created_at=now
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            existing = _stored(session, scope, key)
            if existing is None:  # pragma: no cover - the other transaction rolled back; let the client retry
                raise Conflict(
                    "a request with this Idempotency-Key is in progress; retry",
                    code="idempotency_in_progress",
                    message="相同的请求正在处理中，请稍后重试",
                ) from None
        else:
            status, body = work()
            row.status_code, row.response = status, body
            session.flush()
            return status, body, False
    if existing.request_hash != digest:
        raise Conflict(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
            message="此幂等键（Idempotency-Key）已用于另一个不同的请求，请刷新后重新提交",
        )
    return existing.status_code, dict(existing.response), True


def _stored(session: Session, scope: str, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )


def run_verb_once(
    session: Session,
    *,
    scope: str,
    key: str | None,
    order_id: int,
    verb: str,
    body: dict[str, Any] | None,
    now: datetime,
    work: Callable[[], dict[str, Any]],
) -> tuple[int, dict[str, Any], bool]:
    """An action verb on an order under its Idempotency-Key (a 200 answer): a retry gets the first
    answer. The replay is checked before the order, which has moved on by then."""
    return run_once(
        session,
        scope=scope,
        key=key,
        payload={"order": order_id, "verb": verb, "body": body},
        now=now,
        work=lambda: (200, work()),
    )


def replay_headers(replayed: bool) -> dict[str, str]:
    """The answer's headers: ``Idempotent-Replayed: true`` when it is a stored first answer."""
    return {"Idempotent-Replayed": "true"} if replayed else {}
