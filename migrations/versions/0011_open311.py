"""open311_key, open311_key_use, open311_submission: Open311 GeoReport v2 keys, their uses, submissions

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04 19:28:22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("last_used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_open311_key_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["user.id"], name=op.f("fk_open311_key_revoked_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_key_key_hash")),
    )
    op.create_table(
        "open311_key_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=30), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["open311_key.id"], name=op.f("fk_open311_key_use_key_id_open311_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_key_use")),
    )
    with op.batch_alter_table("open311_key_use", schema=None) as batch_op:
        batch_op.create_index("ix_open311_key_use_key_id_at", ["key_id", "at"], unique=False)

    op.create_table(
        "open311_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ordered", "pending", "rejected", name="submissionstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("token", sa.String(length=40), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("resolved_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_open311_submission_item_id_item")),
        sa.ForeignKeyConstraint(
            ["key_id"], ["open311_key.id"], name=op.f("fk_open311_submission_key_id_open311_key")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_open311_submission_order_id_order")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["user.id"], name=op.f("fk_open311_submission_resolved_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_submission")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_submission_token")),
    )
    with op.batch_alter_table("open311_submission", schema=None) as batch_op:
        batch_op.create_index(
            "ix_open311_submission_key_id_fingerprint", ["key_id", "fingerprint"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_open311_submission_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_open311_submission_status_created_at", ["status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("open311_submission", schema=None) as batch_op:
        batch_op.drop_index("ix_open311_submission_status_created_at")
        batch_op.drop_index(batch_op.f("ix_open311_submission_order_id"))
        batch_op.drop_index("ix_open311_submission_key_id_fingerprint")

    op.drop_table("open311_submission")
    with op.batch_alter_table("open311_key_use", schema=None) as batch_op:
        batch_op.drop_index("ix_open311_key_use_key_id_at")

    op.drop_table("open311_key_use")
    op.drop_table("open311_key")
