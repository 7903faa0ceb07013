"""The call event inbox: every event the ingest endpoint acknowledged, stored before the 202."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, str_enum, utcnow


class InboxState(enum.StrEnum):
    PENDING = "pending"  # acknowledged, not yet (successfully) handled
    PROCESSED = "processed"  # its effects are committed; pruned after the retention period
    FAILED = "failed"  # kept failing up to the attempt limit: left for an admin, never blocks others


class CallEventInbox(Base):
    """One acknowledged call event in its raw JSON form. The worker marks it processed in the
    transaction that stores its effects, so a crash in between handles it again, to the same end
    (the recorder is idempotent per call id and event)."""

    __tablename__ = "call_event_inbox"
    __table_args__ = (Index("ix_call_event_inbox_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # the event's source: asterisk, twilio, simulator
    raw: Mapped[dict[str, object]] = mapped_column(JSON)
    state: Mapped[InboxState] = mapped_column(str_enum(InboxState), default=InboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
