"""Records an event touched carry a `due` mark the evaluator clears, apart from their time-based
re-check: the consumer no longer waits for the evaluator.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("rm_agreements", "rm_engagements")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN due boolean NOT NULL DEFAULT false")
        op.execute(
            f"UPDATE {table} SET due = true, recheck_at = NULL "  # noqa: S608 - a constant
            "WHERE recheck_at = '-infinity'"
        )
        op.execute(f"CREATE INDEX ix_{table}_due ON {table} (id) WHERE due")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"UPDATE {table} SET recheck_at = '-infinity' WHERE due")  # noqa: S608
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_due")
        op.execute(f"ALTER TABLE {table} DROP COLUMN due")
