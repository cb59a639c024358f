"""Agreements and their history; trigram search over normalised titles and summaries.

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
    CREATE TABLE agreements (
        id uuid NOT NULL,
        kind text NOT NULL,
        title jsonb NOT NULL,
        summary jsonb NOT NULL,
        owner_org_id text NOT NULL,
        owner_ministry_id text,
        owner_country text,
        parties jsonb NOT NULL,
        themes jsonb NOT NULL,
        signed_on date,
        effective_from date,
        expires_on date,
        funding jsonb NOT NULL,
        milestones jsonb NOT NULL,
        visibility text NOT NULL,
        status text NOT NULL,
        clearance jsonb,
        cleared boolean NOT NULL,
        signed_uncleared boolean NOT NULL,
        supersedes uuid,
        superseded_by uuid,
        termination jsonb,
        countries text[] NOT NULL,
        source_key text,
        party_org_ids text[] NOT NULL,
        search_text text NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT pk_agreements PRIMARY KEY (id),
        CONSTRAINT ck_agreements_status CHECK (status IN ('draft', 'submitted', 'returned',
            'cleared', 'signed', 'in_force', 'expired', 'terminated')),
        CONSTRAINT ck_agreements_visibility CHECK (visibility IN ('interagency', 'restricted')),
        CONSTRAINT ck_agreements_dates CHECK (
            expires_on IS NULL OR effective_from IS NULL OR expires_on >= effective_from)
    )
    """,
    "CREATE UNIQUE INDEX uq_agreements_source_key ON agreements (source_key)",
    "CREATE UNIQUE INDEX uq_agreements_supersedes ON agreements (supersedes)",
    "CREATE INDEX ix_agreements_list ON agreements (created_at, id)",
    "CREATE INDEX ix_agreements_owner_org_id ON agreements (owner_org_id)",
    "CREATE INDEX ix_agreements_owner_ministry_id ON agreements (owner_ministry_id)",
    "CREATE INDEX ix_agreements_status ON agreements (status)",
    "CREATE INDEX ix_agreements_expires_on ON agreements (expires_on)",
    "CREATE INDEX ix_agreements_signed_on ON agreements (signed_on)",
    "CREATE INDEX ix_agreements_party_org_ids ON agreements USING gin (party_org_ids)",
    "CREATE INDEX ix_agreements_countries ON agreements USING gin (countries)",
    "CREATE INDEX ix_agreements_themes ON agreements USING gin (themes jsonb_path_ops)",
    "CREATE INDEX ix_agreements_search_text ON agreements USING gin (search_text gin_trgm_ops)",
    """
    CREATE TABLE agreement_history (
        id bigint GENERATED ALWAYS AS IDENTITY,
        agreement_id uuid NOT NULL,
        version integer NOT NULL,
        event text NOT NULL,
        changed_fields text[] NOT NULL,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        actor_sub text NOT NULL,
        actor_org text,
        request_id text,
        at timestamptz NOT NULL,
        CONSTRAINT pk_agreement_history PRIMARY KEY (id),
        CONSTRAINT fk_agreement_history_agreement_id_agreements
            FOREIGN KEY (agreement_id) REFERENCES agreements (id)
    )
    """,
    "CREATE UNIQUE INDEX uq_agreement_history_version ON agreement_history (agreement_id, version)",
]

DOWNGRADE = [
    "DROP TABLE agreement_history",
    "DROP TABLE agreements",
    # pg_trgm stays: other database objects or the platform may rely on it.
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
