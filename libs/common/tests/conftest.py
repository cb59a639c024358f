"""Fixtures for the common library's tests: a scratch database with the infrastructure tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from tansiq_common.db import Database
from tansiq_common.schema import create_infrastructure
from tansiq_common.testing import databases


@pytest.fixture(scope="session")
async def infra_db_url(pg_admin_url: str, run_id: str) -> AsyncIterator[str]:
    name = f"t_{run_id}_common"
    await databases.drop_database(pg_admin_url, name)
    import asyncpg

    conn = await asyncpg.connect(databases._plain(pg_admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = databases.database_url(pg_admin_url, name)
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(create_infrastructure)
    await engine.dispose()
    yield url
    await databases.drop_database(pg_admin_url, name)


@pytest.fixture
async def infra_db(infra_db_url: str) -> AsyncIterator[Database]:
    db = Database(infra_db_url, pool_size=2, max_overflow=2)
    try:
        yield db
    finally:
        await db.dispose()
        await databases.truncate_all(infra_db_url)
