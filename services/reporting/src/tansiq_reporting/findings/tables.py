"""Findings. A rebuild from the topics re-evaluates them rather than emptying them: the
coordinators' decisions on them come from no topic, and a finding the rebuild finds unchanged
keeps its row as it was (same version, same times, no event)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tansiq_reporting.database import Base

metadata = Base.metadata

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # uuid5 of rule and anchor record
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("ministry_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=True),
    sa.Column("records", JSONB, nullable=False),
    sa.Column("partner_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("explanation", JSONB, nullable=False),
    sa.Column("resolution", JSONB, nullable=False),
    sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("access", JSONB, nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("acknowledgement", JSONB, nullable=True),
    sa.Column("acceptance", JSONB, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Derived for queries: the anchor, every record named, and the visibility filter's columns.
    sa.Column("anchor_type", sa.Text, nullable=False),
    sa.Column("anchor_id", sa.Text, nullable=False),
    sa.Column("record_ids", ARRAY(sa.Text), nullable=False),
    # The records named besides the anchor (C3's other engagements; empty for other rules).
    sa.Column("other_record_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("owner_ministry_id", sa.Text, nullable=True),
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("countries", ARRAY(sa.Text), nullable=False, server_default="{}"),
)
sa.Index("ix_findings_anchor", findings.c.anchor_id, findings.c.anchor_type)
sa.Index("ix_findings_record_ids", findings.c.record_ids, postgresql_using="gin")
sa.Index("ix_findings_partner_ids", findings.c.partner_ids, postgresql_using="gin")
# Small: only the findings that name other records and hold.
sa.Index(
    "ix_findings_other_record_ids",
    findings.c.other_record_ids,
    postgresql_using="gin",
    postgresql_where=sa.and_(
        findings.c.other_record_ids != sa.text("'{}'"), findings.c.status != "resolved"
    ),
)
# The list's keyset order within a country (the coordinator's boundary), and by ministry.
sa.Index("ix_findings_country_page", findings.c.country, findings.c.opened_at, findings.c.id)
sa.Index("ix_findings_ministry_page", findings.c.ministry_id, findings.c.opened_at, findings.c.id)
sa.Index("ix_findings_page", findings.c.opened_at, findings.c.id)
