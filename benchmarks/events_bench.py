"""Event backbone figures: outbox → Kafka throughput, and commit → consumer-applied latency.

Run against the local stack (it creates and drops its own database and topics):

    eval "$(bash ops/local/stack.sh env)"
    .venv/bin/python benchmarks/events_bench.py --events 20000 --rate 200 --seconds 20

Throughput: N events are committed to the outbox first, then one relay publishes them all
(acks=all, idempotent); events/s = N / time until the last row is marked sent.
Latency: writes at a steady rate, one event per transaction; the consumer's handler records
now() minus the commit time carried in the payload (same host clock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from tansiq_common.db import Database
from tansiq_common.events.consumer import (
    ConsumerRunner,
    ConsumerSettings,
    ConsumerSpec,
    running_consumer,
)
from tansiq_common.events.contracts import TopicContract
from tansiq_common.events.envelope import Envelope
from tansiq_common.events.outbox import OutboxMessage
from tansiq_common.events.relay import Relay, RelaySettings, running_relay
from tansiq_common.events.topics import TopicSpec, delete_topics, ensure_topics
from tansiq_common.schema import create_infrastructure
from tansiq_common.testing import databases
from tansiq_common.uow import UnitOfWork

TOPIC = "bench.thing.v1"
LATENCY_TOPIC = "bench.latency.v1"  # its own topic: no backlog from the throughput run


def message(i: int, topic: str = TOPIC) -> OutboxMessage:
    return OutboxMessage(
        topic=topic,
        aggregate_type="thing",
        aggregate_id=f"agg-{i % 500}",
        event_type="tansiq.bench.thing.changed.v1",
        payload={"id": f"agg-{i % 500}", "version": i, "committed_at": time.time()},
    )


async def count_sent(db: Database) -> int:
    async with db.engine.connect() as conn:
        result = await conn.execute(
            sa.text("select count(*) from outbox where sent_at is not null")
        )
        return int(result.scalar_one())


async def throughput(db: Database, bootstrap: str, prefix: str, events: int) -> float:
    for start in range(0, events, 1000):
        async with UnitOfWork(db.sessionmaker) as uow:
            for i in range(start, min(events, start + 1000)):
                uow.publish(message(i))
    relay = Relay("bench", db.url, bootstrap, prefix, RelaySettings(batch_size=1000))
    began = time.perf_counter()
    async with running_relay(relay):
        while await count_sent(db) < events:  # noqa: ASYNC110 - polling the table is the point
            await asyncio.sleep(0.01)
    return events / (time.perf_counter() - began)


async def latency(
    db: Database, bootstrap: str, prefix: str, rate: float, seconds: float
) -> list[float]:
    observed: list[float] = []

    async def record(session: AsyncSession, envelope: Envelope) -> None:
        observed.append(time.time() - float(envelope.data["committed_at"]))

    # The bench's relay publishes as /tansiq/bench: the consumer admits that producer only.
    contract = TopicContract(
        LATENCY_TOPIC, "/tansiq/bench", frozenset({"tansiq.bench.thing.changed.v1"})
    )
    spec = ConsumerSpec(
        name="bench.latency",
        topics=[LATENCY_TOPIC],
        handlers={"*": record},
        contracts={LATENCY_TOPIC: contract},
    )
    runner = ConsumerRunner(spec, "bench", db.sessionmaker, bootstrap, prefix, ConsumerSettings())
    relay = Relay("bench", db.url, bootstrap, prefix, RelaySettings())
    async with running_relay(relay), running_consumer(runner):
        await asyncio.sleep(3)  # let the consumer join its group first
        total = int(rate * seconds)
        began = time.perf_counter()
        for i in range(total):
            async with UnitOfWork(db.sessionmaker) as uow:
                uow.publish(message(i, LATENCY_TOPIC))
            # the commit time is taken before commit; the difference is below a millisecond
            delay = began + (i + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        deadline = time.perf_counter() + 30
        while len(observed) < total and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return observed


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else float("nan")
    )


async def main(args: Any) -> None:
    admin = os.environ["TANSIQ_PG_ADMIN_URL"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    run = uuid.uuid4().hex[:8]
    prefix, name = f"bench.{run}.", f"bench_{run}"
    url = databases.database_url(admin, name)
    await databases.drop_database(admin, name)
    import asyncpg

    conn = await asyncpg.connect(databases._plain(admin))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(create_infrastructure)
    await engine.dispose()
    await ensure_topics(
        bootstrap,
        prefix,
        [TOPIC, LATENCY_TOPIC],
        specs=[TopicSpec(TOPIC, 3), TopicSpec(LATENCY_TOPIC, 3)],
    )
    db = Database(url)
    try:
        rate = await throughput(db, bootstrap, prefix, args.events)
        print(f"outbox → Kafka: {args.events} events, {rate:,.0f} events/s (one relay, acks=all)")
        observed = await latency(db, bootstrap, prefix, args.rate, args.seconds)
        print(
            f"commit → consumer-applied at {args.rate:g} events/s for {args.seconds:g}s "
            f"({len(observed)} events): p50 {percentile(observed, 50) * 1000:.1f} ms, "
            f"p99 {percentile(observed, 99) * 1000:.1f} ms"
        )
    finally:
        await db.dispose()
        await databases.drop_database(admin, name)
        await delete_topics(bootstrap, prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    asyncio.run(main(parser.parse_args()))
