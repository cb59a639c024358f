"""Reporting's replicas of the other domains' records, and the counters its views read.

The replicas hold what the rules, views and indicators use, one column per field. Each record
also keeps what it currently contributes to the scorecard and coverage counters (`counted_*`),
so a change moves exactly that contribution from the old cells to the new ones: the views read
a few thousand counter rows, never the million records (docs/architecture.md, Reporting).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tansiq_reporting.database import Base

metadata = Base.metadata


def _counted() -> list[sa.Column[object]]:
    """What the record contributes to the counters now (all null: nothing)."""
    return [
        sa.Column("counted_country", sa.Text, nullable=True),
        sa.Column("counted_ministry_id", sa.Text, nullable=True),
        sa.Column("counted_month", sa.Text, nullable=True),  # YYYY-MM of the record's date
        sa.Column("counted_rules", sa.Integer, nullable=False, server_default="0"),  # bit per rule
        sa.Column("counted_partners", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("counted_contact", sa.DateTime(timezone=True), nullable=True),
        # The countries of its owner and parties (the visibility filter's country boundary), and
        # whether it went through a coordinating body (coordinated_engagement_share).
        sa.Column("countries", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("coordinated", sa.Boolean, nullable=False, server_default=sa.false()),
        # When the time-triggered rules could next change their answer for this record.
        sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=True),
        # An event changed the record (or one it depends on): evaluate it.
        sa.Column("due", sa.Boolean, nullable=False, server_default=sa.false()),
        # How many times it was marked due: the evaluator clears the mark only if none came
        # since it read the record.
        sa.Column("marks", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


rm_organizations = sa.Table(
    "rm_organizations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=True),
    sa.Column("country", sa.Text, nullable=True),
    sa.Column("parent_id", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("designations", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("name_ar", sa.Text, nullable=True),
    sa.Column("name_en", sa.Text, nullable=True),
    sa.Column("acronym", sa.Text, nullable=True),
    # Derived here from the replicated hierarchy (the registry's own value may lag a move).
    sa.Column("ministry_id", sa.Text, nullable=True),
    sa.Column("coordinating", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
sa.Index("ix_rm_organizations_parent_id", rm_organizations.c.parent_id)
sa.Index("ix_rm_organizations_ministry_id", rm_organizations.c.ministry_id)

rm_agreements = sa.Table(
    "rm_agreements",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("title_ar", sa.Text, nullable=True),
    sa.Column("title_en", sa.Text, nullable=True),
    sa.Column("owner_org_id", sa.Text, nullable=True),
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("org_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),  # owner + parties
    sa.Column("sdgs", ARRAY(sa.Integer), nullable=False, server_default="{}"),
    sa.Column("sectors", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("priorities", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("signed_on", sa.Date, nullable=True),
    sa.Column("effective_from", sa.Date, nullable=True),
    sa.Column("expires_on", sa.Date, nullable=True),
    sa.Column("cleared", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("supersedes", sa.Text, nullable=True),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    *_counted(),
)
sa.Index("ix_rm_agreements_org_ids", rm_agreements.c.org_ids, postgresql_using="gin")
sa.Index("ix_rm_agreements_supersedes", rm_agreements.c.supersedes)
sa.Index("ix_rm_agreements_due", rm_agreements.c.id, postgresql_where=rm_agreements.c.due)
sa.Index(
    "ix_rm_agreements_recheck_at",
    rm_agreements.c.recheck_at,
    postgresql_where=rm_agreements.c.recheck_at.isnot(None),
)
sa.Index(
    "ix_rm_agreements_counted",
    rm_agreements.c.counted_country,
    rm_agreements.c.counted_ministry_id,
)

rm_engagements = sa.Table(
    "rm_engagements",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("title_ar", sa.Text, nullable=True),
    sa.Column("title_en", sa.Text, nullable=True),
    sa.Column("start", sa.DateTime(timezone=True), nullable=True),
    sa.Column("end", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lead_org_id", sa.Text, nullable=True),
    sa.Column("participant_org_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("org_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),  # lead + rest
    sa.Column("attendees_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("nationals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("nationals_trained", sa.Integer, nullable=False, server_default="0"),
    sa.Column("agreement_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("related_engagement_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("sdgs", ARRAY(sa.Integer), nullable=False, server_default="{}"),
    sa.Column("sectors", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("priorities", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("channel", sa.Text, nullable=True),
    sa.Column("coordinating_body_notified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("report_due_on", sa.Date, nullable=True),
    sa.Column("report_submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("action_items", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("external_id", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    *_counted(),
)
sa.Index("ix_rm_engagements_org_ids", rm_engagements.c.org_ids, postgresql_using="gin")
sa.Index("ix_rm_engagements_agreement_ids", rm_engagements.c.agreement_ids, postgresql_using="gin")
sa.Index("ix_rm_engagements_start", rm_engagements.c.start)
sa.Index("ix_rm_engagements_due", rm_engagements.c.id, postgresql_where=rm_engagements.c.due)
sa.Index(
    "ix_rm_engagements_recheck_at",
    rm_engagements.c.recheck_at,
    postgresql_where=rm_engagements.c.recheck_at.isnot(None),
)
sa.Index(
    "ix_rm_engagements_counted",
    rm_engagements.c.counted_country,
    rm_engagements.c.counted_ministry_id,
)
# Every (organization, start) an engagement names, kept by a trigger on rm_engagements
# (migration 0009): rule C3's neighbourhoods by partner and time window, one index range each.
rm_engagement_orgs = sa.Table(
    "rm_engagement_orgs",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("start", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("engagement_id", sa.Text, primary_key=True),
)

sa.Index(
    "ix_rm_engagements_counted_partners",
    rm_engagements.c.counted_partners,
    postgresql_using="gin",
)

# Per ministry and month of the records' dates: how many records, how many with a finding that
# counts (open or acknowledged), and how many such findings per rule.
scorecard_cells = sa.Table(
    "scorecard_cells",
    metadata,
    sa.Column("country", sa.Text, primary_key=True),  # "" when unknown
    sa.Column("ministry_id", sa.Text, primary_key=True),
    sa.Column("month", sa.Text, primary_key=True),  # YYYY-MM, "" when the record has no date
    sa.Column("records", sa.Integer, nullable=False, server_default="0"),
    sa.Column("flagged", sa.Integer, nullable=False, server_default="0"),
    *(sa.Column(f"c{n}", sa.Integer, nullable=False, server_default="0") for n in range(1, 8)),
)

# The same per ministry, all months together: a scorecards page reads its rows and no more.
scorecard_totals = sa.Table(
    "scorecard_totals",
    metadata,
    sa.Column("country", sa.Text, primary_key=True),
    sa.Column("ministry_id", sa.Text, primary_key=True),
    sa.Column("records", sa.Integer, nullable=False, server_default="0"),
    sa.Column("flagged", sa.Integer, nullable=False, server_default="0"),
    *(sa.Column(f"c{n}", sa.Integer, nullable=False, server_default="0") for n in range(1, 8)),
)

# Ministry × international partner.
coverage_cells = sa.Table(
    "coverage_cells",
    metadata,
    sa.Column("country", sa.Text, primary_key=True),
    sa.Column("ministry_id", sa.Text, primary_key=True),
    sa.Column("partner_id", sa.Text, primary_key=True),
    sa.Column("engagements", sa.Integer, nullable=False, server_default="0"),
    sa.Column("agreements", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_contact", sa.DateTime(timezone=True), nullable=True),
)

# The last event applied per topic (freshness).
topic_freshness = sa.Table(
    "topic_freshness",
    metadata,
    sa.Column("topic", sa.Text, primary_key=True),  # logical, without TOPIC_PREFIX
    sa.Column("last_event_id", sa.Text, nullable=False),
    sa.Column("last_event_type", sa.Text, nullable=False),
    sa.Column("last_event_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("events_applied", sa.BigInteger, nullable=False, server_default="0"),
)

# One row: whether a rebuild from the topics is under way (`tansiq_reporting.rebuild`). While it
# is, events only fill the replicas and mark their records due; nothing is evaluated until the
# replicas are whole again, so no finding flickers on a half-rebuilt picture.
rebuild_state = sa.Table(
    "rebuild_state",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True),
    sa.Column("rebuilding", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)

READ_MODEL_TABLES = (
    rm_organizations,
    rm_agreements,
    rm_engagements,
    scorecard_cells,
    scorecard_totals,
    coverage_cells,
    topic_freshness,
)
