"""callback worklist, call outcomes, calendar years with an official schedule

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 14:08:47
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["user.id"], name=op.f("fk_calendar_year_confirmed_by_id_user")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_year")),
    )
    op.create_table(
        "callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("first_call_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum("missed", "abandoned", "voicemail", name="callbackreason", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("recording_url", sa.String(length=500), nullable=False),
        sa.Column("call_count", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_call_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="callbackstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "order",
                "answered",
                "wrong_number",
                "nuisance",
                "duplicate",
                "unreachable",
                name="calloutcome",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("closed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["closed_by_id"], ["user.id"], name=op.f("fk_callback_closed_by_id_user")),
        sa.ForeignKeyConstraint(["first_call_id"], ["call.id"], name=op.f("fk_callback_first_call_id_call")),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_callback_order_id_order")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_callback_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback")),
    )
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index("ix_callback_caller_status", ["caller", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_callback_first_call_id"), ["first_call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_callback_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index("ix_callback_status_created_at", ["status", "created_at"], unique=False)
        batch_op.create_index(
            "uq_callback_caller_open",
            ["caller"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("outcome_order_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcome_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_call_callback_id"), ["callback_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_call_outcome_by_id_user"), "user", ["outcome_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_call_callback_id_callback"), "callback", ["callback_id"], ["id"], use_alter=True
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_call_outcome_order_id_order"), "order", ["outcome_order_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_call_outcome_order_id_order"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_call_callback_id_callback"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_call_outcome_by_id_user"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_call_callback_id"))
        batch_op.drop_column("outcome_by_id")
        batch_op.drop_column("outcome_order_id")
        batch_op.drop_column("outcome")
        batch_op.drop_column("callback_id")

    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index("uq_callback_caller_open")
        batch_op.drop_index("ix_callback_status_created_at")
        batch_op.drop_index(batch_op.f("ix_callback_resident_id"))
        batch_op.drop_index(batch_op.f("ix_callback_first_call_id"))
        batch_op.drop_index("ix_callback_caller_status")

    op.drop_table("callback")
    op.drop_table("calendar_year")
