"""Rule C3's neighbourhood lookup by organization and time: a narrow table of (organization,
start, engagement) kept by a trigger on the engagements replica, with its btree, so the
engagements naming a partner within the window are one index range each. The GIN index on
`org_ids` answered the partner and the `start` index the window, intersected per engagement
evaluated: the window alone is thousands of rows at a million engagements.

The GIN indexes the write path probes no longer defer their inserts to a pending list
(`fastupdate`): every probe read that whole list until a vacuum merged it, so lookups slowed
down as events kept arriving.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROBED_GIN_INDEXES = (
    "ix_rm_engagements_org_ids",
    "ix_rm_engagements_agreement_ids",
    "ix_rm_agreements_org_ids",
    "ix_findings_other_record_ids",
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rm_engagement_orgs (
            org_id text NOT NULL,
            start timestamptz NOT NULL,
            engagement_id text NOT NULL,
            PRIMARY KEY (org_id, start, engagement_id)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION rm_engagement_orgs_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.start IS NOT NULL THEN
            DELETE FROM rm_engagement_orgs
            WHERE org_id = ANY(OLD.org_ids) AND start = OLD.start AND engagement_id = OLD.id;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.start IS NOT NULL THEN
            INSERT INTO rm_engagement_orgs (org_id, start, engagement_id)
            SELECT DISTINCT o, NEW.start, NEW.id FROM unnest(NEW.org_ids) AS o
            WHERE o IS NOT NULL
            ON CONFLICT DO NOTHING;
          END IF;
          RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER rm_engagement_orgs_written AFTER INSERT OR DELETE ON rm_engagements "
        "FOR EACH ROW EXECUTE FUNCTION rm_engagement_orgs_sync()"
    )
    op.execute(
        "CREATE TRIGGER rm_engagement_orgs_moved AFTER UPDATE OF org_ids, start "
        "ON rm_engagements FOR EACH ROW WHEN (OLD.org_ids IS DISTINCT FROM NEW.org_ids "
        "OR OLD.start IS DISTINCT FROM NEW.start) EXECUTE FUNCTION rm_engagement_orgs_sync()"
    )
    op.execute(
        "INSERT INTO rm_engagement_orgs (org_id, start, engagement_id) "
        "SELECT DISTINCT o, e.start, e.id FROM rm_engagements e, unnest(e.org_ids) AS o "
        "WHERE e.start IS NOT NULL AND o IS NOT NULL"
    )
    for index in PROBED_GIN_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")


def downgrade() -> None:
    for index in PROBED_GIN_INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
    op.execute("DROP TRIGGER IF EXISTS rm_engagement_orgs_moved ON rm_engagements")
    op.execute("DROP TRIGGER IF EXISTS rm_engagement_orgs_written ON rm_engagements")
    op.execute("DROP FUNCTION IF EXISTS rm_engagement_orgs_sync()")
    op.execute("DROP TABLE IF EXISTS rm_engagement_orgs")
