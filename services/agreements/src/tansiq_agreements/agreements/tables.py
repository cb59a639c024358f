"""The agreements tables. Core tables: the repository maps rows to the model.

Columns are named as the aggregate's fields (nested values and lists in JSONB, sets in arrays),
plus derived columns for queries: `search_text` (bilingual search), `party_org_ids` (owner and
parties, for the party filter and the visibility rule).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from tansiq_agreements.database import Base

metadata = Base.metadata

agreements = sa.Table(
    "agreements",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", JSONB, nullable=False),
    sa.Column("summary", JSONB, nullable=False),
    sa.Column("owner_org_id", sa.Text, nullable=False),
    sa.Column("owner_ministry_id", sa.Text, nullable=True),
    sa.Column("owner_country", sa.Text, nullable=True),
    sa.Column("parties", JSONB, nullable=False),
    sa.Column("themes", JSONB, nullable=False),
    sa.Column("signed_on", sa.Date, nullable=True),
    sa.Column("effective_from", sa.Date, nullable=True),
    sa.Column("expires_on", sa.Date, nullable=True),
    sa.Column("funding", JSONB, nullable=False),
    sa.Column("milestones", JSONB, nullable=False),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("clearance", JSONB, nullable=True),
    sa.Column("cleared", sa.Boolean, nullable=False),
    sa.Column("signed_uncleared", sa.Boolean, nullable=False),
    sa.Column("supersedes", UUID(as_uuid=False), nullable=True),
    sa.Column("superseded_by", UUID(as_uuid=False), nullable=True),
    sa.Column("termination", JSONB, nullable=True),
    sa.Column("countries", ARRAY(sa.Text), nullable=False),
    # The key of a demo agreement (`demo:...`): seeding twice finds it again.
    sa.Column("source_key", sa.Text, nullable=True),
    # Derived: the owner and every party (party filter, visibility).
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False),
    # Derived: titles and summaries normalised for bilingual search (tansiq_common.search).
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "status IN ('draft', 'submitted', 'returned', 'cleared', 'signed', 'in_force', "
        "'expired', 'terminated')",
        name="status",
    ),
    sa.CheckConstraint("visibility IN ('interagency', 'restricted')", name="visibility"),
    sa.CheckConstraint(
        "expires_on IS NULL OR effective_from IS NULL OR expires_on >= effective_from",
        name="dates",
    ),
)
sa.Index("uq_agreements_source_key", agreements.c.source_key, unique=True)
# A predecessor is renewed once: two concurrent renewals cannot both win.
sa.Index("uq_agreements_supersedes", agreements.c.supersedes, unique=True)
sa.Index("ix_agreements_list", agreements.c.created_at, agreements.c.id)
sa.Index("ix_agreements_owner_org_id", agreements.c.owner_org_id)
sa.Index("ix_agreements_owner_ministry_id", agreements.c.owner_ministry_id)
sa.Index("ix_agreements_status", agreements.c.status)
sa.Index("ix_agreements_expires_on", agreements.c.expires_on)
sa.Index("ix_agreements_signed_on", agreements.c.signed_on)
sa.Index("ix_agreements_party_org_ids", agreements.c.party_org_ids, postgresql_using="gin")
sa.Index("ix_agreements_countries", agreements.c.countries, postgresql_using="gin")
sa.Index(
    "ix_agreements_themes",
    agreements.c.themes,
    postgresql_using="gin",
    postgresql_ops={"themes": "jsonb_path_ops"},
)
sa.Index(
    "ix_agreements_search_text",
    agreements.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)

# Every version of every agreement: who changed it, when, by which transition or which fields.
# Written in the same transaction as the change (the unit of work), never updated.
agreement_history = sa.Table(
    "agreement_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("agreement_id", UUID(as_uuid=False), sa.ForeignKey("agreements.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("changed_fields", ARRAY(sa.Text), nullable=False),
    # What the transition was given: conditions, comments, reason, dates, the successor.
    sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("actor_sub", sa.Text, nullable=False),
    sa.Column("actor_org", sa.Text, nullable=True),
    sa.Column("request_id", sa.Text, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index(
    "uq_agreement_history_version",
    agreement_history.c.agreement_id,
    agreement_history.c.version,
    unique=True,
)
