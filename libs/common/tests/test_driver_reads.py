"""Reads on the driver's connection (tansiq_common.db.DriverReads) keep what the engine's own
statements guarantee, and the pool keeps the connections it opened."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from tansiq_common.db import Database, ValueNotStorable
from tansiq_common.problems import ServiceUnavailable


@pytest.fixture
async def one_connection(infra_db_url: str):
    db = Database(infra_db_url, pool_size=1, max_overflow=0)
    try:
        yield db
    finally:
        await db.dispose()


async def test_a_read_answers_asyncpg_records_without_a_transaction(infra_db) -> None:
    reads = infra_db.reads
    row = await reads.fetchrow("SELECT $1::int + 1 AS n, txid_current_if_assigned() AS tx", 41)
    assert isinstance(row, asyncpg.Record)
    assert (row["n"], row["tx"]) == (42, None)
    assert [r["n"] for r in await reads.fetch("SELECT generate_series(1, $1) AS n", 3)] == [1, 2, 3]
    assert await reads.fetchrow("SELECT 1 WHERE false") is None


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("SELECT $1::timestamptz", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))),
        ("SELECT $1::bigint", 2**63),
        ("SELECT $1::text", "\x00"),
    ],
)
async def test_a_value_the_database_cannot_hold_is_value_not_storable(infra_db, sql, value):
    reads = infra_db.reads
    with pytest.raises(ValueNotStorable):
        await reads.fetchrow(sql, value)


async def test_a_wrong_type_bound_by_the_code_stays_an_error(infra_db) -> None:
    with pytest.raises(asyncpg.DataError):
        await infra_db.reads.fetchrow("SELECT $1::int", "x")


async def test_a_lost_connection_is_503_and_the_next_read_gets_a_new_one(one_connection) -> None:
    reads = one_connection.reads
    pid = (await reads.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"]
    killer = await asyncpg.connect(
        one_connection.engine.url.set(drivername="postgresql").render_as_string(False)
    )
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid) is True
    finally:
        await killer.close()
    await asyncio.sleep(0.2)
    with pytest.raises(ServiceUnavailable) as lost:
        await reads.fetchrow("SELECT pg_backend_pid() AS pid")
    assert lost.value.status == 503
    assert lost.value.headers["Retry-After"] == "1"
    again = await reads.fetchrow("SELECT pg_backend_pid() AS pid")
    assert again["pid"] != pid


async def test_the_engine_pool_keeps_every_connection_it_opened(infra_db_url: str) -> None:
    """Connections beyond `pool_size` (up to `max_overflow` more) stay open for the next
    requests instead of being closed on return: no connect per request under load."""
    db = Database(infra_db_url, pool_size=1, max_overflow=2)
    try:
        started = asyncio.Event()

        async def hold() -> None:
            async with db.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
                await started.wait()

        holders = [asyncio.create_task(hold()) for _ in range(3)]
        await asyncio.sleep(0.3)
        assert db.engine.pool.checkedout() == 3
        started.set()
        await asyncio.gather(*holders)
        assert db.engine.pool.checkedin() == 3
    finally:
        await db.dispose()


async def test_json_comes_back_decoded_as_through_the_engine(infra_db) -> None:
    sql = "SELECT $1::jsonb AS b, $2::json AS j"
    args = ('{"name_ar": "وزارة", "n": [1, 2]}', '{"a": null}')
    row = await infra_db.reads.fetchrow(sql, *args)
    async with infra_db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        through_engine = await raw.driver_connection.fetchrow(sql, *args)
    assert (row["b"], row["j"]) == ({"name_ar": "وزارة", "n": [1, 2]}, {"a": None})
    assert dict(row) == dict(through_engine)


async def test_a_search_is_planned_for_its_values_and_the_connection_reset_after(
    one_connection,
) -> None:
    """`plan_per_call`: the statement runs with a custom plan, and the connection (the pool's
    only one here) goes back with the default, even when the statement fails."""
    reads = one_connection.reads
    mode = "SELECT current_setting('plan_cache_mode') AS mode, pg_backend_pid() AS pid"
    searched = await reads.fetch(mode, plan_per_call=True)
    after = await reads.fetch(mode)
    assert searched[0]["mode"] == "force_custom_plan"
    assert (after[0]["mode"], after[0]["pid"]) == ("auto", searched[0]["pid"])
    with pytest.raises(asyncpg.DataError):
        await reads.fetch("SELECT $1::int", "x", plan_per_call=True)
    again = await reads.fetch(mode)
    assert (again[0]["mode"], again[0]["pid"]) == ("auto", searched[0]["pid"])
