"""Telephone calls (Asterisk Linkedid / Twilio CallSid) and the orders taken on them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, str_enum

if TYPE_CHECKING:
    from models.order import Order


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Disposition(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # caller hung up while queued
    MISSED = "missed"  # nobody answered (queue timeout, no agent)
    VOICEMAIL = "voicemail"


call_order = Table(
    "call_order",
    Base.metadata,
    Column("call_id", ForeignKey("call.id", ondelete="CASCADE"), primary_key=True),
    Column("order_id", ForeignKey("order.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Call(Base):
    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_call_caller_started_at", "caller", "started_at"),
        Index("ix_call_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # asterisk | twilio | simulator
    external_id: Mapped[str] = mapped_column(String(64))  # Linkedid or CallSid
    direction: Mapped[CallDirection] = mapped_column(str_enum(CallDirection))
    caller: Mapped[str] = mapped_column(String(32))
    callee: Mapped[str] = mapped_column(String(32), default="")
    queue: Mapped[str] = mapped_column(String(50), default="")
    operator_ext: Mapped[str] = mapped_column(String(20), default="")
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hold_seconds: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)
    disposition: Mapped[Disposition | None] = mapped_column(str_enum(Disposition))
    recording_url: Mapped[str] = mapped_column(String(500), default="")
    # What the caller keyed in the IVR menu (Twilio Gather, AMI UserEvent), e.g. "2" for a category.
    ivr_digits: Mapped[str] = mapped_column(String(20), default="", server_default="")
    # A missed/abandoned/voicemail call waits in (or folded into) this callback.
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callback.id", use_alter=True), index=True)
    # How the call ended for the centre when it made no order (an operator's outcome code).
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"))
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    orders: Mapped[list[Order]] = relationship(secondary=call_order)
