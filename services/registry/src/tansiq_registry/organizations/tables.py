"""The registry's tables. Core tables (not ORM classes): the repository maps rows to the model."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from tansiq_registry.database import Base

metadata = Base.metadata

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name_ar", sa.Text, nullable=True),
    sa.Column("name_en", sa.Text, nullable=True),
    sa.Column("acronym", sa.Text, nullable=True),
    sa.Column("country", sa.CHAR(2), nullable=True),
    sa.Column("parent_id", UUID(as_uuid=False), sa.ForeignKey("organizations.id"), nullable=True),
    sa.Column("ministry_id", UUID(as_uuid=False), nullable=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("iati_identifier", sa.Text, nullable=True),
    sa.Column("iati_org_type", sa.SmallInteger, nullable=False),
    sa.Column("website", sa.Text, nullable=True),
    sa.Column("reporting_lines", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("designations", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("status", sa.Text, nullable=False),
    # The key of the organization in the directory it was imported from (or the demo data).
    sa.Column("source_key", sa.Text, nullable=True),
    # Normalised names, acronym and identifiers (normalize.search_text); trigram-indexed.
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("name_ar IS NOT NULL OR name_en IS NOT NULL", name="has_name"),
    sa.CheckConstraint("status IN ('active', 'archived')", name="status"),
    sa.CheckConstraint("scope IN ('national', 'international')", name="scope"),
)
sa.Index("uq_organizations_iati_identifier", organizations.c.iati_identifier, unique=True)
sa.Index("uq_organizations_source_key", organizations.c.source_key, unique=True)
sa.Index("ix_organizations_parent_id", organizations.c.parent_id)
sa.Index("ix_organizations_ministry_id", organizations.c.ministry_id)
sa.Index(
    "ix_organizations_list", organizations.c.status, organizations.c.created_at, organizations.c.id
)
sa.Index("ix_organizations_country", organizations.c.country)
sa.Index("ix_organizations_kind", organizations.c.kind)
sa.Index("ix_organizations_designations", organizations.c.designations, postgresql_using="gin")
sa.Index(
    "ix_organizations_search_text",
    organizations.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)

# Every change of parent, for the history of the hierarchy.
organization_moves = sa.Table(
    "organization_moves",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=False), sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("from_parent_id", UUID(as_uuid=False), nullable=True),
    sa.Column("to_parent_id", UUID(as_uuid=False), nullable=True),
    sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("moved_by", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
sa.Index("ix_organization_moves_org_id", organization_moves.c.org_id)

# Focal points: personal data. Never copied into events, audit rows or logs.
contacts = sa.Table(
    "organization_contacts",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=False), sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("phone", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_organization_contacts_org_id", contacts.c.org_id)
