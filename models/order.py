"""The order aggregate: order (工单), its timeline events, offers and ratings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, UTCDateTime, str_enum, utcnow


class OrderStatus(enum.StrEnum):
    RECEIVED = "received"  # 已受理
    OFFERED = "offered"  # 待签收
    ACCEPTED = "accepted"  # 已签收
    IN_SERVICE = "in_service"  # 服务中
    COMPLETED = "completed"  # 已办结
    CLOSED = "closed"  # 已归档
    CANCELLED = "cancelled"  # 已撤销


OPEN_STATUSES = (OrderStatus.RECEIVED, OrderStatus.OFFERED, OrderStatus.ACCEPTED, OrderStatus.IN_SERVICE)


class Channel(enum.StrEnum):
    PHONE = "phone"
    IVR = "ivr"
    SMS = "sms"
    WEB = "web"
    APP = "app"
    VISIT = "visit"


class Priority(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Supervision(enum.StrEnum):
    NONE = "none"
    YELLOW = "yellow"  # 黄牌
    RED = "red"  # 红牌


class Order(Timestamped, Base):
    __tablename__ = "order"
    __table_args__ = (
        # The tracking loop reads only orders whose next check is due.
        Index("ix_order_next_check_at", "next_check_at"),
        Index("ix_order_status_created_at", "status", "created_at"),
        Index("ix_order_resident_id_created_at", "resident_id", "created_at"),
        Index("ix_order_provider_id_status", "provider_id", "status"),
        Index("ix_order_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus), default=OrderStatus.RECEIVED)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority), default=Priority.NORMAL)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    caller_phone: Mapped[str] = mapped_column(String(20), default="")
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    # Denormalised from the item so KPI breakdowns by category need no join.
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    # The category suggestions shown when the order was taken: [{"item_code", "score"}, …].
    suggestions: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    community_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"))

    sign_by: Mapped[datetime | None]
    complete_by: Mapped[datetime | None]
    callback_due_at: Mapped[datetime | None]
    # Earliest moment the tracking loop must look at this order again (reminder, escalation,
    # offer expiry, callback, auto-close); null when nothing is pending.
    next_check_at: Mapped[datetime | None]
    supervision: Mapped[Supervision] = mapped_column(str_enum(Supervision), default=Supervision.NONE)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    # Why the order waits for a supervisor instead of auto-dispatch (3 returns, no candidate…).
    supervisor_queue_reason: Mapped[str | None] = mapped_column(String(200))

    accepted_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    checkin_lat: Mapped[float | None]
    checkin_lon: Mapped[float | None]
    checkin_distance_m: Mapped[float | None] = mapped_column(Float)
    checkin_far: Mapped[bool] = mapped_column(Boolean, default=False)
    # Check-out (离开现场): when and where the worker left, flagged like the check-in when far.
    checkout_at: Mapped[datetime | None]
    checkout_lat: Mapped[float | None]
    checkout_lon: Mapped[float | None]
    checkout_distance_m: Mapped[float | None] = mapped_column(Float)
    checkout_far: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    completed_at: Mapped[datetime | None]
    completion_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    rating_stars: Mapped[int | None] = mapped_column(Integer)
    # A request filed on a home visit (channel visit): how the resident consented (verbal, signed).
    consent_method: Mapped[str | None] = mapped_column(String(10))
    consent_note: Mapped[str | None] = mapped_column(String(300))
    # The time window the resident asked for the visit (the residents' app), if any.
    preferred_from: Mapped[datetime | None]
    preferred_to: Mapped[datetime | None]

    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    offers: Mapped[list[Offer]] = relationship(back_populates="order", order_by="Offer.id")


class OrderEvent(Base):
    """Append-only timeline: every change to an order is one row."""

    __tablename__ = "order_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[OrderStatus | None] = mapped_column(str_enum(OrderStatus))
    to_status: Mapped[OrderStatus | None] = mapped_column(str_enum(OrderStatus))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Who acted, readable without a join: "operator:wang", "system", "sms:+8613800000000".
    actor: Mapped[str] = mapped_column(String(80), default="system")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")


class OfferStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"  # 退单
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # order cancelled or re-dispatched by a supervisor


class DispatchMode(enum.StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    BATCH = "batch"


class Offer(Base):
    __tablename__ = "offer"
    __table_args__ = (
        Index("ix_offer_status_sign_by", "status", "sign_by"),
        Index("ix_offer_order_id_provider_id", "order_id", "provider_id"),
        Index("ix_offer_provider_id_status", "provider_id", "status"),
        Index("ix_offer_offered_at", "offered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    status: Mapped[OfferStatus] = mapped_column(str_enum(OfferStatus), default=OfferStatus.PENDING)
    mode: Mapped[DispatchMode] = mapped_column(str_enum(DispatchMode), default=DispatchMode.AUTO)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sign_by: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(300), default="")
    distance_km: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    out_of_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    offered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    order: Mapped[Order] = relationship(back_populates="offers")


class RatingOutcome(enum.StrEnum):
    RATED = "rated"
    UNREACHABLE = "unreachable"  # callback: nobody answered
    DECLINED = "declined"  # resident declined to rate


class Rating(Base):
    __tablename__ = "rating"
    __table_args__ = (Index("ix_rating_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"), index=True)
    outcome: Mapped[RatingOutcome] = mapped_column(str_enum(RatingOutcome), default=RatingOutcome.RATED)
    stars: Mapped[int | None] = mapped_column(Integer)  # 5 非常满意 … 1 非常不满意
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
