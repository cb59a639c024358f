"""A rebuild from the topics re-evaluates findings instead of emptying them: no ledger to carry
their decisions across; the rebuild's own state instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS finding_ledger")
    op.execute(
        """
        CREATE TABLE rebuild_state (
            id smallint NOT NULL,
            rebuilding boolean NOT NULL DEFAULT false,
            started_at timestamptz,
            finished_at timestamptz,
            CONSTRAINT pk_rebuild_state PRIMARY KEY (id),
            CONSTRAINT ck_rebuild_state_one_row CHECK (id = 1)
        )
        """
    )
    op.execute("INSERT INTO rebuild_state (id, rebuilding) VALUES (1, false)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS rebuild_state")
    op.execute(
        """
        CREATE TABLE finding_ledger (
            id text NOT NULL,
            version integer NOT NULL,
            acknowledgement jsonb,
            acceptance jsonb,
            CONSTRAINT pk_finding_ledger PRIMARY KEY (id)
        )
        """
    )
