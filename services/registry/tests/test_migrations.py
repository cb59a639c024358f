"""The registry's migrations go up to head and back down to base on an empty database."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.engine import make_url
from tansiq_common import migrations
from tansiq_common.testing import databases
from tansiq_registry import MIGRATIONS_DIR


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_head_and_downgrade_base(pg_admin_url, run_id):
    name = f"t_{run_id}_registry_migrations"
    url = await databases.create_database(pg_admin_url, name, MIGRATIONS_DIR)
    try:
        assert {
            "organizations",
            "organization_contacts",
            "organization_moves",
            "outbox",
        } <= await _tables(url)
        await asyncio.to_thread(migrations.downgrade, MIGRATIONS_DIR, url, "base")
        assert await _tables(url) <= {"alembic_version"}
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS_DIR, url, "head")
        assert "organizations" in await _tables(url)
    finally:
        await databases.drop_database(pg_admin_url, name)
