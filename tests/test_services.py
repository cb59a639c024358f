"""Each of the four services migrates its own database both ways, starts, and answers health."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import asyncpg
import httpx
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
async def test_four_processes_carry_a_registry_write_to_the_other_services(
    service_database, tmp_path, topic_prefix, kafka_topics, test_jwks_file, auth_headers
):
    """Real uvicorn processes, real Kafka: an organization created in the registry goes through
    its outbox and relay to Kafka, and each other service's consumer applies it to its
    organization directory."""
    env = {"TOPIC_PREFIX": topic_prefix, "AUTH_JWKS_FILE": str(test_jwks_file)}
    urls = {}
    for service in SERVICES:
        urls[service] = await service_database(service, Path(_package(service).MIGRATIONS_DIR))
        env[f"{service.upper()}_DATABASE_URL"] = urls[service]
    started = []
    try:
        started = list(
            await asyncio.gather(
                *(asyncio.to_thread(start_service, s, env, tmp_path) for s in SERVICES)
            )
        )
        registry = started[0]
        async with httpx.AsyncClient(base_url=registry.base_url) as client:
            created = await client.post(
                "/v1/organizations",
                json={
                    "kind": "ministry",
                    "names": {"en": "Ministry of Foreign Affairs"},
                    "country": "QA",
                },
                headers=auth_headers("cell", ["registry_admin"]),
            )
        assert created.status_code == 201, created.text
        org_id = created.json()["id"]
        for service in SERVICES[1:]:
            assert await _directory_has(urls[service], org_id), f"{service} never saw {org_id}"
        for process in started:
            # uvicorn re-raises the SIGTERM once it has shut down cleanly
            assert process.stop() in (0, -15), process.log()
            assert "Application shutdown complete" in process.log()
    finally:
        for process in started:
            process.stop()


async def _directory_has(url: str, org_id: str, within_s: float = 30) -> bool:
    conn = await asyncpg.connect(databases._plain(url))
    try:
        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            if await conn.fetchval("select 1 from organization_directory where id = $1", org_id):
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await conn.close()
