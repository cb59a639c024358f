"""Organizations, their moves and contacts; trigram search over normalised text.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    # Installed in template1 by the platform; this only makes sure, where we are allowed to.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE TABLE organizations (
        id uuid NOT NULL,
        kind text NOT NULL,
        name_ar text,
        name_en text,
        acronym text,
        country char(2),
        parent_id uuid,
        ministry_id uuid,
        scope text NOT NULL,
        iati_identifier text,
        iati_org_type smallint NOT NULL,
        website text,
        reporting_lines jsonb NOT NULL DEFAULT '[]'::jsonb,
        designations text[] NOT NULL DEFAULT '{}',
        status text NOT NULL,
        source_key text,
        search_text text NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT pk_organizations PRIMARY KEY (id),
        CONSTRAINT fk_organizations_parent_id_organizations
            FOREIGN KEY (parent_id) REFERENCES organizations (id),
        CONSTRAINT ck_organizations_has_name CHECK (name_ar IS NOT NULL OR name_en IS NOT NULL),
        CONSTRAINT ck_organizations_status CHECK (status IN ('active', 'archived')),
        CONSTRAINT ck_organizations_scope CHECK (scope IN ('national', 'international'))
    )
    """,
    "CREATE UNIQUE INDEX uq_organizations_iati_identifier ON organizations (iati_identifier)",
    "CREATE UNIQUE INDEX uq_organizations_source_key ON organizations (source_key)",
    "CREATE INDEX ix_organizations_parent_id ON organizations (parent_id)",
    "CREATE INDEX ix_organizations_ministry_id ON organizations (ministry_id)",
    "CREATE INDEX ix_organizations_list ON organizations (status, created_at, id)",
    "CREATE INDEX ix_organizations_country ON organizations (country)",
    "CREATE INDEX ix_organizations_kind ON organizations (kind)",
    "CREATE INDEX ix_organizations_designations ON organizations USING gin (designations)",
    "CREATE INDEX ix_organizations_search_text ON organizations "
    "USING gin (search_text gin_trgm_ops)",
    """
    CREATE TABLE organization_moves (
        id bigint GENERATED ALWAYS AS IDENTITY,
        org_id uuid NOT NULL,
        from_parent_id uuid,
        to_parent_id uuid,
        moved_at timestamptz NOT NULL,
        moved_by text NOT NULL,
        version integer NOT NULL,
        CONSTRAINT pk_organization_moves PRIMARY KEY (id),
        CONSTRAINT fk_organization_moves_org_id_organizations
            FOREIGN KEY (org_id) REFERENCES organizations (id)
    )
    """,
    "CREATE INDEX ix_organization_moves_org_id ON organization_moves (org_id)",
    """
    CREATE TABLE organization_contacts (
        id uuid NOT NULL,
        org_id uuid NOT NULL,
        name text NOT NULL,
        title text,
        email text,
        phone text,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT pk_organization_contacts PRIMARY KEY (id),
        CONSTRAINT fk_organization_contacts_org_id_organizations
            FOREIGN KEY (org_id) REFERENCES organizations (id)
    )
    """,
    "CREATE INDEX ix_organization_contacts_org_id ON organization_contacts (org_id)",
]

DOWNGRADE = [
    "DROP TABLE organization_contacts",
    "DROP TABLE organization_moves",
    "DROP TABLE organizations",
    # pg_trgm stays: other database objects or the platform may rely on it.
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
