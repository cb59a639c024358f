"""Compatibility check: aiokafka against the local Kafka broker (ops/local/stack.sh).

Covers what the services rely on:
  1. topic creation with aiokafka.admin.AIOKafkaAdminClient (+ describe, delete)
  2. AIOKafkaProducer(enable_idempotence=True, acks="all") with keys and headers
  3. a consumer group with enable_auto_commit=False: consume part, commit, stop;
     a new consumer in the same group resumes exactly after the committed offset
  4. headers survive the round trip

Run (any venv that has aiokafka, e.g. the project's, or a throwaway one):
    python3 -m venv /tmp/kcheck && /tmp/kcheck/bin/pip install aiokafka==0.14.0
    /tmp/kcheck/bin/python ops/local/kafka/check_aiokafka.py [--bootstrap 127.0.0.1:9092]

It uses a uniquely named topic (prefix TOPIC_PREFIX + "tansiq-check.aiokafka.") and deletes it at
the end. Exit code 0 = all checks passed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

N_MESSAGES = 10
N_FIRST = 4  # consumed + committed by the first consumer


def ok(msg: str) -> None:
    print(f"PASS  {msg}", flush=True)


def fail(msg: str) -> None:
    print(f"FAIL  {msg}", flush=True)
    raise SystemExit(1)


async def main(bootstrap: str) -> None:
    print(
        f"aiokafka {aiokafka.__version__}, Python {sys.version.split()[0]}, bootstrap {bootstrap}"
    )
    prefix = os.environ.get("TOPIC_PREFIX", "")
    topic = f"{prefix}tansiq-check.aiokafka.{uuid.uuid4().hex[:8]}"
    group = f"{topic}.group"
    tp = TopicPartition(topic, 0)

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="tansiq-check-admin")
    await admin.start()
    try:
        # 1. admin: create + describe
        await admin.create_topics(
            [
                NewTopic(
                    name=topic,
                    num_partitions=3,
                    replication_factor=1,
                    topic_configs={"retention.ms": "-1"},
                )
            ]
        )
        topics = await admin.list_topics()
        if topic not in topics:
            fail(f"created topic {topic} not listed")
        desc = await admin.describe_topics([topic])
        parts = len(desc[0]["partitions"]) if isinstance(desc[0], dict) else None
        if parts not in (None, 3):
            fail(f"topic has {parts} partitions, wanted 3")
        ok(
            "AIOKafkaAdminClient.create_topics/list_topics/describe_topics "
            f"({topic}, partitions={parts})"
        )
        cluster = await admin.describe_cluster()
        ok(
            f"AIOKafkaAdminClient.describe_cluster: cluster_id={cluster.get('cluster_id')}, "
            f"brokers={len(cluster.get('brokers', []))}"
        )

        # 2. idempotent producer, acks=all, headers
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            acks="all",
            client_id="tansiq-check-producer",
        )
        await producer.start()
        try:
            for i in range(N_MESSAGES):
                md = await producer.send_and_wait(
                    topic,
                    value=f"event-{i}".encode(),
                    key=b"org-42",
                    partition=0,  # one partition so that offsets are predictable
                    headers=[("event_type", b"check.v1"), ("seq", str(i).encode()), ("empty", b"")],
                )
                if md.offset != i:
                    fail(f"message {i} got offset {md.offset}")
            # a keyed send through the default partitioner too
            await producer.send_and_wait(
                topic, value=b"keyed", key=b"k-1", headers=[("event_type", b"check.v1")]
            )
        finally:
            await producer.stop()
        ok(
            "AIOKafkaProducer(enable_idempotence=True, acks='all'): "
            f"{N_MESSAGES + 1} messages with headers"
        )

        # 3a. first consumer: read N_FIRST, commit, stop
        common = {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
        }
        c1 = AIOKafkaConsumer(**common, client_id="tansiq-check-c1")
        c1.subscribe([topic])
        await c1.start()
        try:
            first: list = []
            deadline = time.monotonic() + 30
            while len(first) < N_FIRST:
                if time.monotonic() > deadline:
                    fail(f"first consumer got {len(first)} of {N_FIRST} messages from partition 0")
                batch = await c1.getmany(tp, timeout_ms=1000, max_records=N_FIRST - len(first))
                first.extend(batch.get(tp, []))
            if [m.offset for m in first] != list(range(N_FIRST)):
                fail(f"first consumer offsets {[m.offset for m in first]}")
            h = dict(first[0].headers)
            if h.get("event_type") != b"check.v1" or h.get("seq") != b"0" or h.get("empty") != b"":
                fail(f"headers not preserved: {first[0].headers}")
            ok(
                f"consumer group {group}: consumed offsets 0..{N_FIRST - 1}, "
                f"headers preserved {first[0].headers}"
            )
            await c1.commit({tp: N_FIRST})
            committed = await c1.committed(tp)
            if committed != N_FIRST:
                fail(f"committed offset {committed}, wanted {N_FIRST}")
            ok(f"manual commit (enable_auto_commit=False): committed offset {committed}")
        finally:
            await c1.stop()

        # 3b. a new consumer in the same group resumes after the committed offset
        c2 = AIOKafkaConsumer(**common, client_id="tansiq-check-c2")
        c2.subscribe([topic])
        await c2.start()
        try:
            rest: list = []
            deadline = time.monotonic() + 30
            while len(rest) < N_MESSAGES - N_FIRST:
                if time.monotonic() > deadline:
                    fail(f"second consumer got {len(rest)} of {N_MESSAGES - N_FIRST} messages")
                batch = await c2.getmany(tp, timeout_ms=1000)
                rest.extend(batch.get(tp, []))
            offsets = [m.offset for m in rest]
            if offsets != list(range(N_FIRST, N_MESSAGES)):
                fail(
                    f"second consumer offsets {offsets}, wanted {list(range(N_FIRST, N_MESSAGES))}"
                )
            if [m.value for m in rest] != [
                f"event-{i}".encode() for i in range(N_FIRST, N_MESSAGES)
            ]:
                fail("second consumer values differ")
            await c2.commit()
            ok(
                f"restarted consumer resumed at offset {offsets[0]} (after the commit), "
                "no duplicates"
            )
        finally:
            await c2.stop()

        # 4. cleanup
        await admin.delete_topics([topic])
        ok(f"AIOKafkaAdminClient.delete_topics ({topic})")
        # (aiokafka's admin client cannot delete groups; the empty group expires with its offsets)
    finally:
        await admin.close()
    print("all aiokafka checks passed")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    args = ap.parse_args()
    asyncio.run(main(args.bootstrap))
