"""pytest plugin (loaded with `-p tansiq_common.testing.plugin`): session-wide test resources.

Every run gets its own id: its databases are `t_<run>_<service>` and its topics carry the prefix
`t.<run>.`, so two runs never see each other's data and a run can follow another at once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tansiq_common.testing import databases

RUN_ID = uuid.uuid4().hex[:8]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"{RUN_ID}{_worker()}"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("TANSIQ_PG_ADMIN_URL")
    if not url:
        pytest.fail(
            "TANSIQ_PG_ADMIN_URL is not set: run the tests with `make test`, which starts "
            "PostgreSQL and Kafka and exports their settings."
        )
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        pytest.fail("KAFKA_BOOTSTRAP_SERVERS is not set: run the tests with `make test`.")
    return servers


@pytest.fixture(scope="session")
def topic_prefix(run_id: str) -> str:
    return f"t.{run_id}."


MakeDatabase = Callable[[str, Path], Awaitable[str]]


@pytest.fixture(scope="session")
async def service_database(pg_admin_url: str, run_id: str) -> AsyncIterator[MakeDatabase]:
    """`await service_database(service, migrations_dir)` → URL of a migrated test database."""
    created: dict[str, str] = {}

    async def make(service: str, migrations_dir: Path) -> str:
        if service not in created:
            name = f"t_{run_id}_{service}"
            created[service] = await databases.create_database(pg_admin_url, name, migrations_dir)
        return created[service]

    yield make
    for service in created:
        await databases.drop_database(pg_admin_url, f"t_{run_id}_{service}")


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, behind an in-process httpx client."""
    async with app.router.lifespan_context(app):
        # A client sees the 500 answer, not the exception the server logs.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
