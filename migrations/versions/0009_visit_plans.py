"""visit_plan and care_visit: care visit plans (定期探访) and their visits

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:38:36
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column(
            "plan_type",
            sa.Enum("elderly", "care", "hardship", name="plantype", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "frequency",
            sa.Enum("weekly", "biweekly", "monthly", name="frequency", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("next_period_on", sa.Date(), nullable=False),
        sa.Column(
            "created_at",
            models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_visit_plan_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_visit_plan_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_visit_plan_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_plan")),
    )
    with op.batch_alter_table("visit_plan", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visit_plan_active_next_period_on", ["active", "next_period_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_visit_plan_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_plan_resident_id"), ["resident_id"], unique=False)

    op.create_table(
        "care_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("period_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("well", "needs_found", "not_home", name="visitoutcome", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_care_visit_order_id_order")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["visit_plan.id"], name=op.f("fk_care_visit_plan_id_visit_plan"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user.id"], name=op.f("fk_care_visit_recorded_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_visit")),
        sa.UniqueConstraint(
            "plan_id", "period_on", "attempt", name=op.f("uq_care_visit_plan_id_period_on_attempt")
        ),
    )
    with op.batch_alter_table("care_visit", schema=None) as batch_op:
        batch_op.create_index("ix_care_visit_due_on", ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_visit_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("care_visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_visit_order_id"))
        batch_op.drop_index("ix_care_visit_due_on")

    op.drop_table("care_visit")
    with op.batch_alter_table("visit_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_plan_resident_id"))
        batch_op.drop_index(batch_op.f("ix_visit_plan_provider_id"))
        batch_op.drop_index("ix_visit_plan_active_next_period_on")

    op.drop_table("visit_plan")
