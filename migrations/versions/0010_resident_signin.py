"""resident_sign_in_code, resident_account, order.preferred_from/to: the residents' app

Residents sign in with a code sent by SMS (only the code's HMAC is stored); an account adds the
token version to a resident record; an order keeps the visit window the resident asked for.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:28:48
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident_sign_in_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_sign_in_code")),
    )
    with op.batch_alter_table("resident_sign_in_code", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resident_sign_in_code_address_created_at", ["address", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_resident_sign_in_code_phone_created_at", ["phone", "created_at"], unique=False
        )

    op.create_table(
        "resident_account",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_resident_account_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_account")),
    )
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("preferred_from", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("preferred_to", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_column("preferred_to")
        batch_op.drop_column("preferred_from")

    op.drop_table("resident_account")
    with op.batch_alter_table("resident_sign_in_code", schema=None) as batch_op:
        batch_op.drop_index("ix_resident_sign_in_code_phone_created_at")
        batch_op.drop_index("ix_resident_sign_in_code_address_created_at")

    op.drop_table("resident_sign_in_code")
