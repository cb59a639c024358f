"""Reporting's migrations go up to head and back down to base on an empty database, and the
tables the code declares are the ones the migrations create."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.engine import make_url
from tansiq_common import migrations
from tansiq_common.testing import databases
from tansiq_reporting import MIGRATIONS_DIR
from tansiq_reporting.database import Base
from tansiq_reporting.findings import tables as _findings  # noqa: F401 - declares its tables
from tansiq_reporting.indicators import tables as _indicators  # noqa: F401
from tansiq_reporting.readmodels import tables as _readmodels  # noqa: F401


async def _columns(url: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await conn.fetch(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'public'"
        )
        found: dict[str, set[str]] = {}
        for r in rows:
            found.setdefault(r["table_name"], set()).add(r["column_name"])
        return found
    finally:
        await conn.close()


async def test_upgrade_head_and_downgrade_base(pg_admin_url, run_id):
    name = f"t_{run_id}_reporting_migrations"
    url = await databases.create_database(pg_admin_url, name, MIGRATIONS_DIR)
    try:
        created = await _columns(url)
        for table in Base.metadata.sorted_tables:
            assert set(table.columns.keys()) == created.get(table.name), table.name
        await asyncio.to_thread(migrations.downgrade, MIGRATIONS_DIR, url, "base")
        assert set(await _columns(url)) <= {"alembic_version"}
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS_DIR, url, "head")
        assert "findings" in await _columns(url)
    finally:
        await databases.drop_database(pg_admin_url, name)
