"""The replica keeps each organization's country: the country boundary of the access model.

Existing rows get their country from a replay (`tansiq replay organizations --service <name>`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 0002 creates the table from the current model, which already has the column.
    op.execute("ALTER TABLE organization_directory ADD COLUMN IF NOT EXISTS country text")


def downgrade() -> None:
    op.execute("ALTER TABLE organization_directory DROP COLUMN IF EXISTS country")
