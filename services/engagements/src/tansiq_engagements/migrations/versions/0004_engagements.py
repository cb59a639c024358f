"""Engagements, the log of ingested messages, and the agreements replica.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    # Installed in template1 by the platform; this only makes sure, where we are allowed to.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE TABLE engagements (
        id uuid NOT NULL,
        kind text NOT NULL,
        title jsonb NOT NULL,
        start timestamptz NOT NULL,
        "end" timestamptz,
        location jsonb NOT NULL,
        lead_org_id text NOT NULL,
        lead_ministry_id text,
        lead_country text,
        participants jsonb NOT NULL,
        attendees jsonb NOT NULL,
        agreement_ids text[] NOT NULL,
        related_engagement_ids text[] NOT NULL,
        themes jsonb NOT NULL,
        channel text NOT NULL,
        coordinating_body_notified_at timestamptz,
        status text NOT NULL,
        visibility text NOT NULL,
        report_due_on date,
        outcome text,
        report jsonb,
        action_items jsonb NOT NULL,
        countries text[] NOT NULL,
        source text NOT NULL,
        external_id text,
        party_org_ids text[] NOT NULL,
        search_text text NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT pk_engagements PRIMARY KEY (id),
        CONSTRAINT uq_engagements_source_external_id UNIQUE (source, external_id),
        CONSTRAINT ck_engagements_status
            CHECK (status IN ('planned', 'held', 'cancelled', 'reported')),
        CONSTRAINT ck_engagements_visibility CHECK (visibility IN ('interagency', 'restricted')),
        CONSTRAINT ck_engagements_channel
            CHECK (channel IN ('via_coordinating_body', 'direct', 'unknown')),
        CONSTRAINT ck_engagements_end_after_start CHECK ("end" IS NULL OR "end" >= start)
    )
    """,
    "CREATE INDEX ix_engagements_list ON engagements (created_at, id)",
    "CREATE INDEX ix_engagements_start ON engagements (start)",
    "CREATE INDEX ix_engagements_lead_org_id ON engagements (lead_org_id)",
    "CREATE INDEX ix_engagements_lead_ministry_id ON engagements (lead_ministry_id)",
    "CREATE INDEX ix_engagements_party_org_ids ON engagements USING gin (party_org_ids)",
    "CREATE INDEX ix_engagements_countries ON engagements USING gin (countries)",
    "CREATE INDEX ix_engagements_agreement_ids ON engagements USING gin (agreement_ids)",
    "CREATE INDEX ix_engagements_search_text ON engagements USING gin (search_text gin_trgm_ops)",
    """
    CREATE TABLE ingested_messages (
        event_id text NOT NULL,
        source text NOT NULL,
        external_id text NOT NULL,
        engagement_id uuid NOT NULL,
        outcome text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT pk_ingested_messages PRIMARY KEY (event_id)
    )
    """,
    """
    CREATE TABLE agreement_directory (
        id text NOT NULL,
        kind text,
        status text,
        owner_org_id text,
        party_org_ids text[] NOT NULL DEFAULT '{}',
        visibility text,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_agreement_directory PRIMARY KEY (id)
    )
    """,
]

DOWNGRADE = [
    "DROP TABLE agreement_directory",
    "DROP TABLE ingested_messages",
    "DROP TABLE engagements",
    # pg_trgm stays: other database objects or the platform may rely on it.
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
