"""Service catalogue: SLA classes, categories, items."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, str_enum


class ClockKind(enum.StrEnum):
    WALL = "wall"  # 24×7 minutes
    WORKING_DAYS = "working_days"  # official Chinese working days (调休 included)


class SlaClass(Base):
    """Default time limits of one SLA class (urgent, priority, normal, consult)."""

    __tablename__ = "sla_class"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    clock: Mapped[ClockKind] = mapped_column(str_enum(ClockKind))
    # In minutes for the wall clock, in working days otherwise; no sign-for step when null.
    sign_for_limit: Mapped[int | None] = mapped_column(Integer)
    complete_limit: Mapped[int] = mapped_column(Integer)


class Category(Timestamped, Base):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    items: Mapped[list[Item]] = relationship(back_populates="category", order_by="Item.code")


class Item(Timestamped, Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    sla_class_code: Mapped[str] = mapped_column(ForeignKey("sla_class.code"))
    home_visit: Mapped[bool] = mapped_column(Boolean, default=True)
    # "|"-separated words and phrases residents use for this item (feeds category suggestion).
    keywords: Mapped[str] = mapped_column(Text, default="")
    # Safety notice read to the worker and returned to the operator (e.g. verify identity before 开锁).
    notice: Mapped[str] = mapped_column(Text, default="")
    # Per-item overrides of the SLA class limits (same units as the class).
    sign_for_limit: Mapped[int | None] = mapped_column(Integer)
    complete_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category] = relationship(back_populates="items")
    sla_class: Mapped[SlaClass] = relationship()
