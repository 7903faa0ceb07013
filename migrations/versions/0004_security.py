"""security: sign-in attempts, single-use stream tickets, token versions, the append-only
access trail of residents' personal data

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 15:41:36

The access trail is append-only in the database itself: a trigger refuses UPDATE and DELETE on
``access_record`` (SQLite and PostgreSQL), so not even a bug in the application can rewrite it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_access_record_order_id_order")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_access_record_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_access_record_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_record")),
    )
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.create_index("ix_access_record_resident_at", ["resident_id", "at"], unique=False)
        batch_op.create_index("ix_access_record_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_login_attempt_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_username_at", ["username", "at"], unique=False)

    op.create_table(
        "stream_ticket",
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_stream_ticket_user_id_user")),
        sa.PrimaryKeyConstraint("ticket_hash", name=op.f("pk_stream_ticket")),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION access_record_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'access_record is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER access_record_append_only BEFORE UPDATE OR DELETE ON access_record "
            "FOR EACH ROW EXECUTE FUNCTION access_record_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_record_no_{verb.lower()} BEFORE {verb} ON access_record "
                "BEGIN SELECT RAISE(ABORT, 'access_record is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_record_append_only ON access_record")
        op.execute("DROP FUNCTION IF EXISTS access_record_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS access_record_no_{verb}")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("token_version")

    op.drop_table("stream_ticket")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_username_at")
        batch_op.drop_index("ix_login_attempt_address_at")

    op.drop_table("login_attempt")
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.drop_index("ix_access_record_user_at")
        batch_op.drop_index("ix_access_record_resident_at")

    op.drop_table("access_record")
