"""Test databases: created and migrated with Alembic once per run, emptied between tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tansiq_common import migrations


def _plain(url: str) -> str:
    """asyncpg wants postgresql://, SQLAlchemy URLs carry +asyncpg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(admin_url: str, name: str) -> str:
    return (
        make_url(admin_url)
        .set(drivername="postgresql+asyncpg", database=name)
        .render_as_string(hide_password=False)
    )


async def create_database(admin_url: str, name: str, migrations_dir: Path) -> str:
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = database_url(admin_url, name)
    # Alembic's env.py runs its own event loop; keep it off ours.
    await asyncio.to_thread(migrations.upgrade, migrations_dir, url)
    return url


async def drop_database(admin_url: str, name: str, attempts: int = 20) -> None:
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        for attempt in range(attempts):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except asyncpg.InsufficientPrivilegeError:
                # An autovacuum worker in the database, and a role that may not terminate it
                # (not a member of pg_signal_backend): it finishes in a moment.
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def truncate_all(url: str) -> None:
    """Empty every table but Alembic's, so each test starts from a migrated, empty database."""
    conn = await asyncpg.connect(_plain(url))
    try:
        tables = await conn.fetch(
            "select quote_ident(tablename) as t from pg_tables "
            "where schemaname = 'public' and tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(row["t"] for row in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
