"""Through the real broker: an agreement's changes reach `agreements.agreement.v1` as CloudEvents
with the transition in ce_type and the full state as value; the demo data finds the registry's
organizations on the registry's topic."""

from __future__ import annotations

import json

import pytest
from tansiq_agreements.agreements.organizations import organization_lookup
from tansiq_agreements.app import create_app
from tansiq_agreements.demo import DEMO_AGREEMENTS, seed
from tansiq_common.db import Database
from tansiq_common.events.relay import Relay, running_relay
from tansiq_common.testing.kafka import read_topic
from tansiq_common.testing.plugin import running_app
from tansiq_registry.organizations.demo import seed as seed_registry

pytestmark = pytest.mark.e2e


def headers_of(record) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


async def test_an_agreement_change_reaches_the_topic_with_its_type_and_state(
    client, agreements_settings, registry_client, world, as_, body, kafka_topics, kafka_bootstrap
):
    settings = agreements_settings.model_copy(
        update={"run_relay": True, "kafka_bootstrap_servers": kafka_bootstrap}
    )
    app = create_app(settings)
    app.state.organization_lookup = organization_lookup(
        str(registry_client.base_url), timeout_s=2.0, client=registry_client
    )
    async with running_app(app) as relayed:
        created = await relayed.post("/v1/agreements", json=body(), headers=as_("qfsw", "editor"))
        assert created.status_code == 201, created.text
        agreement_id = created.json()["id"]
        signed = await relayed.post(
            f"/v1/agreements/{agreement_id}/actions/sign",
            json={"signed_on": "2024-01-10"},
            headers=as_("qfsw", "editor"),
        )
        assert signed.status_code == 200, signed.text
        topic = f"{settings.topic_prefix}agreements.agreement.v1"

        def mine(records):
            return [r for r in records if r.key == agreement_id.encode()]

        records = mine(
            await read_topic(kafka_bootstrap, [topic], until=lambda rs: len(mine(rs)) >= 2)
        )
    assert [headers_of(r)["ce_type"] for r in records] == [
        "tansiq.agreements.agreement.created.v1",
        "tansiq.agreements.agreement.signed.v1",
    ]
    last = headers_of(records[1])
    assert last["ce_source"] == "/tansiq/agreements"
    assert last["ce_subject"] == agreement_id
    assert last["content-type"].startswith("application/json")
    payload = json.loads(records[1].value)
    assert payload == {k: v for k, v in signed.json().items() if k != "allowed_actions"}
    assert (payload["status"], payload["version"], payload["signed_uncleared"]) == (
        "signed",
        2,
        True,
    )
    assert payload["owner_ministry_id"] == world["msdf"]
    assert payload["parties"][1] == {"org_id": world["unesco"], "role": "signatory"}


async def test_the_demo_data_reads_the_registrys_organizations_from_kafka(
    client, registry_db, agreements_db, agreements_settings, kafka_topics, kafka_bootstrap, sql
):
    db = Database(registry_db, pool_size=1, max_overflow=0)
    try:
        assert (await seed_registry(db, ["QA", "SY"]))["failed"] == 0
    finally:
        await db.dispose()
    settings = agreements_settings.model_copy(
        update={"kafka_bootstrap_servers": kafka_bootstrap, "demo_wait_s": 30.0}
    )
    relay = Relay(
        service="registry",
        database_url=registry_db,
        bootstrap=kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
    )
    agreements = Database(agreements_db, pool_size=2, max_overflow=0)
    try:
        async with running_relay(relay):
            report = await seed(agreements, settings)
    finally:
        await agreements.dispose()
    assert report["errors"] == []
    assert report["created"] + report["kept"] == len(DEMO_AGREEMENTS)
    assert await sql.fetchval("select count(*) from agreements") == len(DEMO_AGREEMENTS)
