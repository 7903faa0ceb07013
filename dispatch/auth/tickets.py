"""Single-use stream tickets: how a browser opens its event stream without putting its access
token in a URL (``EventSource`` cannot send an Authorization header, and URLs end up in access
logs, proxies and browser history).

The console asks for a ticket with its bearer token (``POST /api/v1/events/ticket``) and opens
``GET /api/v1/events?ticket=…`` at once. A ticket is random, stored only as its SHA-256, opens
one stream within ``[auth] stream_ticket_seconds`` and never another, and is bound to the
account's ``token_version``: a password, role or provider change or a deactivation in between
makes it worthless, like the token it came from.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from models import StreamTicket


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(session: Session, *, user_id: int, token_version: int, now: datetime, seconds: int) -> str:
    # Tickets are useless once expired: drop those, so the table holds a few seconds' worth.
    session.execute(delete(StreamTicket).where(StreamTicket.expires_at < now))
    ticket = secrets.token_urlsafe(32)
    session.add(
        StreamTicket(
            ticket_hash=_digest(ticket),
            user_id=user_id,
            token_version=token_version,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    return ticket


@dataclass(frozen=True, slots=True)
class Redeemed:
    user_id: int
    token_version: int


def redeem_ticket(session: Session, ticket: str, *, now: datetime) -> Redeemed | None:
    """Use the ticket up (a compare-and-set: of two requests with one ticket, one wins); None when
    it is unknown, used or expired. The caller checks the account's version against it."""
    row = session.execute(
        update(StreamTicket)
        .where(
            StreamTicket.ticket_hash == _digest(ticket),
            StreamTicket.used_at.is_(None),
            StreamTicket.expires_at > now,
        )
        .values(used_at=now)
        .returning(StreamTicket.user_id, StreamTicket.token_version)
    ).one_or_none()
    return Redeemed(user_id=row.user_id, token_version=row.token_version) if row is not None else None
