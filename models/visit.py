"""Care visit plans (定期探访) for vulnerable residents, and the visits they generate.

A plan says who is visited, how often and by whom; the tracking loop turns each period of the plan
into a visit (a ``care_visit`` row and a consult-class order offered to the plan's visitor). A
visit not found at home is tried again: each try is a row of its own (``attempt`` 1, 2, …) on the
same order, so "never two visits for one period" is the unique (plan, period, attempt).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, str_enum


class PlanType(enum.StrEnum):
    ELDERLY = "elderly"  # 独居/空巢老人探访
    CARE = "care"  # 失能/残疾照护探访
    HARDSHIP = "hardship"  # 特困人员需求探访


class Frequency(enum.StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class VisitOutcome(enum.StrEnum):
    WELL = "well"  # 情况良好
    NEEDS_FOUND = "needs_found"  # 发现需求
    NOT_HOME = "not_home"  # 未遇


class VisitPlan(Timestamped, Base):
    __tablename__ = "visit_plan"
    __table_args__ = (Index("ix_visit_plan_active_next_period_on", "active", "next_period_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    plan_type: Mapped[PlanType] = mapped_column(str_enum(PlanType))
    frequency: Mapped[Frequency] = mapped_column(str_enum(Frequency))
    # The visitor: a grid worker, a social worker or an organisation (models.provider).
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The first day of the next period the tracking loop has not yet made a visit for; the job
    # reads plans through (active, next_period_on), so its cost grows with visits due, not plans.
    next_period_on: Mapped[date] = mapped_column(Date)

    visits: Mapped[list[CareVisit]] = relationship(
        back_populates="plan", order_by="(CareVisit.period_on, CareVisit.attempt)"
    )


class CareVisit(Base):
    __tablename__ = "care_visit"
    __table_args__ = (
        UniqueConstraint("plan_id", "period_on", "attempt"),
        Index("ix_care_visit_due_on", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("visit_plan.id", ondelete="CASCADE"))
    # The period this visit is for (its nominal first day) and the working day it is due.
    period_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True)
    outcome: Mapped[VisitOutcome | None] = mapped_column(str_enum(VisitOutcome))
    # {"<checklist code>": true/false}, and the needs found: [{"item_code", "description", "order_id"}].
    answers: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    needs: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    plan: Mapped[VisitPlan] = relationship(back_populates="visits")
