"""The outbox and the relay against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from tansiq_common.context import traceparent_var
from tansiq_common.events import metrics
from tansiq_common.events.relay import Relay, RelaySettings, running_relay
from tansiq_common.schema import outbox
from tansiq_common.testing.kafka import read_topic
from tansiq_common.uow import UnitOfWork

from .conftest import Thing, headers_of, rename, scalar, value_of

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def relay_for(db, bootstrap, prefix, service="test", **settings) -> Relay:
    return Relay(
        service=service,
        database_url=db.url,
        bootstrap=bootstrap,
        topic_prefix=prefix,
        settings=RelaySettings(poll_interval_s=0.2, standby_interval_s=0.2, **settings),
    )


async def wait_until_sent(db, count: int, timeout_s: float = 30) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if await scalar(db, "select count(*) from outbox where sent_at is not null") >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} outbox rows sent in {timeout_s}s")


async def test_commit_publishes_exactly_one_cloudevent_and_rollback_none(
    infra_db, kafka_bootstrap, topic_prefix, topic
):
    committed = Thing(f"thing-{uuid.uuid4()}", topic)
    traceparent_var.set(TRACEPARENT)
    await rename(infra_db, committed, "signed")
    rolled_back = Thing(f"thing-{uuid.uuid4()}", topic)
    with pytest.raises(RuntimeError):
        async with UnitOfWork(infra_db.sessionmaker) as uow:
            uow.track(rolled_back)
            rolled_back.rename("never")
            raise RuntimeError("the change failed")
    traceparent_var.set(None)
    async with infra_db.engine.connect() as conn:
        stored = (await conn.execute(sa.select(outbox))).one()

    async with running_relay(
        relay_for(infra_db, kafka_bootstrap, topic_prefix, service="registry")
    ):
        await wait_until_sent(infra_db, 1)
        records = await read_topic(
            kafka_bootstrap, [f"{topic_prefix}{topic}"], until=lambda r: len(r) >= 2, timeout_s=3
        )

    assert len(records) == 1
    record = records[0]
    headers = headers_of(record)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == str(stored.id)
    assert headers["ce_source"] == "/tansiq/registry"
    assert headers["ce_type"] == "tansiq.test.thing.renamed.v1"
    assert datetime.fromisoformat(headers["ce_time"]) == stored.created_at
    assert headers["ce_subject"] == committed.id
    assert headers["content-type"] == "application/json"
    assert headers["traceparent"] == TRACEPARENT
    assert record.key.decode() == committed.id
    assert value_of(record) == {"id": committed.id, "name": "signed", "version": 1}
    assert await scalar(infra_db, "select count(*) from outbox where sent_at is null") == 0


async def test_rows_committed_out_of_seq_order_are_all_sent(
    infra_db, kafka_bootstrap, topic_prefix, topic
):
    """A transaction that took its seq first but commits last is still published."""
    early, late = Thing("early", topic), Thing("late", topic)
    async with running_relay(relay_for(infra_db, kafka_bootstrap, topic_prefix)):
        slow = UnitOfWork(infra_db.sessionmaker)
        await slow.__aenter__()
        slow.track(early)
        early.rename("first seq")
        await slow.flush_side_effects()  # takes the lower seq, not yet committed
        await rename(infra_db, late, "second seq")  # commits and is sent first
        await wait_until_sent(infra_db, 1)
        await slow.__aexit__(None, None, None)
        await wait_until_sent(infra_db, 2)
        records = await read_topic(
            kafka_bootstrap, [f"{topic_prefix}{topic}"], until=lambda r: len(r) >= 2
        )
    assert sorted(r.key.decode() for r in records) == ["early", "late"]


async def test_one_active_relay_and_a_standby_takes_over(
    infra_db, kafka_bootstrap, topic_prefix, topic
):
    first = relay_for(infra_db, kafka_bootstrap, topic_prefix)
    second = relay_for(infra_db, kafka_bootstrap, topic_prefix)
    async with running_relay(second):
        stop_first = asyncio.Event()
        first_task = asyncio.create_task(first.run(stop_first))
        await rename(infra_db, Thing("a", topic), "one")
        await wait_until_sent(infra_db, 1)
        holders = await scalar(
            infra_db,
            "select count(*) from pg_locks where locktype = 'advisory' and granted"
            " and database = (select oid from pg_database where datname = current_database())",
        )
        assert holders == 1
        # Whichever relay is active, the other stands by; stop the first and keep writing.
        stop_first.set()
        await first_task
        await rename(infra_db, Thing("b", topic), "two")
        await wait_until_sent(infra_db, 2)
    records = await read_topic(
        kafka_bootstrap, [f"{topic_prefix}{topic}"], until=lambda r: len(r) >= 2
    )
    assert sorted(r.key.decode() for r in records) == ["a", "b"]


async def test_sent_rows_past_retention_are_pruned_and_metrics_reported(
    infra_db, kafka_bootstrap, topic_prefix, topic
):
    await rename(infra_db, Thing("old", topic), "one")
    await rename(infra_db, Thing("new", topic), "two")
    await rename(infra_db, Thing("pending", topic), "three")
    async with infra_db.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "update outbox set sent_at = now() - interval '8 days' where aggregateid = 'old';"
            )
        )
        await conn.execute(sa.text("update outbox set sent_at = now() where aggregateid = 'new'"))
    relay = relay_for(infra_db, kafka_bootstrap, topic_prefix, service="prune-test")
    import asyncpg
    from tansiq_common.events.relay import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(infra_db.url))
    try:
        assert await relay.prune(conn) == 1
        await relay._update_metrics(conn)
    finally:
        await conn.close()
    remaining = await scalar(
        infra_db, "select string_agg(aggregateid, ',' order by seq) from outbox"
    )
    assert remaining == "new,pending"
    assert metrics.OUTBOX_DEPTH.labels("prune-test")._value.get() == 1
    assert metrics.OUTBOX_OLDEST_UNSENT_AGE.labels("prune-test")._value.get() >= 0
