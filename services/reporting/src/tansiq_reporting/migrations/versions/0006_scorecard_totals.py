"""Per-ministry totals of the scorecard counters, kept with the month cells.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scorecard_totals (
            country text NOT NULL,
            ministry_id text NOT NULL,
            records integer NOT NULL DEFAULT 0,
            flagged integer NOT NULL DEFAULT 0,
            c1 integer NOT NULL DEFAULT 0,
            c2 integer NOT NULL DEFAULT 0,
            c3 integer NOT NULL DEFAULT 0,
            c4 integer NOT NULL DEFAULT 0,
            c5 integer NOT NULL DEFAULT 0,
            c6 integer NOT NULL DEFAULT 0,
            c7 integer NOT NULL DEFAULT 0,
            CONSTRAINT pk_scorecard_totals PRIMARY KEY (country, ministry_id)
        )
        """
    )
    op.execute(
        """
        INSERT INTO scorecard_totals
            (country, ministry_id, records, flagged, c1, c2, c3, c4, c5, c6, c7)
        SELECT country, ministry_id, sum(records), sum(flagged), sum(c1), sum(c2), sum(c3),
               sum(c4), sum(c5), sum(c6), sum(c7)
        FROM scorecard_cells GROUP BY country, ministry_id
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS scorecard_totals")
