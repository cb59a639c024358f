"""Records count the times they were marked due, and the evaluator clears a mark only if no
other came since it read the record. Clearing on the version it evaluated lost a mark that
changed nothing in the record itself (an organization it names moved, an engagement linked
to an agreement) when it came while the record was being evaluated.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("rm_agreements", "rm_engagements")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN marks bigint NOT NULL DEFAULT 0")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN marks")
