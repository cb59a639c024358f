"""Crashes and outages: a relay killed with SIGKILL mid-batch, and Kafka down while writes commit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict

import pytest
from tansiq_common.events.consumer import ConsumerRunner, ConsumerSettings, running_consumer
from tansiq_common.events.relay import Relay, RelaySettings, running_relay
from tansiq_common.events.topics import TopicSpec, dlq_name, ensure_topics
from tansiq_common.testing.kafka import private_broker, read_topic
from tansiq_common.uow import UnitOfWork

from .conftest import Thing, headers_of, rename, scalar, thing_consumer, value_of


async def write_many(db, topic: str, aggregates: int, versions: int) -> int:
    """aggregates x versions events, 100 per transaction, each aggregate's versions in order."""
    all_things = [Thing(f"agg-{i}", topic) for i in range(aggregates)]
    pending = [t for _ in range(versions) for t in all_things]
    for start in range(0, len(pending), 100):
        async with UnitOfWork(db.sessionmaker) as uow:
            for thing in pending[start : start + 100]:
                uow.track(thing)
                thing.rename(f"{thing.id} v{thing.version + 1}")
    return len(pending)


async def sent(db) -> int:
    return int(await scalar(db, "select count(*) from outbox where sent_at is not null"))


async def wait_sent(db, count: int, timeout_s: float) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await sent(db) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {await sent(db)} of {count} sent within {timeout_s}s")


def start_relay_process(db, bootstrap: str, prefix: str, log_path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "tansiq_common.events.relay", "--service", "crash",
            "--database-url", db.url, "--bootstrap", bootstrap, "--topic-prefix", prefix,
        ],
        env={**os.environ, "RELAY_BATCH_SIZE": "25", "RELAY_STANDBY_INTERVAL_S": "0.2"},
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.mark.e2e
async def test_relay_killed_mid_batch_loses_nothing_and_effects_are_not_duplicated(
    read_model, kafka_bootstrap, topic_prefix, topic, tmp_path
):
    total = await write_many(read_model, topic, aggregates=50, versions=100)
    first = start_relay_process(read_model, kafka_bootstrap, topic_prefix, tmp_path / "relay.log")
    standby = None
    try:
        for _ in range(600):
            if await sent(read_model) > 0:
                break
            await asyncio.sleep(0.01)
        standby = start_relay_process(
            read_model, kafka_bootstrap, topic_prefix, tmp_path / "relay.log"
        )
        first.send_signal(signal.SIGKILL)  # the active relay dies mid-stream, without clean-up
        first.wait()
        sent_at_kill = await sent(read_model)
        await wait_sent(read_model, total, timeout_s=60)  # the standby took over
    finally:
        for process in (first, standby):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(15)
    assert 0 < sent_at_kill < total, "the kill did not land mid-stream"

    physical = f"{topic_prefix}{topic}"
    records = await read_topic(
        kafka_bootstrap,
        [physical],
        until=lambda r: len({headers_of(x)["ce_id"] for x in r}) >= total,
    )
    assert len({headers_of(r)["ce_id"] for r in records}) == total  # every event delivered
    runner = ConsumerRunner(
        spec=thing_consumer(topic, producer="/tansiq/crash"),  # the relay killed above
        service="test",
        sessionmaker=read_model.sessionmaker,
        bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        settings=ConsumerSettings(),
    )
    async with running_consumer(runner):
        for _ in range(600):
            if await scalar(read_model, "select count(*) from test_applications") >= total:
                break
            await asyncio.sleep(0.1)
    assert await scalar(read_model, "select count(*) from test_applications") == total
    assert await scalar(read_model, "select max(times) from test_applications") == 1
    assert await scalar(read_model, "select count(*) from test_things where version = 100") == 50
    print(f"\n{len(records)} records on Kafka for {total} events ({sent_at_kill} sent at kill)")


@pytest.mark.e2e
async def test_kafka_down_while_1000_writes_commit_then_all_arrive_in_order(
    infra_db, topic_prefix, topic
):
    with private_broker() as broker:
        await ensure_topics(
            broker.bootstrap,
            topic_prefix,
            [topic, dlq_name(topic)],
            specs=[TopicSpec(topic, 3)],
        )
        relay = Relay(
            service="outage",
            database_url=infra_db.url,
            bootstrap=broker.bootstrap,
            topic_prefix=topic_prefix,
            settings=RelaySettings(poll_interval_s=0.2, request_timeout_ms=3000, max_backoff_s=2.0),
        )
        async with running_relay(relay):
            await rename(infra_db, Thing("warm-up", topic), "before the outage")
            await wait_sent(infra_db, 1, timeout_s=30)
            await asyncio.to_thread(broker.stop)

            written = await write_many(infra_db, topic, aggregates=20, versions=50)
            assert written == 1000  # every write committed with Kafka down
            await asyncio.sleep(2)  # the relay is failing and backing off meanwhile
            assert await sent(infra_db) == 1

            await asyncio.to_thread(broker.start)
            await wait_sent(infra_db, 1001, timeout_s=120)
        records = await read_topic(
            broker.bootstrap,
            [f"{topic_prefix}{topic}"],
            until=lambda r: len({headers_of(x)["ce_id"] for x in r}) >= 1001,
            timeout_s=60,
        )
    first_seen: dict[str, list[int]] = defaultdict(list)
    ids = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        ce_id = headers_of(record)["ce_id"]
        if ce_id not in ids:
            ids.add(ce_id)
            first_seen[record.key.decode()].append(value_of(record)["version"])
    assert len(ids) == 1001
    for aggregate in (f"agg-{i}" for i in range(20)):
        assert first_seen[aggregate] == list(range(1, 51)), aggregate
