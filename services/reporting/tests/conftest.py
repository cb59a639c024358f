from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from tansiq_common.db import Database
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app
from tansiq_reporting import MIGRATIONS_DIR
from tansiq_reporting.app import create_app
from tansiq_reporting.settings import ReportingSettings

from .world import World


@pytest.fixture(scope="session")
async def reporting_db(service_database) -> str:
    return await service_database("reporting", MIGRATIONS_DIR)


@pytest.fixture(scope="session")
def reporting_settings(reporting_db, test_jwks_file, topic_prefix, kafka_bootstrap):
    return ReportingSettings(
        database_url=reporting_db,
        auth_jwks_file=test_jwks_file,
        topic_prefix=topic_prefix,
        kafka_bootstrap_servers=kafka_bootstrap,
        run_relay=False,
        run_consumers=False,
    )


@pytest.fixture(scope="session")
async def session_db(reporting_db) -> AsyncIterator[Database]:
    db = Database(reporting_db, pool_size=4, max_overflow=4)
    yield db
    await db.dispose()


@pytest.fixture
async def db(session_db, reporting_db) -> Database:
    await databases.truncate_all(reporting_db)
    return session_db


@pytest.fixture(scope="session")
async def session_client(reporting_settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(reporting_settings)
    async with running_app(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def client(session_client, db) -> httpx.AsyncClient:
    session_client.app.state.organization_directory.forget()  # type: ignore[attr-defined]
    return session_client


@pytest.fixture
async def sql(reporting_db) -> AsyncIterator[asyncpg.Connection]:
    url = make_url(reporting_db).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(url)
    yield conn
    await conn.close()


NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def world(db) -> World:
    """Events shaped like the other services' (full state, version), applied through the
    reporting consumer's handlers in a transaction each, at a clock the test moves."""
    return World(db, now=NOW)


@pytest.fixture
def new_id() -> Callable[[], str]:
    return lambda: str(uuid.uuid4())


def headers_for(auth_headers, org: str, *roles: str, sub: str = "tester") -> dict[str, Any]:
    return auth_headers(org, list(roles), sub=sub)


@pytest.fixture
async def qa(world):
    """Qatar: the coordinating body (ICD under MOFA), two ministries, a directorate, partners."""
    mofa = await world.org("Ministry of Foreign Affairs", acronym="MOFA")
    icd = await world.org(
        "International Cooperation Department",
        kind="directorate",
        parent=mofa,
        designations=("coordinating_body",),
    )
    moe = await world.org("Ministry of Education", acronym="MOE", ar="وزارة التربية")
    moph = await world.org("Ministry of Public Health", acronym="MOPH")
    moe_dir = await world.org("Curriculum Directorate", kind="directorate", parent=moe)
    unesco = await world.org("UNESCO", kind="un_entity", country=None, acronym="UNESCO")
    unicef = await world.org("UNICEF", kind="un_entity", country=None, acronym="UNICEF")
    return {
        "mofa": mofa,
        "icd": icd,
        "moe": moe,
        "moph": moph,
        "moe_dir": moe_dir,
        "unesco": unesco,
        "unicef": unicef,
    }
