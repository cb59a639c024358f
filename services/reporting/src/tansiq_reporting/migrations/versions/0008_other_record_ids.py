"""Findings keep the records they name besides their anchor in their own column, with a small
partial index: finding the findings that depend on a changed record no longer reads them all.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE findings ADD COLUMN other_record_ids text[] NOT NULL DEFAULT '{}'")
    op.execute("UPDATE findings SET other_record_ids = array_remove(record_ids, anchor_id)")
    op.execute(
        "CREATE INDEX ix_findings_other_record_ids ON findings USING gin (other_record_ids) "
        "WHERE other_record_ids <> '{}' AND status <> 'resolved'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_findings_other_record_ids")
    op.execute("ALTER TABLE findings DROP COLUMN other_record_ids")
