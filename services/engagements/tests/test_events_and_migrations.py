"""The events engagements publish (what reporting reads) and the migrations."""

from __future__ import annotations

import asyncio

import asyncpg
from tansiq_common import migrations
from tansiq_common.events.contracts import CONTRACTS
from tansiq_common.testing import databases
from tansiq_engagements import MIGRATIONS_DIR
from tansiq_engagements.engagements.schemas import EngagementOut
from tansiq_engagements.events import EVENTS

from .conftest import plain_url
from .test_model import create

REPORTING_NEEDS = {
    "id", "version", "kind", "title", "start", "end", "lead_org_id", "lead_ministry_id",
    "lead_country", "participants", "attendees", "agreement_ids", "related_engagement_ids",
    "themes", "channel", "coordinating_body_notified_at", "status", "visibility",
    "report_due_on", "report", "action_items", "countries", "source", "external_id",
}  # fmt: skip


def test_the_catalogue_names_every_event_the_aggregate_records():
    outbound = [e.type for e in EVENTS if e.topic == "engagements.engagement.v1"]
    assert outbound == [
        f"tansiq.engagements.engagement.{name}.v1"
        for name in (
            "created", "updated", "held", "cancelled", "replanned", "reported",
            "report_revised", "action_item_added", "action_item_updated",
        )
    ]  # fmt: skip
    inbound = [(e.type, e.model.__name__) for e in EVENTS if e.topic == "engagements.ingest.v1"]
    assert inbound == [("tansiq.integration.engagement.v1", "EngagementIngestItem")]
    for doc in EVENTS:
        assert doc.type in CONTRACTS[doc.topic].event_types


def test_the_payload_is_the_full_state_reporting_reads():
    engagement = create()
    engagement.submit_report(text="r", attachments=[], by="u", by_org="lead", now=engagement.start)
    payload = engagement.events[-1].state
    assert set(payload) == set(EngagementOut.model_fields)
    assert set(payload) >= REPORTING_NEEDS
    assert EngagementOut.model_validate(payload).model_dump(mode="json").keys() == payload.keys()
    assert payload["report"]["submitted_at"] == engagement.start.isoformat()


async def test_upgrade_head_and_downgrade_base(pg_admin_url, run_id):
    name = f"t_{run_id}_engagements_migrations"
    url = await databases.create_database(pg_admin_url, name, MIGRATIONS_DIR)

    async def tables() -> set[str]:
        conn = await asyncpg.connect(plain_url(url))
        try:
            rows = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
            return {r["tablename"] for r in rows}
        finally:
            await conn.close()

    try:
        assert {
            "engagements",
            "ingested_messages",
            "agreement_directory",
            "outbox",
        } <= await tables()
        await asyncio.to_thread(migrations.downgrade, MIGRATIONS_DIR, url, "base")
        assert await tables() <= {"alembic_version"}
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS_DIR, url, "head")
        assert "engagements" in await tables()
    finally:
        await databases.drop_database(pg_admin_url, name)
