"""The call event inbox: acknowledged events, durable before the 202, handled from the table.

``POST /api/v1/telephony/events`` writes the event's raw form here in the request's transaction,
which commits before the answer goes out: an acknowledged event survives a kill -9. The ingest
worker (``calls.ingest``) then takes due rows oldest first, one per transaction, stores the
event's effects and marks the row processed in that same transaction — a crash in between leaves
the row pending and it is handled again, to the same end (the recorder only fills in or moves
forward). A row whose handling fails is retried with backoff; after ``max_attempts`` it is left
``failed`` for an admin (``GET /api/v1/telephony/inbox?state=failed``) and never holds up the rows
behind it. Processed rows are deleted after the retention period.

Services here never commit: the worker or the request owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from dispatch.calls.events import CallEvent, event_from_dict
from models import CallEventInbox, InboxState

RETRY_BASE = timedelta(seconds=5)
RETRY_CAP = timedelta(minutes=10)


def receive(session: Session, raw: dict[str, Any], event: CallEvent, *, now: datetime) -> CallEventInbox:
    """Keep one validated event in its raw form; the caller's commit makes it durable."""
    row = CallEventInbox(
        received_at=now,
        source=event.source,
        raw=raw,
        state=InboxState.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error="",
    )
    session.add(row)
    session.flush()
    return row


def next_due(session: Session, *, now: datetime) -> CallEventInbox | None:
    """The oldest pending row that is due, locked for this transaction. On PostgreSQL another
    process's worker skips it (``SKIP LOCKED``); on SQLite the writer lock already serialises."""
    return session.scalar(
        select(CallEventInbox)
        .where(CallEventInbox.state == InboxState.PENDING, CallEventInbox.next_attempt_at <= now)
        .order_by(CallEventInbox.next_attempt_at, CallEventInbox.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def parse(row: CallEventInbox) -> CallEvent:
    return event_from_dict(row.raw)


def processed(row: CallEventInbox, *, now: datetime) -> None:
    row.state = InboxState.PROCESSED
    row.processed_at = now
    row.attempts += 1
    row.last_error = ""


def attempt_failed(row: CallEventInbox, error: str, *, now: datetime, max_attempts: int) -> bool:
    """Count a failed attempt; True when the row is now left ``failed`` for an admin."""
    row.attempts += 1
    row.last_error = f"attempt {row.attempts}: {error}"[:2000]
    if row.attempts >= max_attempts:
        row.state = InboxState.FAILED
        return True
    row.next_attempt_at = now + min(RETRY_BASE * 2 ** (row.attempts - 1), RETRY_CAP)
    return False


def retry(session: Session, row_id: int, *, now: datetime) -> CallEventInbox | None:
    """An admin sends a failed row round again (after fixing what made it fail)."""
    row = session.get(CallEventInbox, row_id, with_for_update=True)
    if row is None or row.state != InboxState.FAILED:
        return row
    row.state = InboxState.PENDING
    row.attempts = 0
    row.next_attempt_at = now
    return row


def prune(session: Session, *, before: datetime) -> int:
    """Delete rows processed before ``before``; failed and pending rows stay."""
    done = session.execute(
        delete(CallEventInbox)
        .where(CallEventInbox.state == InboxState.PROCESSED, CallEventInbox.processed_at < before)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount or 0


def listing(state: InboxState) -> Select[tuple[CallEventInbox]]:
    """Rows in one state, newest first (for ``paginate``)."""
    return select(CallEventInbox).where(CallEventInbox.state == state).order_by(CallEventInbox.id.desc())


def row_out(row: CallEventInbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "source": row.source,
        "event": row.raw,
        "state": row.state.value,
        "attempts": row.attempts,
        "processed_at": row.processed_at.isoformat() if row.processed_at else None,
        "last_error": row.last_error,
    }
