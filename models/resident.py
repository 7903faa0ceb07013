"""Residents (personal data), their phone numbers, and their accounts in the residents' app."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, str_enum


class PhoneKind(enum.StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    OTHER = "other"


class Resident(Timestamped, Base):
    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    community_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    # Vulnerability tags (独居老人, 残疾, 低保, …) raise an order's priority.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")

    phones: Mapped[list[ResidentPhone]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", order_by="ResidentPhone.id"
    )


class ResidentPhone(Base):
    __tablename__ = "resident_phone"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    # E.164, normalised with phonenumbers; one number belongs to one resident.
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[PhoneKind] = mapped_column(str_enum(PhoneKind), default=PhoneKind.MOBILE)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    resident: Mapped[Resident] = relationship(back_populates="phones")


class ResidentAccount(Base):
    """A resident who signed in to the residents' app (by an SMS code to one of their numbers).

    The account *is* the resident record: it only adds what signing in needs. ``token_version``
    is in every resident token; signing out raises it, which ends every sign-in of the account."""

    __tablename__ = "resident_account"

    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime]
