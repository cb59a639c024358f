"""Event authenticity on the real broker: only a topic's producer, only the catalogue's types.

A forged `registry.organization.v1` message that makes an organization a coordinating body at
version 2147483647 (the maximal int4) would pin the replica against every later real update;
it must be dead-lettered with the reason, the replica left as it was, and real updates applied.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from tansiq_common.auth.directory import (
    create_directory_table,
    directory_consumer,
    organization_directory,
)
from tansiq_common.events import catalog
from tansiq_common.events.consumer import ConsumerRunner, ConsumerSettings, running_consumer
from tansiq_common.events.contracts import (
    CONTRACTS,
    INGEST_TOPIC,
    ORGANIZATION_TOPIC,
    TopicContract,
    contract_for,
    integration_source,
)
from tansiq_common.events.envelope import source_of
from tansiq_common.events.replay import replay
from tansiq_common.events.topics import DOMAIN_TOPICS, dlq_name, ensure_topics
from tansiq_common.schema import processed_events
from tansiq_common.testing.kafka import read_topic

from .conftest import headers_of
from .test_consumer import produce

CREATED = "tansiq.registry.organization.created.v1"
UPDATED = "tansiq.registry.organization.updated.v1"
DESIGNATED = "tansiq.registry.organization.designated.v1"
MAX_INT4 = 2_147_483_647


# -- the contracts and the catalogues -------------------------------------------------------


def test_every_domain_topic_has_one_producer():
    domain = {name for name in DOMAIN_TOPICS if not name.endswith(".dlq")}
    assert domain == set(CONTRACTS)
    assert CONTRACTS[ORGANIZATION_TOPIC].producer == "/tansiq/registry"
    assert CONTRACTS["agreements.agreement.v1"].producer == "/tansiq/agreements"
    assert CONTRACTS["engagements.engagement.v1"].producer == "/tansiq/engagements"
    assert CONTRACTS["reporting.finding.v1"].producer == "/tansiq/reporting"
    assert CONTRACTS["reporting.indicator.v1"].producer == "/tansiq/reporting"


@pytest.mark.parametrize("service", catalog.SERVICES)
def test_the_contracts_list_exactly_what_each_service_catalogue_declares(service):
    declared = catalog.discover((service,))
    for doc in declared:
        contract = CONTRACTS.get(doc.topic)
        assert contract is not None, f"{service} documents {doc.topic}, which has no contract"
        if doc.topic != INGEST_TOPIC:  # integration jobs write it; engagements documents it
            assert contract.producer == source_of(service), (doc.topic, service)
    every = catalog.discover()
    for topic, contract in CONTRACTS.items():
        documented = {doc.type for doc in every if doc.topic == topic}
        assert contract.event_types == documented, (
            f"{topic}: the contract lists {sorted(contract.event_types)}, the catalogues "
            f"{sorted(documented)}; change both"
        )


def test_integration_jobs_are_the_producer_of_the_ingest_topic():
    ingest = TopicContract(INGEST_TOPIC, "/tansiq/integration/", frozenset({"t"}))
    assert ingest.violation(integration_source("calendar"), "t") is None
    assert ingest.violation("/tansiq/integration/travel-v2", "t") is None
    for source in ("/tansiq/engagements", "/tansiq/integration/", "/tansiq/integration/a/b"):
        assert ingest.violation(source, "t") is not None, source
    assert ingest.violation(integration_source("calendar"), "u") == (
        "unknown-type",
        f"ce_type 'u' is not an event type of {INGEST_TOPIC}",
    )
    with pytest.raises(ValueError, match="not a system name"):
        integration_source("../registry")


def test_a_consumer_of_a_topic_without_a_producer_does_not_start(read_model):
    spec = directory_consumer()
    stray = type(spec)(name="stray", topics=["somebody.elses.v1"], handlers={})
    with pytest.raises(LookupError, match="no producer is registered"):
        ConsumerRunner(stray, "agreements", read_model.sessionmaker, "127.0.0.1:9")
    assert contract_for(ORGANIZATION_TOPIC) is CONTRACTS[ORGANIZATION_TOPIC]


# -- forged messages on the broker -------------------------------------------------------------


def organization_message(
    org_id: str,
    version: int,
    *,
    source: str = "/tansiq/registry",
    event_type: str = UPDATED,
    designations: list[str] | None = None,
    name: str = "Ministry of Education",
):
    event_id = str(uuid.uuid4())
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("ce_subject", org_id.encode()),
        ("content-type", b"application/json"),
    ]
    value = {
        "id": org_id,
        "kind": "ministry",
        "names": {"en": name, "ar": "وزارة التربية"},
        "country": "QA",
        "scope": "national",
        "parent_id": None,
        "ministry_id": org_id,
        "designations": designations or [],
        "status": "active",
        "version": version,
    }
    return event_id, (org_id.encode(), json.dumps(value).encode(), headers)


@pytest.fixture
async def replica(read_model):
    async with read_model.engine.begin() as conn:
        await conn.run_sync(create_directory_table)
    return read_model


@pytest.fixture
async def organization_prefix(kafka_bootstrap, topic_prefix):
    """The real logical topic `registry.organization.v1` under a prefix of this test's own."""
    prefix = f"{topic_prefix}auth{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, prefix, [ORGANIZATION_TOPIC, dlq_name(ORGANIZATION_TOPIC)])
    return prefix


async def replica_row(db, org_id: str):
    async with db.engine.connect() as conn:
        t = organization_directory
        return (
            await conn.execute(
                sa.select(t.c.designations, t.c.version, t.c.status).where(t.c.id == org_id)
            )
        ).one()


async def wait_for_version(db, org_id: str, version: int, timeout_s: float = 30) -> None:
    seen = None
    for _ in range(int(timeout_s / 0.1)):
        async with db.engine.connect() as conn:
            t = organization_directory
            seen = (await conn.execute(sa.select(t.c.version).where(t.c.id == org_id))).scalar()
        if seen == version:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the replica has version {seen!r} of {org_id}, expected {version}")


async def test_forged_organization_events_are_dead_lettered_and_real_ones_still_apply(
    replica, kafka_bootstrap, organization_prefix
):
    physical = f"{organization_prefix}{ORGANIZATION_TOPIC}"
    org_id = str(uuid.uuid4())
    _, created = organization_message(org_id, 1, event_type=CREATED)
    forged = {
        "wrong-source": organization_message(
            org_id,
            MAX_INT4,
            source="/tansiq/agreements",
            event_type=DESIGNATED,
            designations=["coordinating_body"],
        ),
        "unknown-type": organization_message(
            org_id,
            MAX_INT4,
            event_type="tansiq.registry.organization.promoted.v1",
            designations=["coordinating_body"],
        ),
        "wrong-source (integration job)": organization_message(
            org_id,
            MAX_INT4,
            source=integration_source("calendar"),
            event_type=DESIGNATED,
            designations=["coordinating_body"],
        ),
    }
    # One key: one partition, in this order; fetched together, so the batch path sees them too.
    await produce(kafka_bootstrap, physical, [created, *(m for _, m in forged.values())])
    spec = directory_consumer()
    runner = ConsumerRunner(
        spec=spec,
        service="agreements",
        sessionmaker=replica.sessionmaker,
        bootstrap=kafka_bootstrap,
        topic_prefix=organization_prefix,
        settings=ConsumerSettings(initial_backoff_s=0.01, max_backoff_s=0.05),
    )
    async with running_consumer(runner):
        dead = await read_topic(
            kafka_bootstrap, [dlq_name(physical)], until=lambda r: len(r) >= len(forged)
        )
        await wait_for_version(replica, org_id, 1)
        # The replica is as the real event left it: no coordinating body, no pinned version.
        assert await replica_row(replica, org_id) == ([], 1, "active")

        # A real update later still applies.
        _, updated = organization_message(org_id, 2, name="Ministry of Education and Higher")
        await produce(kafka_bootstrap, physical, [updated])
        await wait_for_version(replica, org_id, 2)
    assert await replica_row(replica, org_id) == ([], 2, "active")

    assert len(dead) == len(forged)
    by_id = {headers_of(record)["ce_id"]: headers_of(record) for record in dead}
    for label, (event_id, _) in forged.items():
        headers = by_id[event_id]
        assert headers["dlq_reason"] == label.split(" ")[0], label
        assert headers["dlq_source_topic"] == physical
        assert headers["dlq_consumer"] == "organizations"
        assert ORGANIZATION_TOPIC in headers["dlq_error"]
    assert (
        "'/tansiq/agreements' is not the producer" in by_id[forged["wrong-source"][0]]["dlq_error"]
    )
    # Never recorded as applied: a redelivery would be checked again, not skipped as done.
    async with replica.engine.connect() as conn:
        recorded = set((await conn.execute(sa.select(processed_events.c.event_id))).scalars().all())
    assert not recorded & {event_id for event_id, _ in forged.values()}

    # A replay reads the forged messages again and refuses them again.
    result = await replay(
        spec,
        service="agreements",
        sessionmaker=replica.sessionmaker,
        bootstrap=kafka_bootstrap,
        topic_prefix=organization_prefix,
        settings=ConsumerSettings(initial_backoff_s=0.01, max_backoff_s=0.05),
    )
    assert result.outcomes == {"applied": 2, "dead-lettered": len(forged)}
    assert await replica_row(replica, org_id) == ([], 2, "active")
