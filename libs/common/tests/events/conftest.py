"""A throw-away read model, a tiny fake aggregate and a per-test topic for the event backbone tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from tansiq_common.db import Database, new_metadata
from tansiq_common.events.consumer import ConsumerSpec, apply_if_newer
from tansiq_common.events.contracts import TopicContract
from tansiq_common.events.envelope import Envelope
from tansiq_common.events.topics import TopicSpec, dlq_name, ensure_topics
from tansiq_common.uow import UnitOfWork

metadata = new_metadata()
# What a consumer builds: the latest state of each thing, and how often each event was applied.
things = sa.Table(
    "test_things",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
applications = sa.Table(
    "test_applications",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("times", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class ThingRenamed:
    topic: str
    aggregate_id: str
    name: str
    version: int
    aggregate_type: str = "thing"
    event_type: str = "tansiq.test.thing.renamed.v1"

    def payload(self) -> dict[str, Any]:
        return {"id": self.aggregate_id, "name": self.name, "version": self.version}


@dataclass
class Thing:
    """A fake aggregate: records a past-tense event on each change."""

    id: str
    topic: str
    name: str = ""
    version: int = 0
    events: list[ThingRenamed] = field(default_factory=list)

    def rename(self, name: str) -> None:
        self.name, self.version = name, self.version + 1
        self.events.append(ThingRenamed(self.topic, self.id, name, self.version))


async def record_application(session: AsyncSession, envelope: Envelope) -> None:
    """Counts applications (a non-idempotent effect: duplicates would show) and upserts state."""
    stmt = sa.dialects.postgresql.insert(applications).values(event_id=envelope.id, times=1)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[applications.c.event_id], set_={"times": applications.c.times + 1}
        )
    )
    data = envelope.data
    await apply_if_newer(
        session, things, {"id": data["id"]}, data["version"], {"name": data["name"]}
    )


THING_RENAMED = "tansiq.test.thing.renamed.v1"


def thing_contracts(*topics: str, producer: str = "/tansiq/test") -> dict[str, TopicContract]:
    """A test topic's one producer is the service "test" (what `event()` and the tests' relays
    send as ce_source) unless a test says otherwise; it carries one event type."""
    return {topic: TopicContract(topic, producer, frozenset({THING_RENAMED})) for topic in topics}


def thing_consumer(
    topic: str, name: str = "test.things", producer: str = "/tansiq/test"
) -> ConsumerSpec:
    return ConsumerSpec(
        name=name,
        topics=[topic],
        handlers={THING_RENAMED: record_application},
        tables=["test_things", "test_applications"],
        contracts=thing_contracts(topic, producer=producer),
    )


@pytest.fixture
async def read_model(infra_db: Database) -> Database:
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return infra_db


@pytest.fixture
async def topic(kafka_bootstrap: str, topic_prefix: str) -> str:
    """A fresh 3-partition logical topic (and its DLQ) per test, so tests never share messages."""
    name = f"test.{uuid.uuid4().hex[:8]}.thing.v1"
    await ensure_topics(
        kafka_bootstrap,
        topic_prefix,
        [name, dlq_name(name)],
        specs=[TopicSpec(name, 3), TopicSpec(dlq_name(name), 1)],
    )
    return name


async def rename(db: Database, thing: Thing, name: str) -> None:
    async with UnitOfWork(db.sessionmaker) as uow:
        uow.track(thing)
        thing.rename(name)


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).scalar()


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def value_of(record: Any) -> dict[str, Any]:
    return json.loads(record.value)
