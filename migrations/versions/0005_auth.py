"""auth: phone extensions belong to call-taking roles only

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:20:00

Until now a role change kept the account's extension, so a demoted operator's phone still popped
residents' personal data on their (now worker's) console. The application no longer lets an
extension sit on an account of another role; this clears the ones left from before. Data only:
the schema does not change, and a downgrade cannot know which extensions there were.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        'UPDATE "user" SET extension = NULL '
        "WHERE extension IS NOT NULL AND role NOT IN ('admin', 'supervisor', 'operator')"
    )


def downgrade() -> None:
    pass
