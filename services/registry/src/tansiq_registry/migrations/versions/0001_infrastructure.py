"""Outbox, processed events, idempotency keys and audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op
from tansiq_common.schema import create_infrastructure, drop_infrastructure

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_infrastructure(op.get_bind())


def downgrade() -> None:
    drop_infrastructure(op.get_bind())
