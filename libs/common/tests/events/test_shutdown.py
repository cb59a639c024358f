"""Graceful shutdown and rebalance on the real broker and database: in-flight work is finished,
offsets are committed on revoke, and every event is applied exactly once across the group."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack, suppress

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tansiq_common.background import Stopped, running_in_background, unless_stopped
from tansiq_common.events import metrics
from tansiq_common.events.consumer import ConsumerSpec, running_consumer

from .conftest import record_application, scalar, thing_contracts
from .test_consumer import event, produce, runner_for, wait_for

NAME = "test.rebalanced"


def tagged_spec(topic: str, seen: Counter[int]) -> ConsumerSpec:
    """The same consumer (one group) as another process would run it; ``seen`` counts the
    partitions this instance applied events from."""

    async def apply(session, envelope):
        await asyncio.sleep(0.01)  # slow enough that a rebalance lands mid-stream
        await record_application(session, envelope)
        seen[envelope.partition] += 1

    return ConsumerSpec(
        name=NAME,
        topics=[topic],
        handlers={"tansiq.test.thing.renamed.v1": apply},
        contracts=thing_contracts(topic),
    )


async def committed_and_end_offsets(bootstrap: str, group: str, topic: str):
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = {
            tp: meta.offset
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
            if tp.topic == topic
        }
        partitions = [TopicPartition(topic, p) for p in range(3)]  # the `topic` fixture's
        return committed, await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()


async def wait_until(condition, what: str, timeout_s: float = 20) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout_s}s: {what}")


async def produce_paced(bootstrap: str, topic: str, messages, pause_s: float) -> None:
    for message in messages:
        await produce(bootstrap, topic, [message])
        await asyncio.sleep(pause_s)


async def test_a_member_stopping_mid_stream_hands_over_without_loss_or_redelivery(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    physical = f"{topic_prefix}{topic}"
    messages = [event(f"k-{i}", 1, f"name {i}") for i in range(240)]
    first, during, tail = messages[:120], messages[120:210], messages[210:]
    seen_a: Counter[int] = Counter()
    seen_b: Counter[int] = Counter()
    runner_a, runner_b = (
        runner_for(
            read_model, tagged_spec(topic, seen), kafka_bootstrap, topic_prefix, max_records=10
        )
        for seen in (seen_a, seen_b)
    )
    assert runner_a.group_id == runner_b.group_id
    applied = "select count(*) from test_applications"

    async def a_applied_some() -> bool:
        return int(await scalar(read_model, applied)) >= 20

    await produce(kafka_bootstrap, physical, first)
    async with AsyncExitStack() as stack:
        a = AsyncExitStack()
        stack.push_async_callback(a.aclose)  # on failure; a no-op once A was stopped below
        await a.enter_async_context(running_consumer(runner_a))
        await wait_until(a_applied_some, "A applies some events")
        assert seen_b.total() == 0

        # B joins the group (a rebalance) while events keep arriving.
        await stack.enter_async_context(running_consumer(runner_b))
        producing = asyncio.create_task(produce_paced(kafka_bootstrap, physical, during, 0.03))
        stack.push_async_callback(_finish, producing)

        async def b_applied_some() -> bool:
            return seen_b.total() > 0

        await wait_until(b_applied_some, "B is assigned partitions and applies events")
        await a.aclose()  # A stops gracefully: finishes its batch, commits, leaves the group
        applied_by_a = seen_a.total()
        assert 0 < applied_by_a < len(messages)
        await producing
        await produce(kafka_bootstrap, physical, tail)
        await wait_for(read_model, applied, len(messages))
        assert seen_a.total() == applied_by_a  # nothing after A stopped
        assert set(seen_b) == {0, 1, 2}  # B took over A's partitions too
    # Both stopped: every event applied once, nothing redelivered, every offset committed.
    assert await scalar(read_model, "select max(times) from test_applications") == 1
    assert await scalar(
        read_model, "select count(*) from processed_events where consumer = :name", name=NAME
    ) == len(messages)
    assert seen_a.total() + seen_b.total() == len(messages)
    duplicates = metrics.CONSUMER_DUPLICATES.labels("test", NAME, physical)._value.get()
    assert duplicates == 0  # revoked partitions were committed, so none was read twice
    committed, end = await committed_and_end_offsets(kafka_bootstrap, runner_a.group_id, physical)
    assert committed == end
    assert sum(end.values()) == len(messages)


async def _finish(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def test_a_consumer_of_a_missing_topic_stops_on_request(
    read_model, kafka_bootstrap, topic_prefix
):
    # aiokafka's start() waits for a missing topic to appear, past any timeout of its own.
    missing = "test.never.created.v1"
    spec = ConsumerSpec(
        name="test.missing", topics=[missing], handlers={}, contracts=thing_contracts(missing)
    )
    runner = runner_for(read_model, spec, kafka_bootstrap, topic_prefix)
    async with running_in_background(runner.run(), runner.stop, name="missing", grace_s=8) as task:
        await asyncio.sleep(1)  # well into start()
        assert not task.done()
    assert not task.cancelled()  # it finished by itself within the grace period
    assert task.exception() is None


async def test_unless_stopped_returns_the_result_or_cancels_on_stop():
    stop = asyncio.Event()
    assert await unless_stopped(stop, asyncio.sleep(0, result="done")) == "done"

    never = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(stop.set)
    with pytest.raises(Stopped):
        await unless_stopped(stop, never)
    assert never.cancelled()
