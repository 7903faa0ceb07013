"""Outbox messages: built where a change is made, written in the same transaction as that change.

A message exists exactly when the change it announces was committed, because it is a row in the
same transaction; the sender (:mod:`dispatch.outbox.sender`) delivers it after the commit.

Two ways in:
- a status change hands its messages to ``transitions.transition(outbox=[…])``, which adds them
  with the order's event;
- anything else calls :func:`add`, which honours a ``dedupe_key``: the second message with a key
  already used is not written (the unique index decides, also against a concurrent transaction),
  so a retried request or a job running its step again announces nothing twice.

Build them with :func:`sms`, :func:`call` and :func:`notice`; each puts the message's ``kind`` in
its payload, where the console and the rating call read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.ports import Recipient
from models import OutboxChannel, OutboxMessage, OutboxStatus

MAX_RECIPIENT = 64
MAX_DEDUPE_KEY = 120


def build(
    *,
    channel: OutboxChannel,
    recipient: str | Recipient,
    body: str = "",
    payload: dict[str, Any] | None = None,
    order_id: int | None = None,
    dedupe_key: str | None = None,
    now: datetime,
) -> OutboxMessage:
    """A pending outbox row, not yet added to a session."""
    recipient = str(recipient)
    if not recipient or len(recipient) > MAX_RECIPIENT:
        raise ValueError(f"outbox recipient must be 1-{MAX_RECIPIENT} characters: {recipient!r}")
    if dedupe_key is not None and not 0 < len(dedupe_key) <= MAX_DEDUPE_KEY:
        raise ValueError(f"dedupe_key must be 1-{MAX_DEDUPE_KEY} characters")
    if channel == OutboxChannel.NOTIFY:
        Recipient.parse(recipient)  # a notification nobody could receive is a bug here, not later
    return OutboxMessage(
        channel=channel,
        recipient=recipient,
        body=body,
        payload=dict(payload or {}),
        order_id=order_id,
        dedupe_key=dedupe_key,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error="",
        external_id="",
        created_at=now,
    )


def sms(
    to: str,
    body: str,
    *,
    kind: str,
    now: datetime,
    order_id: int | None = None,
    dedupe_key: str | None = None,
    **payload: Any,
) -> OutboxMessage:
    """A text message to an E.164 number."""
    return build(
        channel=OutboxChannel.SMS,
        recipient=to,
        body=body,
        payload={"kind": kind, **payload},
        order_id=order_id,
        dedupe_key=dedupe_key,
        now=now,
    )


def call(
    to: str,
    *,
    kind: str,
    now: datetime,
    body: str = "",
    order_id: int | None = None,
    dedupe_key: str | None = None,
    **payload: Any,
) -> OutboxMessage:
    """An outbound call (a rating callback) to an E.164 number; ``kind`` says what it is for."""
    return build(
        channel=OutboxChannel.CALL,
        recipient=to,
        body=body,
        payload={"kind": kind, **payload},
        order_id=order_id,
        dedupe_key=dedupe_key,
        now=now,
    )


def notice(
    to: Recipient,
    body: str,
    *,
    kind: str,
    now: datetime,
    order_id: int | None = None,
    dedupe_key: str | None = None,
    **payload: Any,
) -> OutboxMessage:
    """A console notification for a user, a role or an organisation's admins."""
    return build(
        channel=OutboxChannel.NOTIFY,
        recipient=to,
        body=body,
        payload={"kind": kind, **payload},
        order_id=order_id,
        dedupe_key=dedupe_key,
        now=now,
    )


def add(session: Session, message: OutboxMessage) -> bool:
    """Add ``message`` to the caller's transaction; False when its ``dedupe_key`` was used before.

    With a key, the unique index decides, also against a concurrent transaction adding the same
    key (PostgreSQL makes the second one wait for the first, then fail); the savepoint keeps the
    caller's transaction usable after the violation.
    """
    if message.dedupe_key is None:
        session.add(message)
        session.flush()
        return True
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return False
    return True
