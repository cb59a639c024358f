"""Rebuild a consumer's read models from the beginning of its topics.

The consumer's tables and its processed-events rows are emptied in one transaction, then every
message of its topics, from offset 0 up to the end offsets seen at the start, goes through the same
``ConsumerRunner.process_batch`` as live traffic, a fetch at a time, read without a consumer group
(so the service's group and its committed offsets are untouched). Events that arrive meanwhile are
applied by the live group as usual; version-aware upserts and the processed-events table make the
order of the two irrelevant, so the end state is the one a consumer reading from the start would
reach.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tansiq_common.events.consumer import ConsumerRunner, ConsumerSettings, ConsumerSpec
from tansiq_common.events.kafka import KafkaSecurity, group_consumer
from tansiq_common.schema import processed_events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayResult:
    messages: int
    outcomes: dict[str, int]


async def reset_read_models(
    sessionmaker: async_sessionmaker[AsyncSession], spec: ConsumerSpec
) -> None:
    async with sessionmaker() as session, session.begin():
        # DELETE, not TRUNCATE: the runtime role has no TRUNCATE privilege, and live readers
        # and the live consumer are not locked out meanwhile.
        for table in spec.tables:
            await session.execute(sa.text(f"DELETE FROM {_quoted(table)}"))  # noqa: S608
        await session.execute(
            sa.delete(processed_events).where(processed_events.c.consumer == spec.name)
        )


def _quoted(table: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in table.split("."))


async def replay(
    spec: ConsumerSpec,
    *,
    service: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    bootstrap: str,
    topic_prefix: str = "",
    settings: ConsumerSettings | None = None,
    security: KafkaSecurity | None = None,
) -> ReplayResult:
    security = security if security is not None else KafkaSecurity.from_env()
    runner = ConsumerRunner(
        spec=spec,
        service=service,
        sessionmaker=sessionmaker,
        bootstrap=bootstrap,
        topic_prefix=topic_prefix,
        settings=settings or ConsumerSettings(),
        security=security,
    )
    await reset_read_models(sessionmaker, spec)
    consumer = group_consumer(
        bootstrap,
        security=security,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id=f"tansiq-replay-{spec.name}",
    )
    await consumer.start()
    outcomes: Counter[str] = Counter()
    try:
        partitions = []
        for topic in runner.topics:
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise LookupError(f"topic {topic} does not exist")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(
                *remaining,
                timeout_ms=1000,
                max_records=spec.max_records or runner.settings.max_records,
            )
            # What arrived after the start is the live group's; the rest is applied as the live
            # loop applies a fetch (with a batch handler, every partition's records at once).
            owned = [[r for r in records if r.offset < ends[tp]] for tp, records in batch.items()]
            if spec.batch_handler is not None:
                owned = [[r for records in owned for r in records]]
            for records in owned:
                if records:
                    outcomes.update(await runner.process_batch(records))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
        await runner._close_dlq()
    total = sum(outcomes.values())
    log.info("replayed %s: %d messages %s", spec.name, total, dict(outcomes))
    return ReplayResult(messages=total, outcomes=dict(outcomes))
