"""Calls to return: a missed, abandoned or voicemail call waits in the callback worklist until an
operator closes it with an outcome. Repeat calls from the same number fold into the waiting one."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum


class CallbackReason(enum.StrEnum):
    MISSED = "missed"  # nobody answered
    ABANDONED = "abandoned"  # the caller hung up while waiting
    VOICEMAIL = "voicemail"  # the caller left a message


class CallbackStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CallOutcome(enum.StrEnum):
    """How a call (or a callback) ended for the centre; also the outcome of an answered call that
    made no order."""

    ORDER = "order"  # became order N
    ANSWERED = "answered"  # 咨询已答复: answered on the phone, nothing to dispatch
    WRONG_NUMBER = "wrong_number"
    NUISANCE = "nuisance"
    DUPLICATE = "duplicate"  # about an order already open
    UNREACHABLE = "unreachable"  # called back three times, nobody answered


class Callback(Base):
    __tablename__ = "callback"
    __table_args__ = (
        Index("ix_callback_status_created_at", "status", "created_at"),
        Index("ix_callback_caller_status", "caller", "status"),
        # One waiting callback per number: repeat calls fold into it, also when two end at once.
        Index(
            "uq_callback_caller_open",
            "caller",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(32))  # E.164 when it could be read
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    first_call_id: Mapped[int] = mapped_column(ForeignKey("call.id"), index=True)
    reason: Mapped[CallbackReason] = mapped_column(str_enum(CallbackReason))
    recording_url: Mapped[str] = mapped_column(String(500), default="")
    call_count: Mapped[int] = mapped_column(Integer, default=1)  # the first call and those folded in
    created_at: Mapped[datetime]
    last_call_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[CallbackStatus] = mapped_column(str_enum(CallbackStatus), default=CallbackStatus.OPEN)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls placed back to the caller
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    outcome: Mapped[CallOutcome | None] = mapped_column(str_enum(CallOutcome))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"))  # made, or duplicated
    note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
