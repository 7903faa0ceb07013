"""Files attached to an order: photos taken at the door and the resident's signature."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, str_enum, utcnow


class AttachmentKind(enum.StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"  # the resident's, drawn on the worker's screen at completion


class AttachmentStage(enum.StrEnum):
    INTAKE = "intake"  # taken when a worker filed the request on a home visit
    VISIT = "visit"  # at the door, during the service
    COMPLETION = "completion"  # the result, shown with the completion


class Attachment(Base):
    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_order_id_kind_stage", "order_id", "kind", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"))
    kind: Mapped[AttachmentKind] = mapped_column(str_enum(AttachmentKind))
    stage: Mapped[AttachmentStage] = mapped_column(str_enum(AttachmentStage))
    content_type: Mapped[str] = mapped_column(String(40))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Relative to [uploads] dir: "<order id>/<random>.<ext>"; never a name the client chose.
    path: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
