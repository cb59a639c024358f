"""The driver reads' pool (tansiq_common.pool.DriverPool): first come, first served, bounded,
and it never keeps a connection that cannot serve the next request."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import make_url
from tansiq_common.pool import DriverPool
from tansiq_common.problems import ServiceUnavailable

SETTINGS = {"application_name": "tansiq-pool-test", "statement_timeout": "30000"}


@pytest.fixture
def dsn(infra_db_url: str) -> str:
    return make_url(infra_db_url).set(drivername="postgresql").render_as_string(False)


async def _pid(connection) -> int:
    pid: int = await connection.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_waiters_are_served_in_the_order_they_came(dsn: str) -> None:
    pool = DriverPool(dsn, size=1, timeout=5, server_settings=SETTINGS)
    try:
        held = await pool.acquire()
        served: list[str] = []

        async def read(name: str) -> None:
            connection = await pool.acquire()
            served.append(name)
            await asyncio.sleep(0)
            pool.release(connection)

        first = asyncio.create_task(read("first"))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(read("second"))
        await asyncio.sleep(0.01)
        pool.release(held)
        # Arrives after the release, before the woken waiters ran: it queues behind them.
        late = asyncio.create_task(read("late"))
        await asyncio.gather(first, second, late)
        assert served == ["first", "second", "late"]
        assert (pool.open_connections, pool.idle_connections) == (1, 1)
    finally:
        await pool.close()


async def test_a_connection_is_reused_and_no_more_than_size_are_opened(dsn: str) -> None:
    pool = DriverPool(dsn, size=2, timeout=5, server_settings=SETTINGS)
    try:
        a, b = await pool.acquire(), await pool.acquire()
        pids = {await _pid(a), await _pid(b)}
        pool.release(a)
        pool.release(b)
        for _ in range(5):
            connection = await pool.acquire()
            assert await _pid(connection) in pids
            assert await connection.fetchval("SHOW application_name") == "tansiq-pool-test"
            pool.release(connection)
        assert pool.open_connections == 2
    finally:
        await pool.close()


async def test_no_free_connection_within_the_timeout_is_503_and_loses_no_place(dsn: str) -> None:
    pool = DriverPool(dsn, size=1, timeout=0.2, server_settings=SETTINGS)
    try:
        held = await pool.acquire()
        with pytest.raises(ServiceUnavailable) as busy:
            await pool.acquire()
        assert (busy.value.status, busy.value.headers["Retry-After"]) == (503, "1")
        pool.release(held)
        again = await pool.acquire()
        assert again is held
        pool.release(again)
    finally:
        await pool.close()


async def test_a_cancelled_waiter_handed_a_connection_passes_it_on(dsn: str) -> None:
    pool = DriverPool(dsn, size=1, timeout=5, server_settings=SETTINGS)
    try:
        held = await pool.acquire()
        cancelled = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        after = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(held)  # handed to `cancelled`, which is cancelled before it runs
        cancelled.cancel()
        assert await asyncio.wait_for(after, 2) is held
        pool.release(held)
        assert (pool.open_connections, pool.idle_connections) == (1, 1)
    finally:
        await pool.close()


async def test_a_connection_left_in_a_transaction_or_discarded_is_closed_and_replaced(
    dsn: str,
) -> None:
    pool = DriverPool(dsn, size=1, timeout=5, server_settings=SETTINGS)
    try:
        connection = await pool.acquire()
        first = await _pid(connection)
        transaction = connection.transaction()
        await transaction.start()
        pool.release(connection)
        assert connection.is_closed()
        assert (pool.open_connections, pool.idle_connections) == (0, 0)
        connection = await pool.acquire()
        second = await _pid(connection)
        pool.release(connection, discard=True)  # e.g. a request cancelled mid-statement
        assert connection.is_closed()
        connection = await pool.acquire()
        assert len({first, second, await _pid(connection)}) == 3
        pool.release(connection)
    finally:
        await pool.close()


async def test_a_closed_place_goes_to_the_next_in_line(dsn: str) -> None:
    pool = DriverPool(dsn, size=1, timeout=5, server_settings=SETTINGS)
    try:
        held = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(held, discard=True)
        fresh = await asyncio.wait_for(waiting, 5)
        assert fresh is not held
        assert not fresh.is_closed()
        assert pool.open_connections == 1
        pool.release(fresh)
    finally:
        await pool.close()


async def test_a_database_that_cannot_be_reached_is_503_and_frees_the_place() -> None:
    pool = DriverPool(
        "postgresql://nobody:nothing@127.0.0.1:1/none",
        size=1,
        timeout=5,
        server_settings=SETTINGS,
        connect_timeout=2,
    )
    with pytest.raises(ServiceUnavailable) as down:
        await pool.acquire()
    assert down.value.status == 503
    assert pool.open_connections == 0


async def test_a_closed_pool_refuses_and_closes_what_comes_back(dsn: str) -> None:
    pool = DriverPool(dsn, size=2, timeout=5, server_settings=SETTINGS)
    idle, busy = await pool.acquire(), await pool.acquire()
    pool.release(idle)
    await pool.close()
    assert idle.is_closed()
    pool.release(busy)
    assert busy.is_closed()
    assert pool.open_connections == 0
    with pytest.raises(ServiceUnavailable):
        await pool.acquire()


async def test_a_waiter_handed_a_place_as_the_pool_closes_opens_nothing(dsn: str) -> None:
    pool = DriverPool(dsn, size=1, timeout=5, server_settings=SETTINGS)
    held = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    await pool.close()
    pool.release(held)  # closed, and its place handed to the waiter
    with pytest.raises(ServiceUnavailable):
        await asyncio.wait_for(waiting, 5)
    assert pool.open_connections == 0
