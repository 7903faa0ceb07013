"""An admin's decisions on messages whose outcome is unknown (``UNCERTAIN``, see ``sender``):
resend it, accepting that the recipient may get it twice, or drop it. Compare-and-set, no commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from models import OutboxMessage, OutboxStatus


def listing(status: OutboxStatus) -> Select[tuple[OutboxMessage]]:
    """Messages in one status, oldest first (the worklist order)."""
    return select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id)


def decide(session: Session, message_id: int, *, resend: bool, by: str, now: datetime) -> bool:
    """UNCERTAIN → PENDING (sent at the next run) or DROPPED; False when it is not uncertain."""
    m = OutboxMessage
    note = f"{'resent' if resend else 'dropped'} by {by} at {now:%Y-%m-%d %H:%M}Z"
    values = (
        {"status": OutboxStatus.PENDING, "external_id": "", "next_attempt_at": now}
        if resend
        else {"status": OutboxStatus.DROPPED}
    )
    done = session.execute(
        update(m)
        .where(m.id == message_id, m.status == OutboxStatus.UNCERTAIN)
        .values(last_error=m.last_error + f" · {note}", **values)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def message_out(message: OutboxMessage) -> dict[str, object]:
    return {
        "id": message.id,
        "channel": message.channel.value,
        "recipient": message.recipient,
        "body": message.body,
        "kind": (message.payload or {}).get("kind"),
        "order_id": message.order_id,
        "status": message.status.value,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "external_id": message.external_id,
        "created_at": message.created_at.isoformat(),
        "claimed_at": message.claimed_at.isoformat() if message.claimed_at else None,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
    }
