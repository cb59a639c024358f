"""The engagements tables. Core tables (not ORM classes): the repository maps rows to the model.

Columns are named as the aggregate's fields; `party_org_ids` and `search_text` are derived for
queries (the visibility filter, bilingual search).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from tansiq_engagements.database import Base

metadata = Base.metadata

engagements = sa.Table(
    "engagements",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", JSONB, nullable=False),
    sa.Column("start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("end", sa.DateTime(timezone=True), nullable=True),
    sa.Column("location", JSONB, nullable=False),
    sa.Column("lead_org_id", sa.Text, nullable=False),
    sa.Column("lead_ministry_id", sa.Text, nullable=True),
    sa.Column("lead_country", sa.Text, nullable=True),
    sa.Column("participants", JSONB, nullable=False),
    sa.Column("attendees", JSONB, nullable=False),
    sa.Column("agreement_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("related_engagement_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("themes", JSONB, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("coordinating_body_notified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("report_due_on", sa.Date, nullable=True),
    sa.Column("outcome", sa.Text, nullable=True),
    # none_as_null: an engagement without a report has SQL NULL, not JSON null.
    sa.Column("report", JSONB(none_as_null=True), nullable=True),
    sa.Column("action_items", JSONB, nullable=False),
    sa.Column("countries", ARRAY(sa.Text), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=True),
    # Derived: the lead and the participants (restricted records are visible to them).
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False),
    # Normalised titles, outcome and report (tansiq_common.search); trigram-indexed.
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # NULL external ids are distinct: manual records never collide.
    sa.UniqueConstraint("source", "external_id", name="uq_engagements_source_external_id"),
    sa.CheckConstraint("status IN ('planned', 'held', 'cancelled', 'reported')", name="status"),
    sa.CheckConstraint("visibility IN ('interagency', 'restricted')", name="visibility"),
    sa.CheckConstraint("channel IN ('via_coordinating_body', 'direct', 'unknown')", name="channel"),
    sa.CheckConstraint('"end" IS NULL OR "end" >= start', name="end_after_start"),
)
sa.Index("ix_engagements_list", engagements.c.created_at, engagements.c.id)
sa.Index("ix_engagements_start", engagements.c.start)
sa.Index("ix_engagements_lead_org_id", engagements.c.lead_org_id)
sa.Index("ix_engagements_lead_ministry_id", engagements.c.lead_ministry_id)
sa.Index("ix_engagements_party_org_ids", engagements.c.party_org_ids, postgresql_using="gin")
sa.Index("ix_engagements_countries", engagements.c.countries, postgresql_using="gin")
sa.Index("ix_engagements_agreement_ids", engagements.c.agreement_ids, postgresql_using="gin")
sa.Index(
    "ix_engagements_search_text",
    engagements.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)

# Every message of engagements.ingest.v1 applied, by its ce_id: a replay of the topic (which
# forgets the consumer's processed events) still finds each message here and changes nothing.
ingested_messages = sa.Table(
    "ingested_messages",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("engagement_id", UUID(as_uuid=False), nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    # clock_timestamp(): messages applied in one transaction keep their order.
    sa.Column(
        "received_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.text("clock_timestamp()"),
    ),
)
