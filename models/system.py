"""Infrastructure rows: working-day calendar, scheduler leases, idempotency keys, inbound receipts,
the live event stream's messages (PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class CalendarDay(Base):
    """One day whose working status differs from the plain Mon–Fri rule, or is pinned by an admin.

    Seeded from ``chinese-calendar`` (holidays and 调休 make-up working weekends); days not in
    the table follow Mon–Fri.
    """

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(50), default="")
    source: Mapped[str] = mapped_column(String(20), default="chinese-calendar")


class CalendarYear(Base):
    """A year whose official holiday schedule (State Council notice) is entered in full: from
    ``chinese-calendar``, or by an admin who imported or set it. The working-day calendar is
    trusted up to the end of the last such year in a row from now; later days follow Mon–Fri,
    and deadlines falling there are flagged."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(20))  # chinese-calendar | import | manual
    note: Mapped[str] = mapped_column(String(200), default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Lease(Base):
    """A named lease so only one instance runs a singleton job (the tracking loop)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyKey(Base):
    """A request replayed with the same Idempotency-Key gets the first answer again."""

    __tablename__ = "idempotency_key"

    scope: Mapped[str] = mapped_column(String(50), primary_key=True)  # e.g. "orders:user:7"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundReceipt(Base):
    """A webhook or telephony event already processed (Twilio MessageSid/CallSid + status…)."""

    __tablename__ = "inbound_receipt"

    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderCounter(Base):
    """Per-day sequence behind order numbers (20261122-0042), incremented with a locked update."""

    __tablename__ = "order_counter"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class LiveEvent(Base):
    """One message of the live event stream on PostgreSQL (``dispatch.live.postgres``): its id is
    the stream's message id, the same in every process. Rows older than ``[live]
    retention_minutes`` are deleted. The table exists on SQLite too (one schema) and stays empty
    there: the stream of a single process lives in memory."""

    __tablename__ = "live_event"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(40))
    targets: Mapped[list[str]] = mapped_column(JSON)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
