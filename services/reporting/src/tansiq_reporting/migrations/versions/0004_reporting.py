"""Reporting's replicas and counters, findings and their ledger, indicators.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = """
    counted_country text,
    counted_ministry_id text,
    counted_month text,
    counted_rules integer NOT NULL DEFAULT 0,
    counted_partners text[] NOT NULL DEFAULT '{}',
    counted_contact timestamptz,
    countries text[] NOT NULL DEFAULT '{}',
    coordinated boolean NOT NULL DEFAULT false,
    recheck_at timestamptz,
    applied_at timestamptz NOT NULL DEFAULT now()
"""

UPGRADE = [
    """
    CREATE TABLE rm_organizations (
        id text NOT NULL,
        version integer NOT NULL,
        kind text NOT NULL,
        scope text,
        country text,
        parent_id text,
        status text NOT NULL,
        designations text[] NOT NULL DEFAULT '{}',
        name_ar text,
        name_en text,
        acronym text,
        ministry_id text,
        coordinating boolean NOT NULL DEFAULT false,
        applied_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_rm_organizations PRIMARY KEY (id)
    )
    """,
    "CREATE INDEX ix_rm_organizations_parent_id ON rm_organizations (parent_id)",
    "CREATE INDEX ix_rm_organizations_ministry_id ON rm_organizations (ministry_id)",
    f"""
    CREATE TABLE rm_agreements (
        id text NOT NULL,
        version integer NOT NULL,
        kind text,
        status text,
        title_ar text,
        title_en text,
        owner_org_id text,
        party_org_ids text[] NOT NULL DEFAULT '{{}}',
        org_ids text[] NOT NULL DEFAULT '{{}}',
        sdgs integer[] NOT NULL DEFAULT '{{}}',
        sectors text[] NOT NULL DEFAULT '{{}}',
        priorities text[] NOT NULL DEFAULT '{{}}',
        signed_on date,
        effective_from date,
        expires_on date,
        cleared boolean NOT NULL DEFAULT false,
        supersedes text,
        visibility text NOT NULL,
        created_at timestamptz,
        updated_at timestamptz,
        {COUNTED},
        CONSTRAINT pk_rm_agreements PRIMARY KEY (id)
    )
    """,
    "CREATE INDEX ix_rm_agreements_org_ids ON rm_agreements USING gin (org_ids)",
    "CREATE INDEX ix_rm_agreements_supersedes ON rm_agreements (supersedes)",
    "CREATE INDEX ix_rm_agreements_recheck_at ON rm_agreements (recheck_at) "
    "WHERE recheck_at IS NOT NULL",
    "CREATE INDEX ix_rm_agreements_counted ON rm_agreements (counted_country, counted_ministry_id)",
    f"""
    CREATE TABLE rm_engagements (
        id text NOT NULL,
        version integer NOT NULL,
        kind text,
        status text,
        title_ar text,
        title_en text,
        start timestamptz,
        "end" timestamptz,
        lead_org_id text,
        participant_org_ids text[] NOT NULL DEFAULT '{{}}',
        org_ids text[] NOT NULL DEFAULT '{{}}',
        attendees_total integer NOT NULL DEFAULT 0,
        nationals integer NOT NULL DEFAULT 0,
        nationals_trained integer NOT NULL DEFAULT 0,
        agreement_ids text[] NOT NULL DEFAULT '{{}}',
        related_engagement_ids text[] NOT NULL DEFAULT '{{}}',
        sdgs integer[] NOT NULL DEFAULT '{{}}',
        sectors text[] NOT NULL DEFAULT '{{}}',
        priorities text[] NOT NULL DEFAULT '{{}}',
        channel text,
        coordinating_body_notified_at timestamptz,
        report_due_on date,
        report_submitted_at timestamptz,
        action_items jsonb NOT NULL DEFAULT '[]'::jsonb,
        visibility text NOT NULL,
        source text,
        external_id text,
        created_at timestamptz,
        updated_at timestamptz,
        {COUNTED},
        CONSTRAINT pk_rm_engagements PRIMARY KEY (id)
    )
    """,
    "CREATE INDEX ix_rm_engagements_org_ids ON rm_engagements USING gin (org_ids)",
    "CREATE INDEX ix_rm_engagements_agreement_ids ON rm_engagements USING gin (agreement_ids)",
    "CREATE INDEX ix_rm_engagements_start ON rm_engagements (start)",
    "CREATE INDEX ix_rm_engagements_recheck_at ON rm_engagements (recheck_at) "
    "WHERE recheck_at IS NOT NULL",
    "CREATE INDEX ix_rm_engagements_counted ON rm_engagements "
    "(counted_country, counted_ministry_id)",
    "CREATE INDEX ix_rm_engagements_counted_partners ON rm_engagements "
    "USING gin (counted_partners)",
    """
    CREATE TABLE scorecard_cells (
        country text NOT NULL,
        ministry_id text NOT NULL,
        month text NOT NULL,
        records integer NOT NULL DEFAULT 0,
        flagged integer NOT NULL DEFAULT 0,
        c1 integer NOT NULL DEFAULT 0,
        c2 integer NOT NULL DEFAULT 0,
        c3 integer NOT NULL DEFAULT 0,
        c4 integer NOT NULL DEFAULT 0,
        c5 integer NOT NULL DEFAULT 0,
        c6 integer NOT NULL DEFAULT 0,
        c7 integer NOT NULL DEFAULT 0,
        CONSTRAINT pk_scorecard_cells PRIMARY KEY (country, ministry_id, month)
    )
    """,
    """
    CREATE TABLE coverage_cells (
        country text NOT NULL,
        ministry_id text NOT NULL,
        partner_id text NOT NULL,
        engagements integer NOT NULL DEFAULT 0,
        agreements integer NOT NULL DEFAULT 0,
        last_contact timestamptz,
        CONSTRAINT pk_coverage_cells PRIMARY KEY (country, ministry_id, partner_id)
    )
    """,
    """
    CREATE TABLE topic_freshness (
        topic text NOT NULL,
        last_event_id text NOT NULL,
        last_event_type text NOT NULL,
        last_event_time timestamptz NOT NULL,
        last_applied_at timestamptz NOT NULL,
        events_applied bigint NOT NULL DEFAULT 0,
        CONSTRAINT pk_topic_freshness PRIMARY KEY (topic)
    )
    """,
    """
    CREATE TABLE findings (
        id text NOT NULL,
        rule text NOT NULL,
        status text NOT NULL,
        ministry_id text NOT NULL,
        country text,
        records jsonb NOT NULL,
        partner_ids text[] NOT NULL DEFAULT '{}',
        explanation jsonb NOT NULL,
        resolution jsonb NOT NULL,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        access jsonb NOT NULL,
        opened_at timestamptz NOT NULL,
        resolved_at timestamptz,
        acknowledgement jsonb,
        acceptance jsonb,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        anchor_type text NOT NULL,
        anchor_id text NOT NULL,
        record_ids text[] NOT NULL,
        visibility text NOT NULL,
        owner_ministry_id text,
        party_org_ids text[] NOT NULL DEFAULT '{}',
        countries text[] NOT NULL DEFAULT '{}',
        CONSTRAINT pk_findings PRIMARY KEY (id),
        CONSTRAINT ck_findings_status
            CHECK (status IN ('open', 'acknowledged', 'accepted', 'resolved'))
    )
    """,
    "CREATE INDEX ix_findings_anchor ON findings (anchor_id, anchor_type)",
    "CREATE INDEX ix_findings_record_ids ON findings USING gin (record_ids)",
    "CREATE INDEX ix_findings_partner_ids ON findings USING gin (partner_ids)",
    "CREATE INDEX ix_findings_country_page ON findings (country, opened_at, id)",
    "CREATE INDEX ix_findings_ministry_page ON findings (ministry_id, opened_at, id)",
    "CREATE INDEX ix_findings_page ON findings (opened_at, id)",
    """
    CREATE TABLE finding_ledger (
        id text NOT NULL,
        version integer NOT NULL,
        acknowledgement jsonb,
        acceptance jsonb,
        CONSTRAINT pk_finding_ledger PRIMARY KEY (id)
    )
    """,
    """
    CREATE TABLE indicators (
        id text NOT NULL,
        country text NOT NULL,
        name jsonb NOT NULL,
        metric text NOT NULL,
        filters jsonb NOT NULL,
        "window" text NOT NULL,
        baseline jsonb NOT NULL,
        target jsonb NOT NULL,
        direction text NOT NULL,
        status text NOT NULL,
        source_key text,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT pk_indicators PRIMARY KEY (id)
    )
    """,
    "CREATE UNIQUE INDEX uq_indicators_source_key ON indicators (source_key)",
    "CREATE INDEX ix_indicators_page ON indicators (created_at, id)",
]

TABLES = (
    "indicators",
    "finding_ledger",
    "findings",
    "topic_freshness",
    "coverage_cells",
    "scorecard_cells",
    "rm_engagements",
    "rm_agreements",
    "rm_organizations",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
