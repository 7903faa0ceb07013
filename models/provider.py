"""Providers: social organisations (社会组织) and individual social workers (社工)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, str_enum


class ProviderKind(enum.StrEnum):
    ORGANISATION = "organisation"
    WORKER = "worker"


class ProviderStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Provider(Timestamped, Base):
    __tablename__ = "provider"
    __table_args__ = (
        CheckConstraint("open_count >= 0", name="open_count_not_negative"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        Index("ix_provider_status_kind", "status", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ProviderKind] = mapped_column(str_enum(ProviderKind))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), default="")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    # Service area: a radius around the base, or (when communities are listed) those communities.
    radius_km: Mapped[float] = mapped_column(Float, default=5.0)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    # Orders held: accepted/in service plus outstanding offers. Changed only by conditional
    # updates (open_count < capacity) so two offers cannot both take the last slot.
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    # {"mon": [["08:30", "17:30"]], ...}; an empty dict means always available.
    working_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)
    status: Mapped[ProviderStatus] = mapped_column(str_enum(ProviderStatus), default=ProviderStatus.ACTIVE)
    star_level: Mapped[float] = mapped_column(Float, default=4.0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    # When the provider was last offered an order (fairness between equally good providers).
    last_offered_at: Mapped[datetime | None]

    organisation: Mapped[Provider | None] = relationship(remote_side=[id])
    services: Mapped[list[ProviderService]] = relationship(
        back_populates="provider", cascade="all, delete-orphan"
    )
    communities: Mapped[list[ProviderCommunity]] = relationship(
        back_populates="provider", cascade="all, delete-orphan"
    )


class ProviderService(Base):
    """One item (or one whole category, when item_id is null) a provider serves."""

    __tablename__ = "provider_service"
    __table_args__ = (
        UniqueConstraint("provider_id", "category_id", "item_id"),
        CheckConstraint("item_id IS NOT NULL OR category_id IS NOT NULL", name="item_or_category"),
        Index("ix_provider_service_item_id", "item_id"),
        Index("ix_provider_service_category_id", "category_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))

    provider: Mapped[Provider] = relationship(back_populates="services")


class ProviderCommunity(Base):
    __tablename__ = "provider_community"

    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("area.id"), primary_key=True, index=True)

    provider: Mapped[Provider] = relationship(back_populates="communities")
