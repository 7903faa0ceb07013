"""Per-order fact rows for the supervisor KPIs: see ``dispatch/facts.py``, which keeps them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class OrderFact(Base):
    """One order's facts for one provider (part 0: its own, with the order's current provider).

    Keyed by creation time first, so a period's rows lie together: on SQLite the table is stored
    in that order (WITHOUT ROWID); on PostgreSQL the key's index also carries ``packed``, so a
    period is read from the index alone (migration 0013).
    """

    __tablename__ = "order_fact"
    __table_args__ = (
        PrimaryKeyConstraint("created_us", "order_id", "part", postgresql_include=["packed"]),
        Index("ix_order_fact_order_id_part", "order_id", "part", unique=True),
        {"sqlite_with_rowid": False},
    )

    created_us: Mapped[int] = mapped_column(BigInteger)  # µs since 1970 UTC
    order_id: Mapped[int] = mapped_column(Integer)
    part: Mapped[int] = mapped_column(Integer)
    flags: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    item_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    provider_id: Mapped[int | None] = mapped_column(Integer)
    offers: Mapped[int] = mapped_column(BigInteger)  # packed counts, 12 bits each
    ratings: Mapped[int] = mapped_column(BigInteger)
    accepted_us: Mapped[int | None] = mapped_column(BigInteger)
    arrived_us: Mapped[int | None] = mapped_column(BigInteger)
    completed_us: Mapped[int | None] = mapped_column(BigInteger)  # only when completed or closed
    packed: Mapped[bytes] = mapped_column(LargeBinary)  # the row's numbers in one blob (facts.ORDER_PACKED)


class CallFact(Base):
    """One inbound call's facts: start, the caller number as an integer (``facts.caller_code``),
    answered / abandoned flags, and all of it packed (``facts.CALL_PACKED``) with the wait."""

    __tablename__ = "call_fact"
    __table_args__ = (
        PrimaryKeyConstraint("started_us", "call_id", postgresql_include=["packed"]),
        Index("ix_call_fact_call_id", "call_id", unique=True),
        {"sqlite_with_rowid": False},
    )

    started_us: Mapped[int] = mapped_column(BigInteger)  # µs since 1970 UTC
    call_id: Mapped[int] = mapped_column(Integer)
    caller: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[int] = mapped_column(Integer)
    packed: Mapped[bytes] = mapped_column(LargeBinary)
