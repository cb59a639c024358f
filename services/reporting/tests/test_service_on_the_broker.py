"""The service as it runs: its consumers read the other services' events from Kafka and its
evaluator, woken by the consumer's NOTIFY, opens the finding within moments; the API shows it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

from tansiq_common.events.topics import delete_topics, ensure_topics
from tansiq_common.testing.plugin import running_app
from tansiq_reporting.app import create_app
from tansiq_reporting.findings.rules import RecordRef, finding_id

from .test_kafka_and_rebuild import produce
from .world import World


async def test_an_event_on_the_broker_becomes_a_finding_the_api_shows(
    db, reporting_settings, kafka_bootstrap, topic_prefix, auth_headers
):
    prefix = f"{topic_prefix}svc{uuid.uuid4().hex[:4]}."
    await ensure_topics(kafka_bootstrap, prefix)
    settings = reporting_settings.model_copy(
        update={"topic_prefix": prefix, "run_consumers": True, "scheduled_pass_interval_s": 600}
    )
    world = World(db, now=datetime.now(UTC))
    world.hold = True
    icd = await world.org("ICD", kind="ministry", designations=("coordinating_body",))
    moe = await world.org("Ministry of Education")
    unesco = await world.org("UNESCO", kind="un_entity", country=None)
    signed = await world.agreement(moe, [unesco], status="signed", signed_on=date(2026, 1, 5))
    wanted = finding_id("C1", RecordRef("agreement", signed))
    coordinator = auth_headers(icd, ["coordinator"])
    try:
        async with running_app(create_app(settings)) as client:
            await produce(kafka_bootstrap, prefix, world.published)
            body: dict = {}
            for _ in range(300):  # the interval is 10 minutes: only the NOTIFY can wake it
                response = await client.get(f"/v1/findings/{wanted}", headers=coordinator)
                if response.status_code == 200:
                    body = response.json()
                    break
                await asyncio.sleep(0.1)
            assert body.get("status") == "open", body
            assert (body["ministry_id"], body["records"]) == (
                moe,
                [{"type": "agreement", "id": signed}],
            )
            fresh = (await client.get("/v1/freshness", headers=coordinator)).json()
            counts = {t["topic"]: t["events_applied"] for t in fresh["items"]}
            assert counts == {
                "registry.organization.v1": 3,
                "agreements.agreement.v1": 1,
                "engagements.engagement.v1": 0,
            }
            assert fresh["rebuilding"] is False
    finally:
        await delete_topics(kafka_bootstrap, prefix)
