"""order_fact, call_fact: on PostgreSQL the primary keys also carry the packed blob, so a period's
rows are read from the key's index alone (an index-only scan), without visiting the table

The KPI queries read ``packed`` for a range of the first key column (see ``dispatch.facts``). On
SQLite the tables are WITHOUT ROWID, stored in key order with the blob in place: nothing to do.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {"order_fact": ("created_us", "order_id", "part"), "call_fact": ("started_us", "call_id")}


def _rebuild_keys(include: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in KEYS.items():
        # One statement, so the table is never without its key (op.create_primary_key takes no INCLUDE).
        op.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, "
            f"ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(columns)}){include}"
        )


def upgrade() -> None:
    _rebuild_keys(" INCLUDE (packed)")


def downgrade() -> None:
    _rebuild_keys("")
