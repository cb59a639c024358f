from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app
from tansiq_registry import MIGRATIONS_DIR
from tansiq_registry.app import create_app
from tansiq_registry.settings import RegistrySettings

# The caller's organization in tokens; need not exist for registry_admin / viewer calls.
ADMIN_ORG = str(uuid.uuid4())


@pytest.fixture(scope="session")
async def registry_db(service_database) -> str:
    return await service_database("registry", MIGRATIONS_DIR)


@pytest.fixture(scope="session")
def registry_settings(registry_db, test_jwks_file, topic_prefix) -> RegistrySettings:
    return RegistrySettings(
        database_url=registry_db,
        auth_jwks_file=test_jwks_file,
        topic_prefix=topic_prefix,
        run_relay=False,
        run_consumers=False,
    )


@pytest.fixture(scope="session")
async def session_client(registry_settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(registry_settings)) as client:
        yield client


@pytest.fixture
async def client(session_client, registry_db) -> httpx.AsyncClient:
    await databases.truncate_all(registry_db)
    return session_client


@pytest.fixture
def admin(auth_headers) -> dict[str, str]:
    return auth_headers(ADMIN_ORG, ["registry_admin"], sub="admin-1")


@pytest.fixture
def viewer(auth_headers) -> dict[str, str]:
    return auth_headers(ADMIN_ORG, ["viewer"], sub="viewer-1")


@pytest.fixture
async def sql(registry_db) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test database, to check what was (not) written."""
    url = make_url(registry_db).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(url)
    yield conn
    await conn.close()


@pytest.fixture
def create(client, admin) -> Callable[..., Any]:
    async def make(
        kind: str = "ministry", en: str | None = None, ar: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {
            "kind": kind,
            "names": {"en": en or f"Org {uuid.uuid4().hex[:6]}", "ar": ar},
            **fields,
        }
        if kind in ("ministry", "directorate", "agency", "public_foundation", "centre"):
            body.setdefault("country", "QA")
        response = await client.post("/v1/organizations", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    return make
