"""The pool's waiting line: first come, first served (tansiq_common.pool), and the real pool with
it (PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.util.concurrency import greenlet_spawn
from sqlalchemy.util.queue import Empty
from tansiq_common.db import Database
from tansiq_common.pool import FairQueue


async def _take(queue: FairQueue[str], wait_s: float = 5.0) -> str:
    # The pool calls get() from SQLAlchemy's greenlet, as here.
    return await greenlet_spawn(queue.get, True, wait_s)


async def test_waiters_are_served_in_the_order_they_came_and_newcomers_wait_their_turn():
    queue: FairQueue[str] = FairQueue(4)
    first = asyncio.create_task(_take(queue))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(_take(queue))
    await asyncio.sleep(0.01)
    queue.put_nowait("a")
    # Handed to the first waiter: nothing is left for a newcomer to take meanwhile.
    with pytest.raises(Empty):
        queue.get_nowait()
    third = asyncio.create_task(_take(queue))
    await asyncio.sleep(0.01)
    queue.put_nowait("b")
    queue.put_nowait("c")
    assert await asyncio.gather(first, second, third) == ["a", "b", "c"]
    queue.put_nowait("d")  # no one waits: it stays in the queue
    assert queue.get_nowait() == "d"


async def test_a_waiter_gives_up_after_its_timeout_and_is_skipped_afterwards():
    queue: FairQueue[str] = FairQueue(4)
    with pytest.raises(Empty):
        await _take(queue, wait_s=0.05)
    later = asyncio.create_task(_take(queue))
    await asyncio.sleep(0.01)
    queue.put_nowait("a")
    assert await later == "a"


async def test_a_waiter_cancelled_after_being_handed_an_item_passes_it_on():
    queue: FairQueue[str] = FairQueue(4)
    first = asyncio.create_task(_take(queue))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(_take(queue))
    await asyncio.sleep(0.01)
    queue.put_nowait("a")  # handed to the first...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "a"  # not lost: the connection would have leaked


async def test_a_connection_returned_goes_to_the_oldest_waiter_not_back_to_its_holder(
    infra_db_url,
):
    db = Database(infra_db_url, pool_size=1, max_overflow=0, pool_timeout=5)
    order: list[str] = []
    try:
        holder = await db.engine.connect()
        await holder.execute(sa.text("SELECT 1"))

        async def waiter() -> None:
            async with db.engine.connect() as conn:
                order.append("waiter")
                await conn.execute(sa.text("SELECT 1"))

        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.05)
        await holder.close()
        # The holder asks again at once: it queues behind the waiter instead of taking it back.
        async with db.engine.connect() as again:
            order.append("holder again")
            await again.execute(sa.text("SELECT 1"))
        await waiting
        assert order == ["waiter", "holder again"]
        # A request that finds every connection busy for the whole timeout still gets the
        # pool's timeout (answered 503 by the service).
        short = Database(infra_db_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
        try:
            held = await short.engine.connect()
            await held.execute(sa.text("SELECT 1"))
            with pytest.raises(PoolTimeout):
                await short.engine.connect()
            await held.close()
        finally:
            await short.dispose()
    finally:
        await db.dispose()
