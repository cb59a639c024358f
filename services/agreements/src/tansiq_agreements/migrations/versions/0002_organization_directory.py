"""The replica of the registry's organizations that scopes access (fed by its events).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op
from tansiq_common.auth import create_directory_table, drop_directory_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_directory_table(op.get_bind())


def downgrade() -> None:
    drop_directory_table(op.get_bind())
