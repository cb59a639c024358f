"""Each of the four services migrates its own database both ways, starts, and answers health."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import asyncpg
import pytest
from tansiq_common import migrations
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app
from tansiq_common.testing.processes import start_service

SERVICES = ["registry", "agreements", "engagements", "reporting"]


def _package(service: str):
    return importlib.import_module(f"tansiq_{service}")


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(databases._plain(url))
    try:
        rows = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await conn.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_go_up_and_down_on_an_empty_database(service, pg_admin_url, run_id):
    name = f"t_{run_id}_updown_{service}"
    migrations_dir = Path(_package(service).MIGRATIONS_DIR)
    url = await databases.create_database(pg_admin_url, name, migrations_dir)
    try:
        assert {"outbox", "processed_events", "idempotency_keys", "audit_log"} <= await _tables(url)
        await asyncio.to_thread(migrations.downgrade, migrations_dir, url, "base")
        assert await _tables(url) == {"alembic_version"}
        await asyncio.to_thread(migrations.upgrade, migrations_dir, url, "head")
        assert "outbox" in await _tables(url)
    finally:
        await databases.drop_database(pg_admin_url, name)


@pytest.mark.parametrize("service", SERVICES)
async def test_service_answers_health_in_process(service, service_database):
    package = _package(service)
    url = await service_database(service, Path(package.MIGRATIONS_DIR))
    settings_module = importlib.import_module(f"tansiq_{service}.settings")
    settings_class = next(
        value
        for key, value in vars(settings_module).items()
        if key.endswith("Settings") and key != "ServiceSettings"
    )
    settings = settings_class(database_url=url, run_relay=False, run_consumers=False)
    app = importlib.import_module(f"tansiq_{service}.app").create_app(settings)
    async with running_app(app) as client:
        assert (await client.get("/health/live")).json() == {"status": "ok"}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        openapi = (await client.get("/openapi.json")).json()
        assert openapi["openapi"].startswith("3.1")
        assert "Problem" in openapi["components"]["schemas"]


@pytest.mark.e2e
async def test_all_four_services_run_as_real_processes(service_database, tmp_path, topic_prefix):
    env = {"TOPIC_PREFIX": topic_prefix}
    for service in SERVICES:
        url = await service_database(service, Path(_package(service).MIGRATIONS_DIR))
        env[f"{service.upper()}_DATABASE_URL"] = url
    started = []
    try:
        started = list(
            await asyncio.gather(
                *(asyncio.to_thread(start_service, s, env, tmp_path) for s in SERVICES)
            )
        )
        for process in started:
            assert process.process.poll() is None
        for process in started:
            # uvicorn re-raises the SIGTERM once it has shut down cleanly
            assert process.stop() in (0, -15), process.log()
            assert "Application shutdown complete" in process.log()
    finally:
        for process in started:
            process.stop()
