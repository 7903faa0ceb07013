"""order_fact, call_fact: per-order and per-call fact rows for the supervisor KPIs, built for existing rows

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dispatch import facts

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_fact",
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("offers", sa.BigInteger(), nullable=False),
        sa.Column("ratings", sa.BigInteger(), nullable=False),
        sa.Column("accepted_us", sa.BigInteger(), nullable=True),
        sa.Column("arrived_us", sa.BigInteger(), nullable=True),
        sa.Column("completed_us", sa.BigInteger(), nullable=True),
        sa.Column("packed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("created_us", "order_id", "part", name=op.f("pk_order_fact")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_order_fact_order_id_part", "order_fact", ["order_id", "part"], unique=True)
    op.create_table(
        "call_fact",
        sa.Column("started_us", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("packed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("started_us", "call_id", name=op.f("pk_call_fact")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_call_fact_call_id", "call_fact", ["call_id"], unique=True)
    # The existing orders' and calls' rows, a batch of orders at a time (the module reads tables by name).
    facts.backfill(op.get_bind())
    facts.backfill_calls(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_call_fact_call_id", table_name="call_fact")
    op.drop_table("call_fact")
    op.drop_index("ix_order_fact_order_id_part", table_name="order_fact")
    op.drop_table("order_fact")
