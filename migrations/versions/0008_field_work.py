"""field work: attachment (photos, signatures), order check-out and home-visit consent

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("photo", "signature", name="attachmentkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "stage",
            sa.Enum("intake", "visit", "completion", name="attachmentstage", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_attachment_order_id_order"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["user.id"], name=op.f("fk_attachment_uploaded_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
        sa.UniqueConstraint("path", name=op.f("uq_attachment_path")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attachment_order_id_kind_stage", ["order_id", "kind", "stage"], unique=False
        )
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkout_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("checkout_lat", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("checkout_lon", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("checkout_distance_m", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("checkout_far", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("consent_method", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("consent_note", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_column("consent_note")
        batch_op.drop_column("consent_method")
        batch_op.drop_column("checkout_far")
        batch_op.drop_column("checkout_distance_m")
        batch_op.drop_column("checkout_lon")
        batch_op.drop_column("checkout_lat")
        batch_op.drop_column("checkout_at")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index("ix_attachment_order_id_kind_stage")
    op.drop_table("attachment")
