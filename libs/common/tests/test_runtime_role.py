"""The audit log is append-only against the running service, for every service's migrations.

Connected as the runtime role (`tansiq_app`, which the local stack creates like CloudNativePG
does on Kubernetes), the service may work its tables but may only insert and read audit rows:
UPDATE, DELETE and TRUNCATE of `audit_log` fail, and so does dropping or disabling its triggers.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from tansiq_common import migrations
from tansiq_common.testing import databases

SERVICES = ("registry", "agreements", "engagements", "reporting")
RUNTIME_ROLE = "tansiq_app"

AUDIT_ROW = (
    "INSERT INTO audit_log (actor_sub, action, entity_type, entity_id)"
    " VALUES ('amal', 'created', 'thing', 't-1')"
)


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def runtime_url(admin_url: str, database: str) -> str:
    """The test database as the runtime role (TANSIQ_PG_RUNTIME_USER/PASSWORD, else the local
    stack's tansiq_app/tansiq_app)."""
    return (
        make_url(admin_url)
        .set(
            drivername="postgresql",
            username=os.environ.get("TANSIQ_PG_RUNTIME_USER", RUNTIME_ROLE),
            password=os.environ.get("TANSIQ_PG_RUNTIME_PASSWORD", RUNTIME_ROLE),
            database=database,
        )
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="module", params=SERVICES)
async def migrated(request, pg_admin_url, run_id) -> AsyncIterator[tuple[str, str, str]]:
    """(service, owner URL, runtime URL) of a freshly migrated database of each service."""
    service = request.param
    owner = await asyncpg.connect(_plain(pg_admin_url))
    try:
        exists = await owner.fetchval("select 1 from pg_roles where rolname = $1", RUNTIME_ROLE)
    finally:
        await owner.close()
    if not exists:
        pytest.fail(
            f"the runtime role {RUNTIME_ROLE} does not exist: `make test` (ops/local) creates it"
        )
    migrations_dir = importlib.import_module(f"tansiq_{service}").MIGRATIONS_DIR
    name = f"t_{run_id}_runtime_{service}"
    url = await databases.create_database(pg_admin_url, name, migrations_dir)
    try:
        yield service, url, runtime_url(pg_admin_url, name)
    finally:
        await databases.drop_database(pg_admin_url, name)


async def refused(conn: asyncpg.Connection, sql: str) -> str:
    """The error PostgreSQL answers `sql` with; fails the test if it succeeds."""
    try:
        async with conn.transaction():
            await conn.execute(sql)
    except asyncpg.PostgresError as exc:
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError(f"the runtime role was allowed to run: {sql}")


async def test_the_runtime_role_may_only_append_to_and_read_the_audit_log(migrated):
    _, _, runtime = migrated
    conn = await asyncpg.connect(runtime)
    try:
        await conn.execute(AUDIT_ROW)
        assert await conn.fetchval("select count(*) from audit_log") >= 1
        for sql in (
            "UPDATE audit_log SET actor_sub = 'someone else'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "DROP TRIGGER audit_log_no_update ON audit_log",
            "DROP TRIGGER audit_log_no_truncate ON audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "DROP TABLE audit_log",
            "DROP FUNCTION audit_log_append_only() CASCADE",
            "UPDATE alembic_version SET version_num = '0001'",
            "CREATE TABLE mine (id int)",
        ):
            error = await refused(conn, sql)
            assert "InsufficientPrivilege" in error or "must be owner" in error, (sql, error)
        assert await conn.fetchval("select count(*) from audit_log") >= 1
    finally:
        await conn.close()


async def test_the_runtime_role_works_the_service_tables(migrated):
    _, _, runtime = migrated
    conn = await asyncpg.connect(runtime)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic)"
                " VALUES (gen_random_uuid(), 't', 'a', 'x', '{}', 't.v1')"
            )
            await conn.execute("UPDATE outbox SET sent_at = now()")
            await conn.execute("DELETE FROM outbox")
            await conn.execute(
                'INSERT INTO processed_events (consumer, event_id, topic, partition, "offset")'
                " VALUES ('c', 'e', 't', 0, 0)"
            )
            await conn.execute("DELETE FROM processed_events")
            assert await conn.fetchval("select version_num from alembic_version")
    finally:
        await conn.close()


async def test_tables_of_later_migrations_are_granted_and_audit_triggers_restored(migrated):
    service, owner_url, runtime = migrated
    owner = await asyncpg.connect(_plain(owner_url))
    try:
        # A later migration adds a table; a mistake grants TRUNCATE on the audit log and drops
        # its TRUNCATE trigger.
        await owner.execute("CREATE TABLE later_read_model (id text primary key)")
        await owner.execute(f"GRANT TRUNCATE ON audit_log TO {RUNTIME_ROLE}")
        await owner.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        conn = await asyncpg.connect(runtime)
        try:
            await conn.execute("INSERT INTO later_read_model VALUES ('a')")  # default privileges
            await conn.execute("DELETE FROM later_read_model")
            # Even with the privilege, the trigger (once back) stops a TRUNCATE by a non-owner.
            migrations_dir = importlib.import_module(f"tansiq_{service}").MIGRATIONS_DIR
            await asyncio.to_thread(migrations.upgrade, migrations_dir, owner_url)
            error = await refused(conn, "TRUNCATE audit_log")
            assert "InsufficientPrivilege" in error, error
            await owner.execute(f"GRANT TRUNCATE ON audit_log TO {RUNTIME_ROLE}")
            error = await refused(conn, "TRUNCATE audit_log")
            assert "append-only (TRUNCATE refused)" in error, error
        finally:
            await conn.close()
        # The owner (the migration role) may still empty it; nobody may rewrite a row.
        await owner.execute(AUDIT_ROW)
        error = await refused(owner, "UPDATE audit_log SET actor_sub = 'x'")
        assert "append-only (UPDATE refused)" in error
        await owner.execute("TRUNCATE audit_log")
    finally:
        await owner.execute("DROP TABLE IF EXISTS later_read_model")
        await owner.execute(f"REVOKE TRUNCATE ON audit_log FROM {RUNTIME_ROLE}")
        await owner.close()


async def test_a_database_without_the_runtime_role_still_migrates(migrated, caplog):
    _, owner_url, _ = migrated
    engine = create_async_engine(owner_url, poolclass=sa.NullPool)
    try:
        with caplog.at_level(logging.INFO, logger="tansiq.migrations"):
            async with engine.begin() as conn:
                granted = await conn.run_sync(migrations.grant_runtime_role, "tansiq_no_such_role")
        assert granted is False
        assert "tansiq_no_such_role does not exist here: no grants made" in caplog.text
    finally:
        await engine.dispose()
